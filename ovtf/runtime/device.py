"""The device side of a cluster: compiled-cluster cache, weights, and the call into a backend.

    device = DeviceCluster(spec)
    repeat = device.run(inputs, outputs)   # raises BackendError(stage, cause) on failure

`inputs` are numpy arrays (zero-copy views of TF tensors, from the native kernel); output i
goes into `outputs.allocate(i, shape)`. `repeat`: when the executable has a native model,
what the kernel needs to rerun this call by itself (`OutputSink.arm`'s arguments: the model,
its parameter inputs, the weight inputs it baked in, the compile-time inputs it baked by
value); calls it reruns never come here (csrc/ovtf_native.cc, "Fast path"). An entry that
leaves the cache retires its executable, so no kernel keeps running it.

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

Variable shapes (no recompile cliff)
    A cluster whose input shapes keep changing (NLP traffic: 40 sequence lengths through one
    `input_signature=[None, None]` function) would compile once per shape and, with more
    shapes than the LRU holds, never hit. So after `DYNAMIC_AFTER_SHAPES` distinct input
    signatures of one cluster, the dims that varied among them are compiled dynamic (-1):
    one executable serves every value along them (counter `dynamic_compiles`; a dim that
    starts varying later widens it once more). Only where the backend's operator support
    allows it (`support.policy().dynamic_shapes`; a static-shape device such as the NPU,
    `rules.StaticShapes`, or SPLIT, never gets one: it compiles per shape). Inputs whose
    rank changes stay static. Compile-time integer inputs whose values varied too (a
    `tf.range(n)` limit from outside the cluster) are then fed as parameters, where the
    frontend accepts that; if the dynamic compile fails, they are keyed by value again, and
    if it still fails the cluster compiles per shape as before.

Compile-time inputs
    Small integer inputs that feed shape arguments (Reshape's shape, a reduction's axes, ...;
    the backend's `operator_support().policy().compile_time_inputs`, from the registry
    entries' static inputs) are baked in as constants so that the compiled
    model has static shapes; their values are part of the key.

Compile bound
    A compile runs in a worker thread and the call waits at most
    `config.settings.compile_timeout` seconds (`ovtf.set_compile_timeout`,
    OVTF_COMPILE_TIMEOUT; 0: no bound) for it; past that it fails with stage "compile"
    (`CompileTimeout`): the signature runs in TF, or raises with fallback off. See `_bounded`.

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

Scalars never baked into a StridedSlice
    A rank-0 weight or compile-time input that a StridedSlice reads as its data (`v[None]`
    of a scalar variable) stays a Parameter: OpenVINO folds that slice of a constant wrong
    (`scalar_slice_inputs`).
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
           "cache_size", "clear_cache", "WEIGHT_CHANGES_BEFORE_PARAMETERS",
           "DYNAMIC_AFTER_SHAPES"]

logger = logging.getLogger("ovtf")

# Compiled executables kept in memory, over all clusters. A CNN at one batch size is 1-3
# clusters, so this holds about ten models x batch sizes. Each entry owns its compiled
# model, whose repacked weights are about the size of the cluster's weights (ResNet50:
# ~100 MB), so the bound is also a memory bound: 32 ResNet50-sized entries ~ 3 GB.
DEFAULT_CACHE_SIZE = 32
WEIGHT_CHANGES_BEFORE_PARAMETERS = 3
# Distinct input signatures of one cluster compiled static before the dims that varied go
# dynamic. 3: a model served at two batch sizes keeps its (faster) static executables; a
# third shape says the shape is open (benchmarks/variable_shapes.py).
DYNAMIC_AFTER_SHAPES = 3
_SHAPES_REMEMBERED = 64     # distinct signatures remembered per cluster to find the varying dims

_cache_lock = threading.Lock()
_cache: OrderedDict = OrderedDict()     # key -> _Entry
_inflight: dict = {}                    # key -> threading.Event (compilation under way)
_abandoned: dict = {}                   # key -> BackendError: compile still running past its bound
_capacity = DEFAULT_CACHE_SIZE


def set_cache_size(entries: int) -> None:
    """Bound the number of compiled executables kept in memory (least recently used go)."""
    global _capacity
    if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
        raise ValueError(f"cache size: {entries!r} is not an integer >= 1")
    with _cache_lock:
        _capacity = entries
        while len(_cache) > _capacity:
            _retire(_cache.popitem(last=False)[1])


def cache_size() -> int:
    return _capacity


def clear_cache() -> None:
    with _cache_lock:
        for entry in _cache.values():
            _retire(entry)
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
        # Inputs that must stay Parameters (see "Scalars never baked into a StridedSlice")
        unbakeable = scalar_slice_inputs(spec)
        self.variable_inputs = tuple(i for i in spec.variable_inputs if i not in unbakeable)
        self.dynamic_allowed = False
        try:
            self._backend = backends.get(self.backend_name)
            policy = self._backend.operator_support().policy()
            self.compile_time_inputs = tuple(sorted(policy.compile_time_inputs(spec)
                                                    - set(spec.variable_inputs) - unbakeable))
            self.dynamic_allowed = bool(policy.dynamic_shapes)
        except Exception as error:  # fails at the first call, with a clear stage
            self._backend = BackendError("compile", error)
            self.compile_time_inputs = ()
        constant_like = set(self.variable_inputs) | set(self.compile_time_inputs)
        self.data_inputs = tuple(i for i in range(len(spec.inputs)) if i not in constant_like)
        # Shape plan: (keyed inputs, their dynamic dims or None, baked compile-time inputs).
        # Static until the shapes vary (see "Variable shapes" above); replaced, never mutated,
        # so the hot path reads it without the lock.
        self._plan = (self.data_inputs, None, self.compile_time_inputs)
        self._signatures_seen: OrderedDict = OrderedDict()
        self._feed_values = True      # False once feeding varying compile-time inputs failed
        self.weight_changes = 0
        self.weights_as_parameters = not self.variable_inputs
        if len(self.variable_inputs) > 1:
            self._variables = operator.itemgetter(*self.variable_inputs)
        else:
            self._variables = lambda inputs, _i=self.variable_inputs: tuple(inputs[i] for i in _i)
        self._lock = threading.Lock()

    # --- the hot path -----------------------------------------------------------------------

    def run(self, inputs: list, outputs):
        """Runs the call; returns how the kernel may repeat it by itself (the arguments of
        `OutputSink.arm`) when the executable allows that, else None."""
        backend = self._backend
        if isinstance(backend, BackendError):
            raise BackendError(backend.stage, backend.cause)
        backend_name = self.backend_name
        precision = config.settings.precision

        weights_as_parameters = self.weights_as_parameters or not backend.weights_as_constants()
        plan = self._plan
        key = self._key(inputs, backend_name, precision, weights_as_parameters, plan)
        entry = _lookup(key)
        if entry is None and self.dynamic_allowed:
            self._shapes_vary(inputs)
            if self._plan is not plan:      # changed now, or by another thread meanwhile
                plan = self._plan
                key = self._key(inputs, backend_name, precision, weights_as_parameters, plan)
                entry = _lookup(key)
        if entry is not None and not weights_as_parameters:
            pointers = _pointers(self._variables(inputs))
            if pointers != entry.pointers:
                entry = self._weights_changed(key, entry, inputs, pointers)
                if self.weights_as_parameters:
                    return self.run(inputs, outputs)
        if entry is None:
            try:
                entry = self._compile(key, backend, inputs, precision, weights_as_parameters,
                                      plan)
            except BackendError as error:
                if plan[1] is None or not self._dynamic_failed(error, plan):
                    raise
                return self.run(inputs, outputs)    # a narrower plan: fewer ways left to fail
        else:
            _counters.increment("cache_hits")
        rows_input = next((i for i in self.data_inputs if inputs[i].ndim), None)
        rows = int(inputs[rows_input].shape[0]) if rows_input is not None else 0
        start, failed = time.perf_counter(), True
        try:
            entry.executable.run(inputs, outputs)
            failed = False
        except BackendError:
            raise
        except Exception as error:
            raise BackendError(_stage(error, "run"), error) from error
        finally:
            _counters.record_device(backend_name, rows, time.perf_counter() - start, failed)
        return self._repeat(entry, plan, weights_as_parameters, rows_input)

    def _repeat(self, entry, plan, weights_as_parameters, rows_input):
        """`OutputSink.arm`'s arguments for this entry: the kernel may rerun its model for
        inputs of the same dims whose weight buffers (baked in) are the same and whose baked
        compile-time values are equal; None when its executable has no native model."""
        model = getattr(entry.executable, "native_model", None)
        if model is None:
            return None
        weights = () if weights_as_parameters else self.variable_inputs
        return (model, list(entry.executable.parameter_inputs), list(weights), list(plan[2]),
                -1 if rows_input is None else rows_input, self.backend_name)

    def _key(self, inputs, backend_name, precision, weights_as_parameters, plan=None):
        keyed, dynamic, baked = plan or self._plan
        if dynamic is None:
            signature = tuple((inputs[i].dtype.str, inputs[i].shape) for i in keyed)
        else:
            signature = tuple((inputs[i].dtype.str, _masked(inputs[i].shape, dims))
                              for i, dims in zip(keyed, dynamic))
        values = tuple(inputs[i].tobytes() + inputs[i].dtype.str.encode() + repr(inputs[i].shape).encode()
                       for i in baked)
        if weights_as_parameters:
            variables = tuple((inputs[i].dtype.str, inputs[i].shape) for i in self.variable_inputs)
        else:
            variables = None
        return (self.spec.fingerprint, backend_name, precision, signature, values, variables)

    # --- slow paths ------------------------------------------------------------------------

    def _shapes_vary(self, inputs) -> bool:
        """A signature with no compiled executable: remember it, and once
        DYNAMIC_AFTER_SHAPES distinct ones were seen, leave the dims that varied among them
        dynamic (and feed compile-time inputs whose values varied). True: the plan changed."""
        shapes = tuple(tuple(inputs[i].shape) for i in self.data_inputs)
        values = tuple(inputs[i].tobytes() for i in self.compile_time_inputs)
        with self._lock:
            seen = self._signatures_seen
            seen[(shapes, values)] = None
            seen.move_to_end((shapes, values))
            while len(seen) > _SHAPES_REMEMBERED:
                seen.popitem(last=False)
            if len(seen) < DYNAMIC_AFTER_SHAPES:
                return False
            signatures = list(seen)
            dims_by_input = []
            for position in range(len(self.data_inputs)):
                all_shapes = [signature[0][position] for signature in signatures]
                if len({len(shape) for shape in all_shapes}) != 1:
                    dims_by_input.append(())    # the rank changes: this input stays static
                    continue
                dims_by_input.append(tuple(d for d in range(len(all_shapes[0]))
                                           if len({shape[d] for shape in all_shapes}) > 1))
            fed = tuple(index for position, index in enumerate(self.compile_time_inputs)
                        if self._feed_values
                        and len({signature[1][position] for signature in signatures}) > 1)
            if not any(dims_by_input) and not fed:
                return False
            baked = tuple(i for i in self.compile_time_inputs if i not in fed)
            keyed = self.data_inputs + fed
            plan = (keyed, tuple(dims_by_input) + ((),) * len(fed), baked)
            if plan == self._plan:
                return False
            self._plan = plan
        shown = ", ".join(f"input {index} dims {list(dims)}"
                          for index, dims in zip(self.data_inputs, dims_by_input) if dims)
        logger.info("ovtf: cluster %s: %d input shapes seen; compiling it with %s dynamic%s",
                    self.spec.name, len(signatures), shown or "no dims",
                    f", compile-time input(s) {list(fed)} fed as parameters" if fed else "")
        return True

    def _dynamic_failed(self, error, plan) -> bool:
        """The dynamic compile of `plan` failed: key varying compile-time inputs by value
        again, or (when none were fed) compile per shape from now on."""
        with self._lock:
            if self._plan is not plan:
                return True     # another thread changed the plan already: try that one
            keyed, dynamic, baked = plan
            fed = keyed[len(self.data_inputs):]
            if fed and self._feed_values:
                self._feed_values = False
                self._plan = (self.data_inputs, dynamic[:len(self.data_inputs)],
                              self.compile_time_inputs)
                what = f"compile-time inputs {list(fed)} are baked in by value again"
            else:
                self.dynamic_allowed = False
                self._plan = (self.data_inputs, None, self.compile_time_inputs)
                what = "it compiles once per input shape"
        logger.info("ovtf: cluster %s: compiling with dynamic shapes failed (%s: %s); %s",
                    self.spec.name, error.stage, error, what)
        return True

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
                _retire(entry)
        logger.debug("ovtf: cluster %s: weights changed, recompiling", self.spec.name)
        return None

    def _compile(self, key, backend, inputs, precision, weights_as_parameters, plan=None):
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
            abandoned = _abandoned.get(key)
            if abandoned is not None:   # that compile is still running past its bound
                raise BackendError(abandoned.stage, abandoned.cause)
        try:
            keyed, dynamic, baked = plan or self._plan
            constants = {i: inputs[i] for i in baked}
            if not weights_as_parameters:
                constants.update({i: inputs[i] for i in self.variable_inputs})
            shapes = [tuple(array.shape) for array in inputs]
            if dynamic is not None:
                for index, dims in zip(keyed, dynamic):
                    shapes[index] = _masked(shapes[index], dims)
            weights = None if weights_as_parameters else \
                tuple(inputs[i] for i in self.variable_inputs)

            def compile_and_store():
                try:
                    executable = backend.compile(self.spec, shapes, constants, precision)
                except BackendError:
                    raise
                except Exception as error:
                    raise BackendError(_stage(error, "compile"), error) from error
                return _store(key, executable, dynamic is not None, weights)

            timeout = config.settings.compile_timeout
            if not timeout:
                return compile_and_store()
            return _bounded(compile_and_store, timeout, key, self.spec.name)
        finally:
            with _cache_lock:
                _inflight.pop(key, None)
            event.set()


def _store(key, executable, dynamic: bool, weights):
    """Count a finished compile and cache its executable; returns the entry."""
    if getattr(executable, "loaded_from_cache", False):
        _counters.increment("disk_cache_hits")
    else:
        _counters.increment("compiles")
        if dynamic:
            _counters.increment("dynamic_compiles")
    if weights is None:
        entry = _Entry(executable, None, None)
    else:
        entry = _Entry(executable, weights, _pointers(weights))
    with _cache_lock:
        _cache[key] = entry
        _cache.move_to_end(key)
        while len(_cache) > _capacity:
            _retire(_cache.popitem(last=False)[1])
    return entry


class CompileTimeout(RuntimeError):
    """A cluster compile did not finish within `ovtf.set_compile_timeout`'s bound."""


