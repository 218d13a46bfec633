"""openvino_tensorflow: OpenVINO integration with TensorFlow 2.3's Python API, served by ovtf.

    import openvino_tensorflow        # as before: every TF graph built from now on is accelerated
    openvino_tensorflow.set_backend("CPU")

Programs written for OVTF 2.3 keep working unchanged: this module offers OVTF's public calls
and reads its `OPENVINO_TF_*` environment variables, and maps each onto ovtf's public API
(`import ovtf`). Where OVTF's behaviour can be followed without harm it is (bytes from
`get_disabled_ops()`, unknown op names accepted by `set_disabled_ops()`, `GPU_FP16`, the
environment re-read where OVTF re-read it); the rest is in README.md, "Migrating from
openvino_tensorflow". Everything ovtf itself offers (`ovtf.stats()`, `ovtf.set_precision()`,
...) is available next to it.

Environment: `OPENVINO_TF_*` variables are applied when this module is imported, after
ovtf's own `OVTF_*` ones (so for the same knob the OPENVINO_TF_ one wins). As in OVTF,
`OPENVINO_TF_DISABLED_OPS` is read again by `get_disabled_ops()` and
`OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS` / `OPENVINO_TF_DISABLE` again by `enable()`.
A bad value raises ValueError naming the variable, the value and what is accepted; a
variable OVTF had but ovtf has no use for is reported once through the `ovtf` logger.
"""

from __future__ import annotations

import logging
import os

import ovtf

__all__ = [
    "enable", "disable", "is_enabled", "list_backends", "set_backend", "get_backend",
    "start_logging_placement", "stop_logging_placement", "is_logging_placement",
    "__version__", "cxx11_abi_flag", "set_disabled_ops", "get_disabled_ops",
    "enable_dynamic_fallback", "disable_dynamic_fallback", "export_ir",
]

logger = logging.getLogger("ovtf.openvino_tensorflow")

API_VERSION = "2.3.0"  # the OVTF release whose API this module offers

# OVTF backends that have no OpenVINO plugin any more (removed in OpenVINO 2023.0).
REMOVED_BACKENDS = {"MYRIAD": "MYRIAD", "VAD-M": "HDDL (VAD-M)", "HDDL": "HDDL (VAD-M)"}
# OVTF's half-precision iGPU backend: ovtf's GPU backend with f16 inference precision.
GPU_FP16 = "GPU_FP16"


class InvalidArgument(ValueError, AssertionError):
    """A bad argument. A ValueError, as everywhere in ovtf; also an AssertionError, which is
    what OVTF raised from its graph-optimization helpers."""


# --- state this module keeps on top of ovtf ----------------------------------------------

_state = {
    "backend_alias": None,      # "GPU_FP16" while that OVTF name is in force
    "precision_before_fp16": None,
    "disabled_ops": frozenset(),  # as given, unknown names included (OVTF kept them)
    "deassign_saved_min": None,  # min cluster size before OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS
    "every_graph": False,        # Sessions optimize graphs of any size (see above)
}


# --- on / off ----------------------------------------------------------------------------

_cuda_visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")


def enable() -> None:
    """Rewrite graphs instantiated from now on. Like OVTF, re-reads
    OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS (and honours OPENVINO_TF_DISABLE=1) and hides CUDA
    devices (CUDA_VISIBLE_DEVICES=-1), so TensorFlow places graphs on the CPU device that ovtf
    rewrites."""
    _apply_deassign(os.environ.get("OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS"))
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


def is_enabled() -> bool:
    return ovtf.is_enabled()


# --- backends ----------------------------------------------------------------------------

def list_backends() -> list:
    """Devices clusters can run on, e.g. ['CPU', 'GPU'] (OpenVINO's available devices)."""
    return ovtf.list_backends()


def set_backend(backend) -> None:
    """'CPU', 'GPU', 'GPU_FP16' (GPU at f16 precision), 'NPU', or any backend ovtf lists.
    Raises ValueError for a backend that is not available, or was removed from OpenVINO."""
    if isinstance(backend, bytes):
        backend = backend.decode("utf-8")
    if not isinstance(backend, str):
        raise ValueError(f"backend {backend!r} is not a backend name (a string such as 'CPU'); "
                         f"available: {', '.join(list_backends())}")
    name = backend.strip()
    removed = REMOVED_BACKENDS.get(name.upper())
    if removed:
        raise ValueError(
            f"backend {backend!r} is not available: OpenVINO removed its {removed} plugin in "
            f"2023.0; available: {', '.join(list_backends())}")
    if name.upper() == GPU_FP16:
        ovtf.set_backend("GPU")
        if _state["backend_alias"] != GPU_FP16:
            _state["precision_before_fp16"] = ovtf.get_precision()
        ovtf.set_precision("f16")
        _state["backend_alias"] = GPU_FP16
        return
    ovtf.set_backend(name)
    _leave_fp16()


