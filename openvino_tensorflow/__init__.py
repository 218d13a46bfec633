"""openvino_tensorflow: OpenVINO integration with TensorFlow 2.3's Python API, served by ovtf.

    import openvino_tensorflow        # as before: every TF graph built from now on is accelerated
    openvino_tensorflow.set_backend("CPU")

Programs written for OVTF 2.3 keep working unchanged. This module is an alias table: OVTF's
calls are ovtf's calls (most under the same name), and each `OPENVINO_TF_*` environment
variable names an ovtf setting (`VARIABLES`), parsed and validated by `ovtf.config` exactly
as its `OVTF_*` twin is. Where OVTF behaved differently and following it does no harm, a call
here does what OVTF did (bytes from `get_disabled_ops()`, unknown op names accepted by
`set_disabled_ops()`, the `GPU_FP16` backend, CUDA devices hidden while enabled); the rest
is in README.md, "Migrating from openvino_tensorflow". Everything ovtf itself offers
(`ovtf.stats()`, `ovtf.set_precision()`, ...) is available next to it.

Precedence, weakest first: ovtf's `OVTF_*` variables (read by `import ovtf`), then the
`OPENVINO_TF_*` ones (read when this module is imported, so for the same knob the
OPENVINO_TF_ one wins), then calls, of either API, made afterwards. As in OVTF, three
variables are read again later: `OPENVINO_TF_DISABLED_OPS` by `get_disabled_ops()`,
`OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS` and `OPENVINO_TF_DISABLE` by `enable()`.
A bad value raises ValueError naming the variable, the value and what is accepted; a
variable OVTF had but ovtf has no use for is reported once through the `ovtf` logger.
"""

from __future__ import annotations

import logging
import os

import ovtf
from openvino_tensorflow.offline import (  # noqa: F401  (OVTF's offline helpers, re-exported)
    InvalidArgument, convert_variables_to_constants_with_openvino_tf2, export_ir,
    optimize_graph_with_openvino_tf1, optimize_graph_with_openvino_tf2, prepare_model,
    prepare_model_with_session)
from ovtf import config
from ovtf.backends.openvino import REMOVED_DEVICES

__all__ = [
    "enable", "disable", "is_enabled", "list_backends", "set_backend", "get_backend",
    "start_logging_placement", "stop_logging_placement", "is_logging_placement",
    "__version__", "cxx11_abi_flag", "set_disabled_ops", "get_disabled_ops",
    "enable_dynamic_fallback", "disable_dynamic_fallback", "export_ir",
]

logger = logging.getLogger("ovtf.openvino_tensorflow")

API_VERSION = "2.3.0"  # the OVTF release whose API this module offers
# OVTF's half-precision iGPU backend: ovtf's GPU backend with f16 inference precision.
GPU_FP16 = "GPU_FP16"


# What OVTF's API can say and ovtf's settings cannot hold; nothing here copies a setting.
_state = {
    "precision_before_gpu_fp16": None,   # set while GPU_FP16 is in force: restored after it
    "unknown_disabled_ops": frozenset(),  # names TF does not know; OVTF kept them in the list
    "min_cluster_size_before_deassign": None,  # set while OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS=1
}


# --- OVTF calls that are ovtf's, unchanged -------------------------------------------------

is_enabled = ovtf.is_enabled
list_backends = ovtf.list_backends
start_logging_placement = ovtf.start_logging_placement
stop_logging_placement = ovtf.stop_logging_placement
enable_dynamic_fallback = ovtf.enable_dynamic_fallback
disable_dynamic_fallback = ovtf.disable_dynamic_fallback
is_dynamic_fallback_enabled = ovtf.is_dynamic_fallback_enabled
set_cache_dir = ovtf.set_cache_dir   # OPENVINO_TF_MODEL_CACHE_DIR as a call


# --- OVTF calls that do what OVTF did, through ovtf's settings -----------------------------

_cuda_visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")


def enable() -> None:
    """Rewrite graphs instantiated from now on. Like OVTF, re-reads
    OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS (and honours OPENVINO_TF_DISABLE=1) and hides CUDA
    devices (CUDA_VISIBLE_DEVICES=-1), so TensorFlow places graphs on the CPU device that ovtf
    rewrites."""
    _keep_every_cluster(os.environ.get("OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS"),
                        "environment variable OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS")
    if _is_set("OPENVINO_TF_DISABLE"):
        logger.warning("openvino_tensorflow.enable(): OPENVINO_TF_DISABLE=1 keeps it disabled")
        ovtf.disable()
        return
    ovtf.enable()
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"