def _bounded(compile_and_store, timeout: float, key, name: str):
    """Run `compile_and_store` in a worker; wait at most `timeout` seconds for it.

    OpenVINO cannot cancel a compile, so one that overruns is abandoned, not stopped: the
    call gets BackendError("compile", CompileTimeout) (its signature then runs in TF, see
    ovtf.runtime.cluster), calls of the same key meanwhile get the same error instead of
    starting another compile, and if the worker ever finishes, its executable is cached
    for later kernels of the cluster (its own signature stays in TF for the kernel that
    gave up). The worker is a daemon thread: a compile that never ends cannot keep the
    process from exiting."""
    done = threading.Event()
    outcome = {}

    def work():
        try:
            outcome["entry"] = compile_and_store()
        except BaseException as error:   # noqa: BLE001 - handed to the waiting call
            outcome["error"] = error
        finally:
            with _cache_lock:
                late = _abandoned.pop(key, None) is not None
                done.set()
            if late:
                logger.info("ovtf: cluster %s: the compile abandoned after its bound "
                            "finished (%s)", name,
                            "cached" if "entry" in outcome else outcome.get("error"))

    worker = threading.Thread(target=work, name=f"ovtf-compile-{name}", daemon=True)
    worker.start()
    finished = done.wait(timeout)
    with _cache_lock:
        if not finished and not done.is_set():
            failure = BackendError("compile", CompileTimeout(
                f"compiling cluster {name} did not finish within {timeout:g} s (the compile "
                f"timeout: ovtf.set_compile_timeout / OVTF_COMPILE_TIMEOUT; 0 means no bound)"))
            _abandoned[key] = failure
            raise failure
    if "error" in outcome:
        raise outcome["error"]
    return outcome["entry"]


