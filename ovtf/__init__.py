"""ovtf: run unmodified TensorFlow programs faster with OpenVINO.

    import ovtf          # that's all: every TF graph built from now on is accelerated

Importing ovtf imports TensorFlow, loads ovtf's native grappler plugin (once per process)
and makes TensorFlow re-instantiate functions it already built. From then on TensorFlow
hands every graph to ovtf, which moves what OpenVINO can run into `OVTFCluster` nodes;
the rest stays in TensorFlow, and a cluster that fails on the device runs in TensorFlow.

The public API below mirrors the OVTF_* environment variables (read once at import); an
explicit call always beats the environment. Bad values raise ValueError naming the value.
"""

from __future__ import annotations

import logging as _logging

__version__ = "0.1.0"

logger = _logging.getLogger("ovtf")
logger.addHandler(_logging.NullHandler())

from ovtf import _compat  # noqa: E402  (checks the TensorFlow version before anything loads)
from ovtf import _quiet  # noqa: E402

with _quiet.filtered_stderr():  # TensorFlow's CPU start-up notices stay off the terminal
    _compat.check_tensorflow()

from ovtf import backends as _backends  # noqa: E402
from ovtf import config as _config  # noqa: E402
from ovtf import counters as _counters  # noqa: E402

_config.set_backend_resolver(_backends.canonical_name, _backends.list_backends)
_config.load_environment()


# --- on / off ---------------------------------------------------------------------------

def enable() -> None:
    """Rewrite graphs TensorFlow instantiates from now on (the default)."""
    _config.update(enabled=True)


def disable() -> None:
    """Leave graphs instantiated from now on to TensorFlow; running clusters are unaffected."""
    _config.update(enabled=False)


def is_enabled() -> bool:
    return _config.settings.enabled


# --- backend ----------------------------------------------------------------------------

def list_backends() -> list:
    """Backends that can run clusters on this machine, e.g. ['CPU', 'GPU', 'HETERO:GPU,CPU']."""
    return _backends.list_backends()


def set_backend(name: str) -> None:
    """Run clusters on `name` from now on. Each cluster runs on the backend it was
    partitioned for, so TensorFlow is made to re-instantiate its functions: each tf.function
    is partitioned again for the new backend at its next call. A TF1 Session that already
    ran keeps its graph, and its backend."""
    canonical = _config.parse_backend(name)
    if canonical != _config.settings.backend:
        _config.update(backend=canonical)
        _hook.clear_function_cache()


def get_backend() -> str:
    return _config.settings.backend


def devices() -> list:
    """Every OpenVINO device here and every emulated device registered, as dicts: name,
    full_name, kind, precisions, capabilities (OPTIMIZATION_CAPABILITIES), emulated."""
    from ovtf.backends.openvino import list_devices
    return list_devices()


# --- what may be clustered --------------------------------------------------------------

def set_disabled_ops(ops) -> None:
    """Op types to keep in TensorFlow: a list, or a comma-separated string ('' clears)."""
    _config.update(disabled_ops=_config.parse_op_list(ops))


def get_disabled_ops() -> list:
    return sorted(_config.settings.disabled_ops)


def get_supported_ops(backend: str | None = None) -> list:
    """Sorted op types `backend` (default: the current one) can run."""
    name = _config.parse_backend(backend) if backend is not None else get_backend()
    from ovtf.ocm.support import supported_ops
    return supported_ops(_backends.get(name).operator_support())


def set_min_cluster_size(size: int) -> None:
    """Clusters with fewer compute ops than `size` stay in TensorFlow."""
    _config.update(min_cluster_size=_config.parse_min_cluster_size(size))


def get_min_cluster_size() -> int:
    return _config.settings.min_cluster_size


# --- execution --------------------------------------------------------------------------

def enable_dynamic_fallback() -> None:
    """A cluster that fails to import, compile or run is run by TensorFlow (the default)."""
    _config.update(dynamic_fallback=True)


def disable_dynamic_fallback() -> None:
    """A failing cluster raises a TensorFlow error naming the cluster, its ops and the cause."""
    _config.update(dynamic_fallback=False)


def is_dynamic_fallback_enabled() -> bool:
    return _config.settings.dynamic_fallback


def enable_cost_placement() -> None:
    """After warm-up, time each cluster (per input signature) on the device and in TensorFlow
    and keep it in TensorFlow for good when the device is slower by more than 20%."""
    _config.update(cost_placement=True)


def disable_cost_placement() -> None:
    """Every cluster runs on the device (unless it fails); signatures already moved to
    TensorFlow by cost placement go back to the device at their next call."""
    _config.update(cost_placement=False)


def is_cost_placement_enabled() -> bool:
    return _config.settings.cost_placement


def enable_training_graphs() -> None:
    """Partition training steps too (graphs that compute gradients or apply optimizer
    updates), from the next graph TensorFlow instantiates. Off by default: they stay in
    TensorFlow, where a training step runs faster (a Keras model's `fit` builds its train
    function once: call this before the first `fit`)."""
    _config.update(training_graphs=True)


def disable_training_graphs() -> None:
    """Leave training steps instantiated from now on to TensorFlow (the default); inference
    functions of the same model are still accelerated."""
    _config.update(training_graphs=False)


def is_training_graphs_enabled() -> bool:
    return _config.settings.training_graphs


def set_compile_timeout(seconds) -> None:
    """Bound how long a call waits for a cluster's compile (default 300 s; 0: no bound).
    Past it the call runs in TensorFlow (with dynamic fallback off it raises), and so do
    later calls of that input signature; the compile is not cancelled (OpenVINO cannot):
    it finishes in the background and later kernels of the cluster use it."""
    _config.update(compile_timeout=_config.parse_compile_timeout(seconds))


def get_compile_timeout() -> float:
    return _config.settings.compile_timeout


def set_cache_dir(path) -> None:
    """Persist compiled clusters in `path` (None turns the disk cache off)."""
    _config.update(cache_dir=_config.parse_cache_dir(path))


def get_cache_dir():
    return _config.settings.cache_dir


def set_precision(precision: str) -> None:
    """Inference precision: 'f32' (default, matches TF), 'bf16' or 'f16' (faster)."""
    _config.update(precision=_config.parse_precision(precision))


def get_precision() -> str:
    return _config.settings.precision


# --- explaining -------------------------------------------------------------------------

def start_logging_placement() -> None:
    """Log a placement summary for each graph ovtf rewrites (per node with OVTF_LOG_LEVEL=2)."""
    _config.update(log_placement=True)


def stop_logging_placement() -> None:
    _config.update(log_placement=False)


def is_logging_placement() -> bool:
    return _config.settings.log_placement


def set_placement_html_dir(path) -> None:
    """Write a placement picture (self-contained HTML) of every graph ovtf is handed into
    `path` (None: stop)."""
    _config.update(placement_html_dir=_config.parse_cache_dir(path, "placement html dir"))


def get_placement_html_dir():
    return _config.settings.placement_html_dir


def stats() -> dict:
    """Counters since import or reset_stats(): graphs, ops, clusters, executions, fallbacks."""
    return _counters.snapshot()


def reset_stats() -> None:
    _counters.reset()


# --- the hook ---------------------------------------------------------------------------

from ovtf import hook as _hook  # noqa: E402

with _quiet.filtered_stderr():
    _hook.install()