def get_backend() -> str:
    return _state["backend_alias"] or ovtf.get_backend()


def _leave_fp16() -> None:
    if _state["backend_alias"] == GPU_FP16:
        ovtf.set_precision(_state["precision_before_fp16"] or "f32")
    _state["backend_alias"] = None
    _state["precision_before_fp16"] = None


# --- placement logging -------------------------------------------------------------------

def start_logging_placement() -> None:
    ovtf.start_logging_placement()


def stop_logging_placement() -> None:
    ovtf.stop_logging_placement()


def is_logging_placement() -> bool:
    """As in OVTF: placement is logged only while openvino_tensorflow is enabled."""
    return ovtf.is_enabled() and ovtf.is_logging_placement()


# --- disabled ops ------------------------------------------------------------------------

def set_disabled_ops(unsupported_ops) -> None:
    """Op types to keep in TensorFlow: a comma-separated string (OVTF's form), bytes, or a
    list of names; '' or None clears. As in OVTF, a name TensorFlow does not know is kept in
    the list (get_disabled_ops() returns it) but has no effect; ovtf warns about it."""
    names = _parse_ops(unsupported_ops)
    known = sorted(name for name in names if _is_known_op(name))
    unknown = sorted(names - set(known))
    ovtf.set_disabled_ops(known)
    _state["disabled_ops"] = frozenset(names)
    if unknown:
        logger.warning(
            "openvino_tensorflow.set_disabled_ops: %s %s not TensorFlow op type(s); kept in "
            "the list but no op matches them (ovtf.set_disabled_ops would reject them)",
            ", ".join(map(repr, unknown)), "is" if len(unknown) == 1 else "are")


def get_disabled_ops() -> bytes:
    """The disabled op types as OVTF returned them: sorted, comma-separated, as bytes. Like
    OVTF, OPENVINO_TF_DISABLED_OPS (when set) is applied first."""
    if "OPENVINO_TF_DISABLED_OPS" in os.environ:
        set_disabled_ops(os.environ["OPENVINO_TF_DISABLED_OPS"])
    # ovtf's list may also have been changed directly (ovtf.set_disabled_ops / OVTF_DISABLED_OPS).
    current = set(ovtf.get_disabled_ops())
    unknown = {name for name in _state["disabled_ops"] if not _is_known_op(name)}
    return ",".join(sorted(current | unknown)).encode("utf-8")


def _parse_ops(value) -> set:
    if value is None:
        return set()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        return {part.strip() for part in value.split(",") if part.strip()}
    try:
        items = list(value)
    except TypeError:
        raise ValueError(f"disabled ops: {value!r} is neither a comma-separated string of op "
                         "type names nor a list of them") from None
    for item in items:
        if not isinstance(item, (str, bytes)):
            raise ValueError(f"disabled ops: {item!r} is not an op type name (a string such as 'Add')")
    return {(item.decode("utf-8") if isinstance(item, bytes) else item).strip()
            for item in items if item.strip()}


def _is_known_op(name: str) -> bool:
    from tensorflow.python.framework import op_def_registry
    return op_def_registry.get(name) is not None


# --- dynamic fallback --------------------------------------------------------------------

def enable_dynamic_fallback() -> None:
    ovtf.enable_dynamic_fallback()


def disable_dynamic_fallback() -> None:
    ovtf.disable_dynamic_fallback()


def is_dynamic_fallback_enabled() -> bool:
    return ovtf.is_dynamic_fallback_enabled()


# --- the rest of OVTF's API --------------------------------------------------------------

def cxx11_abi_flag() -> int:
    """TensorFlow's CXX11_ABI_FLAG. ovtf talks to TensorFlow only through its C API, so there
    is no C++ ABI of its own to match; the flag is reported for programs that print it."""
    import tensorflow as tf
    return int(tf.sysconfig.CXX11_ABI_FLAG)


def set_cache_dir(path) -> None:
    """OPENVINO_TF_MODEL_CACHE_DIR as a call: ovtf's on-disk cache of compiled clusters."""
    ovtf.set_cache_dir(path)


def export_ir(output_dir, *args, **kwargs):
    """Not offered: ovtf has no export of the last model's clusters as IR files."""
    raise NotImplementedError(
        "openvino_tensorflow.export_ir is not available with ovtf: to keep compiled clusters "
        "use ovtf.set_cache_dir(path) (OPENVINO_TF_MODEL_CACHE_DIR); to get IR files of a "
        "model convert it with openvino.convert_model and openvino.save_model")


