"""The composition root: connects TensorFlow to ovtf. Loads the native plugin once and
answers its two callbacks, handing the partitioner the selected backend's operator support
and the runtime the cluster's own backend.

`install()` (called by `import ovtf`) registers the `OVTFCluster` op and kernel, points the
native plugin at `on_graph` and `on_cluster`, loads the plugin into TensorFlow's grappler
exactly once per process (a second load aborts the process), and clears TensorFlow's cache
of instantiated functions so graphs traced before `import ovtf` are rewritten too.

  on_graph(graph_bytes, fetch, preserve) -> bytes | None
      grappler hands every graph here; None leaves it unchanged. Never raises: a failing
      rewrite leaves the graph to TensorFlow and logs one warning per graph. Cluster nodes
      of a graph saved by OVTF 2.x are opened first, enabled or not (TensorFlow cannot run
      them: `ovtf.partitioner.ovtf2_clusters`).
  on_cluster(name, graph_bytes, tin, tout, backend) -> handle
      the kernel's Python half (see `ovtf.runtime.cluster`).

Both delegate to replaceable functions, `graph_rewriter` and `cluster_factory`; tests swap
them with `override(...)` to drive the bridge without the real partitioner or device.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import threading
import time

from ovtf import backends, config, counters, partitioner
from ovtf.backends import disk_cache
from ovtf.once import Once, structure_key
from ovtf.partitioner import ovtf2_clusters
from ovtf import placement_log
from ovtf.runtime.cluster import ClusterHandle
from ovtf.runtime.compiled_cache import PROCESS_CACHE
from ovtf.runtime.device import DeviceCluster
from ovtf.spec import ClusterSpec

logger = logging.getLogger("ovtf")

_install_lock = threading.Lock()
_warned_graphs = Once()


def default_graph_rewriter(graph_def, fetch: list, preserve: list):
    """The real rewrite: mark, cluster, encapsulate. Returns a GraphDef or None (unchanged)."""
    settings = config.settings
    result = partitioner.rewrite(
        graph_def, fetch, preserve,
        support=backends.get(settings.backend).operator_support(),
        disabled_ops=settings.disabled_ops,
        min_cluster_size=settings.min_cluster_size,
        training_graphs=settings.training_graphs,
    )
    placement_log.record(result.report)  # every graph, left alone or not
    return result.graph_def


def default_cluster_factory(name: str, graph_bytes: bytes, tin: list, tout: list,
                            backend: str = "", *, cache=PROCESS_CACHE, clock=time.perf_counter):
    """The real cluster: `cache` holds its compiled executables, `clock` times cost placement
    (a test hands in others with `functools.partial` and `override`)."""
    spec = ClusterSpec.parse(name, graph_bytes, tin, tout, backend)
    return ClusterHandle(spec, DeviceCluster(spec, cache=cache, settings=config.current),
                         clock=clock, settings=config.current)


graph_rewriter = default_graph_rewriter
cluster_factory = default_cluster_factory


def on_graph(graph_bytes: bytes, fetch: list, preserve: list):
    opened = _open_ovtf2_clusters(graph_bytes)   # even when disabled: TF can't run them
    if not config.settings.enabled:
        placement_log.record_disabled(graph_bytes)  # counted as left alone, reason "disabled"
        return None if opened is None else opened.SerializeToString()
    counters.increment("graphs_seen")
    graph_def = opened
    try:
        from tensorflow.core.framework import graph_pb2

        if graph_def is None:
            graph_def = graph_pb2.GraphDef.FromString(graph_bytes)
        rewritten = graph_rewriter(graph_def, list(fetch), list(preserve))
        if rewritten is None:
            rewritten = opened
        return None if rewritten is None else rewritten.SerializeToString()
    except Exception as error:  # a failed rewrite must never break the user's program
        _warn_once(_graph_identity(graph_def, graph_bytes, fetch), error)
        return None


def _open_ovtf2_clusters(graph_bytes: bytes):
    """The graph with OVTF 2.x's cluster nodes opened, or None when it has none (the check
    is a byte search, so ordinary graphs are not parsed an extra time)."""
    if ovtf2_clusters.OP.encode() not in graph_bytes:
        return None
    try:
        from tensorflow.core.framework import graph_pb2

        graph_def = graph_pb2.GraphDef.FromString(graph_bytes)
        opened = ovtf2_clusters.inline(graph_def)
        return None if opened is graph_def else opened
    except Exception as error:  # left as it is: the node's kernel then fails naming it
        _warn_once(hashlib.sha1(graph_bytes).hexdigest(), error)
        return None


def on_cluster(name: str, graph_bytes: bytes, tin: list, tout: list, backend: str = ""):
    return cluster_factory(name, graph_bytes, tin, tout, backend)


def _graph_identity(graph_def, graph_bytes: bytes, fetch) -> str:
    """Same for both optimizer passes over one graph: TF reorders nodes and folds constants
    between them, so only the fetches and the non-constant nodes identify it."""
    if graph_def is None:
        return hashlib.sha1(graph_bytes).hexdigest()
    return structure_key(((node.name, node.op) for node in graph_def.node), head=sorted(fetch))


def _warn_once(key: str, error: Exception) -> None:
    if not _warned_graphs.first(f"{key}:{type(error).__name__}:{error}"):
        return
    logger.warning("ovtf could not rewrite a graph (left to TensorFlow): %s: %s",
                   type(error).__name__, error, exc_info=logger.isEnabledFor(logging.DEBUG))


@contextlib.contextmanager
def override(graph_rewriter=None, cluster_factory=None):
    """Temporarily replace the rewriter and/or the cluster factory (for tests)."""
    module = globals()
    saved = module["graph_rewriter"], module["cluster_factory"]
    if graph_rewriter is not None:
        module["graph_rewriter"] = graph_rewriter
    if cluster_factory is not None:
        module["cluster_factory"] = cluster_factory
    try:
        yield
    finally:
        module["graph_rewriter"], module["cluster_factory"] = saved


def clear_function_cache() -> None:
    """Make TensorFlow re-instantiate (and so re-optimize) functions it already built."""
    from tensorflow.python.eager import context

    context.context().clear_kernel_cache()


def _numpy_dtypes() -> dict:
    import tensorflow as tf

    table = {}
    for dtype in (tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32,
                  tf.int64, tf.uint8, tf.uint16, tf.uint32, tf.uint64, tf.bool,
                  tf.complex64, tf.complex128):
        table[dtype.as_datatype_enum] = dtype.as_numpy_dtype
    return table


def _use_cache_dir() -> None:
    disk_cache.use_directory(config.current().cache_dir)


def install() -> None:
    """Idempotent: safe on re-import, `importlib.reload(ovtf)` and from several threads."""
    import tensorflow  # noqa: F401  (loads TF's libraries RTLD_GLOBAL before ours)
    from tensorflow.python.framework import load_library

    from ovtf import _native

    with _install_lock:
        _native.set_numpy_dtypes(_numpy_dtypes())
        _native.register_cluster_op()
        _native.register_ovtf2_cluster_op()   # graphs saved by OVTF 2.x import (ovtf2_clusters)
        _native.set_callbacks(on_graph, on_cluster)
        counters.set_external(_native.fast_path_counts, _native.reset_fast_path_counts)
        config.on_change(_native.invalidate_fast_paths)
        config.on_change(_use_cache_dir)
        _use_cache_dir()
        if _native.plugin_initialized():
            return
        load_library.load_pluggable_device_library(_native.__file__)
        if not _native.plugin_initialized():
            raise ImportError(f"TensorFlow did not initialize ovtf's plugin from {_native.__file__}")
        atexit.register(_native.shutdown)
        clear_function_cache()