def disable() -> None:
    """Leave graphs instantiated from now on to TensorFlow; restores CUDA_VISIBLE_DEVICES."""
    ovtf.disable()
    if _cuda_visible_devices is None:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = _cuda_visible_devices


def set_backend(backend) -> None:
    """'CPU', 'GPU', 'GPU_FP16' (GPU at f16 precision), 'NPU', or any backend ovtf lists.
    Raises ValueError for a backend that is not available, or was removed from OpenVINO."""
    if isinstance(backend, bytes):
        backend = backend.decode("utf-8")
    if not isinstance(backend, str):
        raise ValueError(f"backend {backend!r} is not a backend name (a string such as 'CPU'); "
                         f"available: {', '.join(list_backends())}")
    name = backend.strip()
    removed = REMOVED_DEVICES.get(name.upper().split(".")[0])
    if removed:   # said as OVTF users expect: by their old name, with what is here instead
        raise ValueError(f"backend {backend!r} is not available: {removed} was removed from "
                         f"OpenVINO in 2023.0; available: {', '.join(list_backends())}")
    if name.upper() == GPU_FP16:
        ovtf.set_backend("GPU")
        if _state["precision_before_gpu_fp16"] is None:
            _state["precision_before_gpu_fp16"] = ovtf.get_precision()
        ovtf.set_precision("f16")
        return
    ovtf.set_backend(name)
    if _state["precision_before_gpu_fp16"] is not None:   # leaving GPU_FP16
        ovtf.set_precision(_state["precision_before_gpu_fp16"])
        _state["precision_before_gpu_fp16"] = None


def get_backend() -> str:
    return GPU_FP16 if _state["precision_before_gpu_fp16"] is not None else ovtf.get_backend()


def is_logging_placement() -> bool:
    """As in OVTF: placement is logged only while openvino_tensorflow is enabled."""
    return ovtf.is_enabled() and ovtf.is_logging_placement()


def set_disabled_ops(unsupported_ops) -> None:
    """Op types to keep in TensorFlow: a comma-separated string (OVTF's form), bytes, or a
    list of names; '' or None clears. As in OVTF, a name TensorFlow does not know is kept in
    the list (get_disabled_ops() returns it) but has no effect; ovtf warns about it."""
    names = {name for name in config.split_op_names(_decoded(unsupported_ops)) if name}
    unknown = frozenset(name for name in names if not config.is_known_op(name))
    ovtf.set_disabled_ops(sorted(names - unknown))
    _state["unknown_disabled_ops"] = unknown
    if unknown:
        logger.warning(
            "openvino_tensorflow.set_disabled_ops: %s %s not TensorFlow op type(s); kept in "
            "the list but no op matches them (ovtf.set_disabled_ops would reject them)",
            ", ".join(map(repr, sorted(unknown))), "is" if len(unknown) == 1 else "are")


def get_disabled_ops() -> bytes:
    """The disabled op types as OVTF returned them: sorted, comma-separated, as bytes. Like
    OVTF, OPENVINO_TF_DISABLED_OPS (when set) is applied first."""
    if "OPENVINO_TF_DISABLED_OPS" in os.environ:
        _apply_variable("OPENVINO_TF_DISABLED_OPS", os.environ["OPENVINO_TF_DISABLED_OPS"])
    # ovtf's list may also have been changed directly (ovtf.set_disabled_ops / OVTF_DISABLED_OPS).
    names = set(ovtf.get_disabled_ops()) | _state["unknown_disabled_ops"]
    return ",".join(sorted(names)).encode("utf-8")


def _decoded(ops):
    """OVTF took op names as bytes too: str from here on; anything else as given."""
    if isinstance(ops, bytes):
        return ops.decode("utf-8")
    if ops is None or isinstance(ops, str):
        return ops
    try:
        names = list(ops)
    except TypeError:
        return ops   # ovtf.config says what is accepted
    return [name.decode("utf-8") if isinstance(name, bytes) else name for name in names]


# --- versions ----------------------------------------------------------------------------

def cxx11_abi_flag() -> int:
    """TensorFlow's CXX11_ABI_FLAG. ovtf talks to TensorFlow only through its C API, so there
    is no C++ ABI of its own to match; the flag is reported for programs that print it."""
    import tensorflow as tf
    return int(tf.sysconfig.CXX11_ABI_FLAG)


def _version_text() -> str:
    import openvino
    import tensorflow as tf
    return (f"OpenVINO integration with TensorFlow version: {API_VERSION} API, served by "
            f"ovtf {ovtf.__version__}\n"
            f"OpenVINO version: {openvino.get_version()}\n"
            f"TensorFlow version: v{tf.__version__}\n"
            f"CXX11_ABI flag: {cxx11_abi_flag()}\n")