def optimize_graph_with_openvino_tf1(frozen_model_file, output_node_names):
    """OVTF's offline rewrite of a frozen TF1 GraphDef. ovtf rewrites graphs as TensorFlow
    runs them, so the GraphDef is returned as read: importing it and running it in a Session
    runs its clusters on OpenVINO (output_node_names are checked to exist)."""
    import tensorflow as tf
    if not isinstance(frozen_model_file, (str, bytes, os.PathLike)) or not os.path.isfile(frozen_model_file):
        raise InvalidArgument(f"frozen model file {frozen_model_file!r} does not exist "
                              "(a path to a binary GraphDef .pb file)")
    graph_def = tf.compat.v1.GraphDef()
    with open(frozen_model_file, "rb") as handle:
        graph_def.ParseFromString(handle.read())
    names = {node.name for node in graph_def.node}
    missing = [name for name in output_node_names if name.split(":")[0] not in names]
    if missing:
        raise InvalidArgument(f"output node(s) {', '.join(map(repr, missing))} are not in "
                              f"{frozen_model_file!r}")
    return graph_def


def convert_variables_to_constants_with_openvino_tf2(
        saved_model_dir, input_tensors=None, saved_model_signature="serving_default",
        saved_model_tag="serve"):
    """A SavedModel signature as one ConcreteFunction specialized to `input_tensors` (a
    tensor, a list or a dict of tensors / arrays), its variables frozen as constants; it
    returns a flat list of outputs. Calling it runs its clusters on OpenVINO, as every TF
    function does with ovtf."""
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants

    if not isinstance(saved_model_dir, (str, os.PathLike)) or not os.path.isdir(saved_model_dir):
        raise InvalidArgument(f"SavedModel directory {saved_model_dir!r} does not exist")
    try:
        model = tf.saved_model.load(saved_model_dir, tags=[saved_model_tag])
    except (RuntimeError, ValueError):
        model = tf.saved_model.load(saved_model_dir)
    if saved_model_signature not in model.signatures:
        raise InvalidArgument(
            f"signature {saved_model_signature!r} is not in {saved_model_dir!r}; "
            f"available: {', '.join(model.signatures) or 'none'}")
    signature = model.signatures[saved_model_signature]
    if isinstance(input_tensors, dict):
        specs = {key: tf.TensorSpec.from_tensor(tf.convert_to_tensor(value), name=key)
                 for key, value in input_tensors.items()}
        concrete = tf.function(signature).get_concrete_function(**specs)
    else:
        tensors = input_tensors if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if any(tensor is None for tensor in tensors):
            raise InvalidArgument("input_tensors: give a sample tensor (or a list or dict of "
                                  "them) with the shapes and dtypes the model will be called with")
        specs = [tf.TensorSpec.from_tensor(tf.convert_to_tensor(tensor)) for tensor in tensors]
        concrete = tf.function(signature, input_signature=specs).get_concrete_function()
    # As in OVTF, the frozen function returns its outputs as a flat list, in the order of
    # tf.nest.flatten(signature.structured_outputs).
    return convert_to_constants.convert_variables_to_constants_v2(concrete)


def optimize_graph_with_openvino_tf2(
        saved_model_dir, input_tensors=None, saved_model_signature="serving_default",
        saved_model_tag="serve", save_optimized_function_signature=False):
    """OVTF's offline rewrite of a SavedModel signature: with ovtf the frozen, specialized
    ConcreteFunction of convert_variables_to_constants_with_openvino_tf2 (ovtf rewrites it
    when it first runs)."""
    if save_optimized_function_signature:
        raise InvalidArgument(
            "save_optimized_function_signature=True is not supported: ovtf rewrites graphs as "
            "they run, so there is no optimized signature to save; use ovtf.set_cache_dir to "
            "keep compiled clusters across processes")
    return convert_variables_to_constants_with_openvino_tf2(
        saved_model_dir, input_tensors, saved_model_signature, saved_model_tag)


def prepare_model(model, shape, data_type) -> None:
    """Warm up `model` (compile its clusters) with a random input of `shape` and `data_type`."""
    import tensorflow as tf
    model(tf.random.uniform(shape, minval=0, maxval=None if data_type.is_floating else 2,
                            dtype=data_type))


def prepare_model_with_session(session, graph, input_names, output_names, input_shapes) -> None:
    """Warm up a TF1 graph in `session`: one run with uninitialized inputs of the given shapes."""
    import numpy as np
    if len(input_names) != len(input_shapes):
        raise ValueError(f"{len(input_names)} input names but {len(input_shapes)} input shapes")
    feeds = {}
    for name, shape in zip(input_names, input_shapes):
        tensor = graph.get_operation_by_name(name).outputs[0]
        feeds[tensor] = np.zeros(shape, dtype=tensor.dtype.as_numpy_dtype)
    session.run([graph.get_operation_by_name(name).outputs[0] for name in output_names], feeds)


