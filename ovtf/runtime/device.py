"""The device side of a cluster: compiled-cluster cache, weights, and the call into a backend.

    device = DeviceCluster(spec)
    device.run(inputs, outputs)      # raises BackendError(stage, cause) on failure

`inputs` are numpy arrays (zero-copy views of TF tensors, from the native kernel); output i
goes into `outputs.allocate(i, shape)`.

Backend: the one the cluster was partitioned for (`spec.backend`; a spec that records none
takes the backend selected when it is created): the partitioner chose the cluster's nodes
from that backend's operator support, so running it anywhere else could only fail.
`set_backend` reaches functions already instantiated by making TensorFlow re-instantiate
them (`ovtf.set_backend`), which partitions them again. Precision is read from
`ovtf.config` at every call, so `set_precision` applies to clusters that already exist.

Compiled-cluster cache
    One process-wide LRU of compiled executables (`DEFAULT_CACHE_SIZE` = 32 entries,
    `set_cache_size(n)` to change). Key: (cluster fingerprint, backend, precision, dtype and
    shape of every data input, values of compile-time inputs, weights mode). A new batch
    size compiles once and is a cache hit from then on. Counters: `compiles` (a real
    compilation), `cache_hits` (found in memory), `disk_cache_hits` (a miss in memory that
    the backend loaded from `set_cache_dir`'s directory instead of compiling); per backend,
    `devices[name]` (calls, rows of dim 0 of the first data input, failures, seconds).

Compile-time inputs
    Small integer inputs that feed shape arguments (Reshape's shape, a reduction's axes, ...;
    the backend's `operator_support().compile_time_inputs`, from the registry entries'
    static inputs) are baked in as constants so that the compiled
    model has static shapes; their values are part of the key.

Weights (inputs marked `is_variable`)
    By default they are baked into the compiled model as constants: OpenVINO then folds and
    pre-packs them, which is much faster than feeding them as parameters. They must never be
    stale. The mechanism: the entry keeps the weight arrays it was compiled with alive. The
    native kernel's input arrays are zero-copy views whose base holds a reference on the TF
    tensor buffer, and TensorFlow's resource variables update their buffer in place only
    when nobody else holds it; otherwise an assign copies-on-write into a new buffer. So
    while an entry holds the arrays, the buffers it compiled from cannot change, and an
    assign shows up as a different data pointer on the next call. Every call compares the
    data pointers of the weight inputs with the entry's (a few hundred integer compares,
    tens of microseconds on ResNet50); a difference recompiles with the new weights.
    A cluster whose weights changed `WEIGHT_CHANGES_BEFORE_PARAMETERS` times (a training
    loop) switches to weights-as-parameters: one compilation, weights fed each call.
"""

from __future__ import annotations

import logging
import operator
import threading
import time
from collections import OrderedDict

from ovtf import backends, config
from ovtf import counters as _counters
from ovtf.backends import STAGES, BackendError

__all__ = ["DeviceCluster", "DEFAULT_CACHE_SIZE", "set_cache_size",
           "cache_size", "clear_cache", "WEIGHT_CHANGES_BEFORE_PARAMETERS"]

logger = logging.getLogger("ovtf")

# Compiled executables kept in memory, over all clusters. A CNN at one batch size is 1-3
# clusters, so this holds about ten models x batch sizes. Each entry owns its compiled
# model, whose repacked weights are about the size of the cluster's weights (ResNet50:
# ~100 MB), so the bound is also a memory bound: 32 ResNet50-sized entries ~ 3 GB.
DEFAULT_CACHE_SIZE = 32
WEIGHT_CHANGES_BEFORE_PARAMETERS = 3

_cache_lock = threading.Lock()
_cache: OrderedDict = OrderedDict()     # key -> _Entry
_inflight: dict = {}                    # key -> threading.Event (compilation under way)
_capacity = DEFAULT_CACHE_SIZE


def set_cache_size(entries: int) -> None:
    """Bound the number of compiled executables kept in memory (least recently used go)."""
    global _capacity
    if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
        raise ValueError(f"cache size: {entries!r} is not an integer >= 1")
    with _cache_lock:
        _capacity = entries
        while len(_cache) > _capacity:
            _cache.popitem(last=False)


def cache_size() -> int:
    return _capacity


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def cached_entries() -> int:
    with _cache_lock:
        return len(_cache)


def _pointer(array) -> int:
    return array.__array_interface__["data"][0]


def _make_pointers():
    """A function: list of ndarrays -> list of their data pointers, as fast as possible.

    `__array_interface__` builds a dict per array (~1 us; 0.3 ms for ResNet50's 320 weights).
    NumPy's public struct layout (ndarraytypes.h, `PyArrayObject_fields`) puts `char *data`
    right after the object header, so it can be read straight from the object with ctypes
    (~0.15 us). The offset is verified on probe arrays at import; any doubt -> slow path.
    """
    import ctypes

    import numpy as np

    read = ctypes.c_void_p.from_address
    offset = object.__basicsize__  # size of PyObject_HEAD on this interpreter build

    def fast(arrays):
        return [read(id(array) + offset).value if type(array) is ndarray else _pointer(array)
                for array in arrays]

    def slow(arrays):
        return [_pointer(array) for array in arrays]

    ndarray = np.ndarray
    try:
        probes = [np.zeros(3), np.arange(10, dtype=np.int32)[2:], np.ones((4, 4), np.float32).T,
                  np.empty(0), np.zeros((2, 3))[1]]
        if fast(probes) == slow(probes):
            return fast
    except Exception:  # pragma: no cover
        pass
    logger.debug("ovtf: fast data-pointer reads unavailable; using __array_interface__")
    return slow


_pointers = _make_pointers()