# --- OPENVINO_TF_* environment variables -------------------------------------------------

def _setting(attribute, parse):
    """A variable that is an ovtf setting under another name, parsed by ovtf.config's parser
    of that setting."""
    def apply(value, what):
        config.update(**{attribute: parse(value, what)})
    return apply


def _when_set(action):
    """OVTF's 'set to 1 to turn X off' variables: 0 leaves the setting as it is."""
    def apply(value, what):
        if config.parse_bool(value, what):
            action()
    return apply


def _through(call):
    """A variable that is one of this module's calls; its errors name the variable."""
    def apply(value, what):
        try:
            call(value)
        except ValueError as error:
            raise ValueError(f"{what}: {error}") from None
    return apply


def _keep_every_cluster(value, what) -> None:
    """OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS=1: OVTF kept every cluster, however small; ovtf
    does with a minimum cluster size of 1, and Sessions created meanwhile have grappler
    hand over graphs of any size (see `_prepare_sessions`). Unset again (value None), the
    minimum in force before returns."""
    if value is not None and config.parse_bool(value, what):
        if _state["min_cluster_size_before_deassign"] is None:
            _state["min_cluster_size_before_deassign"] = ovtf.get_min_cluster_size()
        ovtf.set_min_cluster_size(1)
    elif _state["min_cluster_size_before_deassign"] is not None:
        ovtf.set_min_cluster_size(_state["min_cluster_size_before_deassign"])
        _state["min_cluster_size_before_deassign"] = None


def _set_cache_dir(value, what) -> None:
    """OVTF's empty OPENVINO_TF_MODEL_CACHE_DIR meant no cache, as None does in ovtf."""
    config.update(cache_dir=config.parse_cache_dir(value or None, what))


# Each variable: apply(value, "environment variable NAME"), which validates the value and
# sets what it names. Precedence: see the module docstring.
VARIABLES = {
    "OPENVINO_TF_BACKEND": _through(set_backend),
    "OPENVINO_TF_DISABLE": _when_set(disable),
    "OPENVINO_TF_DISABLED_OPS": _through(set_disabled_ops),
    "OPENVINO_TF_DYNAMIC_FALLBACK": _setting("dynamic_fallback", config.parse_bool),
    "OPENVINO_TF_LOG_PLACEMENT": _setting("log_placement", config.parse_bool),
    "OPENVINO_TF_MIN_NONTRIVIAL_NODES": _setting("min_cluster_size", config.parse_min_cluster_size),
    "OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS": _keep_every_cluster,
    "OPENVINO_TF_MODEL_CACHE_DIR": _set_cache_dir,
    "OPENVINO_TF_VLOG_LEVEL": lambda value, what: _set_vlog_level(
        config.parse_int_range(value, what, 0, 5)),
    "OPENVINO_TF_DISABLE_COST_ASSIGNMENT": _when_set(ovtf.disable_cost_placement),
}


# Variables OVTF had that change nothing in ovtf, with the reason given when one is set.
NO_EFFECT = {
    "OPENVINO_TF_CONVERT_VARIABLES_TO_CONSTANTS": "ovtf reads variables as cluster inputs and "
                                                  "keeps their values current by itself",
    "OPENVINO_TF_MAX_CLUSTERS": "ovtf keeps every cluster of at least the minimum size "
                                "(OPENVINO_TF_MIN_NONTRIVIAL_NODES)",
    "OPENVINO_TF_DUMP_GRAPHS": "use ovtf.partitioner.explain() or OVTF_LOG_LEVEL=2",
    "OPENVINO_TF_DUMP_CLUSTERS": "use ovtf.partitioner.explain() or OVTF_LOG_LEVEL=2",
    "OPENVINO_TF_ENABLE_BATCHING": "it served VAD-M, which OpenVINO no longer has",
    "OPENVINO_TF_CONSTANT_FOLDING": "OpenVINO's own transformations apply",
    "OPENVINO_TF_TRANSPOSE_SINKING": "OpenVINO's own transformations apply",
    "OPENVINO_TF_DISABLE_TFFE": "ovtf always converts with OpenVINO's TensorFlow frontend",
    "OPENVINO_TF_ENABLE_OVTF_PROFILING": "use ovtf.stats()",
    "OPENVINO_TF_ENABLE_PERF_COUNT": "use OpenVINO's benchmark_app for per-op counters",
    "OPENVINO_TF_ENABLE_DYNAMIC_SHAPES": "ovtf compiles one model per input shape",
    "OPENVINO_TF_OUTPUT_ZERO_COPY": "ovtf copies device outputs into TensorFlow's",
    "OPENVINO_TF_DISABLE_STATIC_INPUT_CHECKS": "ovtf compiles one model per input shape",
    "OPENVINO_TF_DISABLE_DEADNESS_CHECK": "ovtf keeps control flow in TensorFlow",
    "OPENVINO_TF_TIMING_PROFILE": "use ovtf.stats()",
    "OPENVINO_TF_MEM_PROFILE": "use ovtf.stats()",
    "OPENVINO_TF_CACHE_PROFILE": "use ovtf.stats()",
    "OPENVINO_TF_FUNCTION_CACHE_ITEM_DEPTH": "ovtf caches compiled clusters per input shape",
}
# Not settings: OVTF's test harness reads it.
NOT_SETTINGS = ("OPENVINO_TF_TEST_MANIFEST",)