def _version_text() -> str:
    import openvino
    import tensorflow as tf
    return (f"OpenVINO integration with TensorFlow version: {API_VERSION} API, served by "
            f"ovtf {ovtf.__version__}\n"
            f"OpenVINO version: {openvino.get_version()}\n"
            f"TensorFlow version: v{tf.__version__}\n"
            f"CXX11_ABI flag: {cxx11_abi_flag()}\n")


# --- OPENVINO_TF_* environment variables -------------------------------------------------

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


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"environment variable {name}: {value!r} is not a boolean; use 1 or 0")


def _is_set(name: str) -> bool:
    value = os.environ.get(name)
    return value is not None and _flag(name, value)


def _apply_deassign(value) -> None:
    """OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS=1: OVTF kept every cluster, however small; ovtf
    does with a minimum cluster size of 1, and Sessions created meanwhile have grappler
    hand over graphs of any size (see `_prepare_sessions`). Unset again, the minimum
    in force before returns."""
    if value is not None and _flag("OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS", value):
        if _state["deassign_saved_min"] is None:
            _state["deassign_saved_min"] = ovtf.get_min_cluster_size()
        ovtf.set_min_cluster_size(1)
        _state["every_graph"] = True
    elif _state["deassign_saved_min"] is not None:
        ovtf.set_min_cluster_size(_state["deassign_saved_min"])
        _state["deassign_saved_min"] = None
        _state["every_graph"] = False


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
        if _state["every_graph"] and ovtf.is_enabled():
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


def _int(name: str, value: str, low: int, high: int | None = None) -> int:
    accepted = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError(f"environment variable {name}: {value!r} is not {accepted}") from None
    if number < low or (high is not None and number > high):
        raise ValueError(f"environment variable {name}: {value!r} is not {accepted}")
    return number


def _with_name(name, call, value):
    try:
        call(value)
    except ValueError as error:
        raise ValueError(f"environment variable {name}: {error}") from None


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


def load_environment(environ=None) -> None:
    """Apply the OPENVINO_TF_* variables (done once, at import)."""
    environ = os.environ if environ is None else environ
    handlers = {
        "OPENVINO_TF_BACKEND": lambda v: _with_name("OPENVINO_TF_BACKEND", set_backend, v),
        "OPENVINO_TF_DISABLE": lambda v: disable() if _flag("OPENVINO_TF_DISABLE", v) else None,
        "OPENVINO_TF_DISABLED_OPS": lambda v: _with_name("OPENVINO_TF_DISABLED_OPS", set_disabled_ops, v),
        "OPENVINO_TF_DYNAMIC_FALLBACK": lambda v: (enable_dynamic_fallback if _flag(
            "OPENVINO_TF_DYNAMIC_FALLBACK", v) else disable_dynamic_fallback)(),
        "OPENVINO_TF_LOG_PLACEMENT": lambda v: (start_logging_placement if _flag(
            "OPENVINO_TF_LOG_PLACEMENT", v) else stop_logging_placement)(),
        "OPENVINO_TF_MIN_NONTRIVIAL_NODES": lambda v: ovtf.set_min_cluster_size(
            _int("OPENVINO_TF_MIN_NONTRIVIAL_NODES", v, 1)),
        "OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS": _apply_deassign,
        "OPENVINO_TF_MODEL_CACHE_DIR": lambda v: _with_name(
            "OPENVINO_TF_MODEL_CACHE_DIR", ovtf.set_cache_dir, v or None),
        "OPENVINO_TF_VLOG_LEVEL": lambda v: _set_vlog_level(_int("OPENVINO_TF_VLOG_LEVEL", v, 0, 5)),
        "OPENVINO_TF_DISABLE_COST_ASSIGNMENT": lambda v: ovtf.disable_cost_placement() if _flag(
            "OPENVINO_TF_DISABLE_COST_ASSIGNMENT", v) else None,
    }
    for name in sorted(environ):
        if not name.startswith("OPENVINO_TF_"):
            continue
        value = environ[name]
        if name in handlers:
            handlers[name](value)
        elif name in NO_EFFECT:
            logger.warning("%s=%s has no effect with ovtf: %s", name, value, NO_EFFECT[name])
        elif name not in NOT_SETTINGS:
            logger.warning("%s is not an OpenVINO integration with TensorFlow setting; ignored "
                           "(known: %s)", name, ", ".join(sorted([*handlers, *NO_EFFECT])))


if os.environ.get("OPENVINO_TF_DISABLE", "").strip() != "1":
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # as OVTF did: TF places graphs on the CPU device

_prepare_sessions()
load_environment()
__version__ = _version_text()