def scalar_slice_inputs(spec) -> frozenset:
    """Cluster inputs that may be rank 0 (or of unknown rank) and are read as the data input
    of a StridedSlice (directly or through Identity): such an input is never baked in.

    OpenVINO's constant folding of a StridedSlice over a rank-0 constant (`v[None]` of a
    scalar variable) reads past the scalar: garbage (int32), 0.0 (float), different on every
    compile, measured on OpenVINO 2026.4 with opset13.strided_slice alone. A Parameter of
    the same value is sliced right, so these inputs are fed at every call (a scalar: no cost).
    """
    nodes = {node.name: node for node in spec.graph_def.node}
    index_of = {tensor.name: index for index, tensor in enumerate(spec.inputs)}
    found = set()
    for node in spec.graph_def.node:
        if node.op != "StridedSlice" or not node.input:
            continue
        name = node.input[0].split(":")[0]
        while name in nodes and nodes[name].op == "Identity" and nodes[name].input:
            name = nodes[name].input[0].split(":")[0]
        index = index_of.get(name)
        if index is not None and spec.inputs[index].shape in (None, ()):
            found.add(index)
    return frozenset(found)


def _retire(entry) -> None:
    """An entry leaves the cache: kernels stop rerunning its model by themselves (they hold
    it until their next call), so the cache's bound also bounds what they keep alive."""
    retire = getattr(entry.executable, "retire", None)
    if retire is not None:
        retire()


def _masked(shape, dims):
    """`shape` with `dims` set to -1 (dynamic); unchanged when it has no such dims."""
    if not dims or len(shape) <= dims[-1]:
        return shape
    shape = list(shape)
    for dim in dims:
        shape[dim] = -1
    return tuple(shape)


def _lookup(key):
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
        return entry


def _stage(error, default):
    stage = getattr(error, "stage", None)
    return stage if stage in STAGES else default