def _prepare_sessions() -> None:
    """Every Session's graph is prepared as OVTF's graph pass would have seen it.

    Its OVTF 2.x cluster ops are tagged (`_tag_ovtf2_clusters`). And OVTF rewrote TF1
    Session graphs in its own graph pass, whatever their size; ovtf sees
    them through grappler, which skips graphs under `min_graph_nodes` (4) nodes: a
    single-op `sess.run(tf.abs(x))` never reached the device. While every cluster is kept
    (OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS=1), a Session created without its own
    `min_graph_nodes` gets -1 (optimize every graph) on a copy of its config. The caller's
    ConfigProto is never modified, and a value the caller set is kept."""
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.client import session

    original = session.Session.__init__
    if getattr(original, "_openvino_tensorflow", False):
        return

    def __init__(self, target="", graph=None, config=None):
        _tag_ovtf2_clusters(graph)
        if _state["min_cluster_size_before_deassign"] is not None and ovtf.is_enabled():
            copy = config_pb2.ConfigProto()
            if config is not None:
                copy.CopyFrom(config)
            if copy.graph_options.rewrite_options.min_graph_nodes == 0:
                copy.graph_options.rewrite_options.min_graph_nodes = -1
            config = copy
        original(self, target, graph, config)

    __init__._openvino_tensorflow = True
    session.Session.__init__ = __init__


def _tag_ovtf2_clusters(graph) -> None:
    """Graphs saved by OVTF 2.x hold its `_nGraphEncapsulate` cluster ops; ovtf opens them
    back into TF ops in its grappler pass, which needs each op's function to reach it
    (`ovtf.partitioner.ovtf2_clusters`). Done whether or not ovtf is enabled: TensorFlow
    cannot run these ops itself."""
    from tensorflow.python.framework import ops

    from ovtf.partitioner import ovtf2_clusters

    try:
        ovtf2_clusters.tag_functions(graph if graph is not None else ops.get_default_graph())
    except Exception as error:  # untagged ops fail in their kernel, naming themselves
        logger.warning("openvino_tensorflow: cannot prepare OVTF 2.x cluster ops for ovtf: %s",
                       error)



def _set_vlog_level(level: int) -> None:
    """OVTF's verbose log levels 1-5 become DEBUG records of the `ovtf` logger (printed to
    stderr unless the program configured logging itself)."""
    if level == 0:
        return
    ovtf_logger = logging.getLogger("ovtf")
    ovtf_logger.setLevel(logging.DEBUG)
    if not logging.getLogger().handlers and not any(
            not isinstance(handler, logging.NullHandler) for handler in ovtf_logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
        ovtf_logger.addHandler(handler)



def _apply_variable(name: str, value: str) -> None:
    VARIABLES[name](value, f"environment variable {name}")


def _is_set(name: str) -> bool:
    value = os.environ.get(name)
    return value is not None and config.parse_bool(value, f"environment variable {name}")


def load_environment(environ=None) -> None:
    """Apply the OPENVINO_TF_* variables (done once, at import)."""
    environ = os.environ if environ is None else environ
    for name in sorted(environ):
        if not name.startswith("OPENVINO_TF_"):
            continue
        value = environ[name]
        if name in VARIABLES:
            _apply_variable(name, value)
        elif name in NO_EFFECT:
            logger.warning("%s=%s has no effect with ovtf: %s", name, value, NO_EFFECT[name])
        elif name not in NOT_SETTINGS:
            logger.warning("%s is not an OpenVINO integration with TensorFlow setting; ignored "
                           "(known: %s)", name, ", ".join(sorted([*VARIABLES, *NO_EFFECT])))


if os.environ.get("OPENVINO_TF_DISABLE", "").strip() != "1":
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # as OVTF did: TF places graphs on the CPU device

_prepare_sessions()
load_environment()
__version__ = _version_text()