class _Entry:
    __slots__ = ("executable", "weights", "pointers")

    def __init__(self, executable, weights, pointers):
        self.executable = executable
        self.weights = weights        # the arrays baked in: held so their buffers can't change
        self.pointers = pointers      # their data pointers (compared on every call)


class DeviceCluster:
    """Runs one cluster on the configured backend; thread-safe."""

    def __init__(self, spec):
        self.spec = spec
        self.backend_name = spec.backend or config.settings.backend
        self.variable_inputs = tuple(spec.variable_inputs)
        try:
            self._backend = backends.get(self.backend_name)
            support = self._backend.operator_support()
            self.compile_time_inputs = tuple(sorted(support.compile_time_inputs(spec)
                                                    - set(self.variable_inputs)))
        except Exception as error:  # fails at the first call, with a clear stage
            self._backend = BackendError("compile", error)
            self.compile_time_inputs = ()
        constant_like = set(self.variable_inputs) | set(self.compile_time_inputs)
        self.data_inputs = tuple(i for i in range(len(spec.inputs)) if i not in constant_like)
        self.weight_changes = 0
        self.weights_as_parameters = not self.variable_inputs
        if len(self.variable_inputs) > 1:
            self._variables = operator.itemgetter(*self.variable_inputs)
        else:
            self._variables = lambda inputs, _i=self.variable_inputs: tuple(inputs[i] for i in _i)
        self._lock = threading.Lock()

    # --- the hot path -----------------------------------------------------------------------

    def run(self, inputs: list, outputs) -> None:
        backend = self._backend
        if isinstance(backend, BackendError):
            raise BackendError(backend.stage, backend.cause)
        backend_name = self.backend_name
        precision = config.settings.precision

        weights_as_parameters = self.weights_as_parameters or not backend.weights_as_constants()
        key = self._key(inputs, backend_name, precision, weights_as_parameters)
        entry = _lookup(key)
        if entry is not None and not weights_as_parameters:
            pointers = _pointers(self._variables(inputs))
            if pointers != entry.pointers:
                entry = self._weights_changed(key, entry, inputs, pointers)
                if self.weights_as_parameters:
                    return self.run(inputs, outputs)
        if entry is None:
            entry = self._compile(key, backend, inputs, precision, weights_as_parameters)
        else:
            _counters.increment("cache_hits")
        rows = next((int(inputs[i].shape[0]) for i in self.data_inputs if inputs[i].ndim), 0)
        start = time.perf_counter()
        try:
            entry.executable.run(inputs, outputs)
        except BackendError:
            _counters.record_device(backend_name, rows, time.perf_counter() - start, True)
            raise
        except Exception as error:
            _counters.record_device(backend_name, rows, time.perf_counter() - start, True)
            raise BackendError(_stage(error, "run"), error) from error
        _counters.record_device(backend_name, rows, time.perf_counter() - start)

    def _key(self, inputs, backend_name, precision, weights_as_parameters):
        signature = tuple((inputs[i].dtype.str, inputs[i].shape) for i in self.data_inputs)
        values = tuple(inputs[i].tobytes() + inputs[i].dtype.str.encode() + repr(inputs[i].shape).encode()
                       for i in self.compile_time_inputs)
        if weights_as_parameters:
            variables = tuple((inputs[i].dtype.str, inputs[i].shape) for i in self.variable_inputs)
        else:
            variables = None
        return (self.spec.fingerprint, backend_name, precision, signature, values, variables)

    # --- slow paths ------------------------------------------------------------------------

    def _weights_changed(self, key, entry, inputs, pointers):
        with self._lock:
            self.weight_changes += 1
            if self.weight_changes >= WEIGHT_CHANGES_BEFORE_PARAMETERS:
                if not self.weights_as_parameters:
                    logger.info("ovtf: cluster %s: weights changed %d times; feeding them as "
                                "parameters from now on", self.spec.name, self.weight_changes)
                self.weights_as_parameters = True
        with _cache_lock:
            if _cache.get(key) is entry:
                del _cache[key]
        logger.debug("ovtf: cluster %s: weights changed, recompiling", self.spec.name)
        return None

    def _compile(self, key, backend, inputs, precision, weights_as_parameters):
        # One compilation per key even when several threads miss at once.
        while True:
            with _cache_lock:
                entry = _cache.get(key)
                if entry is not None and (weights_as_parameters or entry.pointers ==
                                          _pointers(self._variables(inputs))):
                    _cache.move_to_end(key)
                    _counters.increment("cache_hits")
                    return entry
                event = _inflight.get(key)
                if event is None:
                    event = threading.Event()
                    _inflight[key] = event
                    break
            event.wait()
        try:
            constants = {i: inputs[i] for i in self.compile_time_inputs}
            if not weights_as_parameters:
                constants.update({i: inputs[i] for i in self.variable_inputs})
            shapes = [tuple(array.shape) for array in inputs]
            try:
                executable = backend.compile(self.spec, shapes, constants, precision)
            except BackendError:
                raise
            except Exception as error:
                raise BackendError(_stage(error, "compile"), error) from error
            if getattr(executable, "loaded_from_cache", False):
                _counters.increment("disk_cache_hits")
            else:
                _counters.increment("compiles")
            if weights_as_parameters:
                entry = _Entry(executable, None, None)
            else:
                weights = tuple(inputs[i] for i in self.variable_inputs)
                entry = _Entry(executable, weights, _pointers(weights))
            with _cache_lock:
                _cache[key] = entry
                _cache.move_to_end(key)
                while len(_cache) > _capacity:
                    _cache.popitem(last=False)
            return entry
        finally:
            with _cache_lock:
                _inflight.pop(key, None)
            event.set()


def _lookup(key):
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
        return entry


def _stage(error, default):
    stage = getattr(error, "stage", None)
    return stage if stage in STAGES else default
