"""The device side of a cluster: the cache key of a call, its weights, and the call into a backend.

    device = DeviceCluster(spec, cache=PROCESS_CACHE, settings=config.current)
    repeat = device.run(inputs, outputs)   # raises BackendError(stage, cause) on failure

`inputs` are numpy arrays (zero-copy views of TF tensors, from the native kernel); output i
goes into `outputs.allocate(i, shape)`. `repeat`: when the executable has a native model,
what the kernel needs to rerun this call by itself (`OutputSink.arm`'s arguments: the model,
its parameter inputs, the weight inputs it baked in, the compile-time inputs it baked by
value); calls it reruns never come here (csrc/fast_path.cc).

Compiled executables live in the `CompiledCache` the cluster is handed (ovtf.runtime.
compiled_cache: LRU, one compilation per key, the compile bound); which input dims they are
compiled for is the cluster's shape plan (ovtf.runtime.shape_plan: a cluster whose shapes keep
changing compiles them dynamic). Key: (cluster fingerprint, backend, precision, dtype and
shape of every keyed input, values of baked compile-time inputs, weights mode). A new batch
size compiles once and is a cache hit from then on. Counters: `compiles` (a real
compilation), `cache_hits` (found in memory), `disk_cache_hits` (a miss in memory that the
backend loaded from `set_cache_dir`'s directory instead of compiling), `dynamic_compiles`;
per backend, `devices[name]` (calls, rows of dim 0 of the first data input, failures,
seconds).

Backend: the one the cluster was partitioned for (`spec.backend`; a spec that records none
takes the backend selected when it is created): the partitioner chose the cluster's nodes
from that backend's operator support, so running it anywhere else could only fail.
`set_backend` reaches functions already instantiated by making TensorFlow re-instantiate
them (`ovtf.set_backend`), which partitions them again. Precision is read from
the settings handed in at every call, so `set_precision` applies to clusters that already exist.

Compile-time inputs
    Small integer inputs that feed shape arguments (Reshape's shape, a reduction's axes, ...;
    the backend's `operator_support().policy().compile_time_inputs`, from the registry
    entries' static inputs) are baked in as constants so that the compiled
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
    tens of microseconds on ResNet50; ovtf.runtime.pointers); a difference recompiles with
    the new weights. A cluster whose weights changed `WEIGHT_CHANGES_BEFORE_PARAMETERS` times
    (a training loop) switches to weights-as-parameters: one compilation, weights fed each
    call.

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
from typing import NamedTuple

from ovtf import backends
from ovtf import counters as _counters
from ovtf.backends import STAGES, BackendError
from ovtf.runtime.compiled_cache import PROCESS_CACHE, CacheEntry
from ovtf.runtime.pointers import data_pointers
from ovtf.runtime.shape_plan import ShapePlanner, compile_shapes, masked

__all__ = ["DeviceCluster", "WEIGHT_CHANGES_BEFORE_PARAMETERS", "scalar_slice_inputs"]

logger = logging.getLogger("ovtf")

WEIGHT_CHANGES_BEFORE_PARAMETERS = 3


class Repeat(NamedTuple):
    """What the kernel needs to rerun a call by itself (`OutputSink.arm(*repeat)`): the
    native model, which inputs are its parameters, whose buffers are baked-in weights, which
    are baked compile-time values, which input's first dim counts rows (-1: none), and the
    device whose counters the rerun adds to."""
    model: object
    parameter_inputs: list
    weight_inputs: list
    baked_inputs: list
    rows_input: int
    device: str


class DeviceCluster:
    """Runs one cluster on the backend it was partitioned for; thread-safe.

    `cache`: the CompiledCache its executables go to (the process's, unless handed another);
    `settings()`: the settings in force (`config.current`, handed in by the hook)."""

    def __init__(self, spec, cache=None, *, settings):
        self.spec = spec
        self.cache = PROCESS_CACHE if cache is None else cache
        self.settings = settings
        self.backend_name = spec.backend or settings().backend
        # Inputs that must stay Parameters (see "Scalars never baked into a StridedSlice")
        unbakeable = scalar_slice_inputs(spec)
        self.variable_inputs = tuple(i for i in spec.variable_inputs if i not in unbakeable)
        dynamic_allowed = False
        try:
            self._backend = backends.get(self.backend_name)
            policy = self._backend.operator_support().policy()
            self.compile_time_inputs = tuple(sorted(policy.compile_time_inputs(spec)
                                                    - set(spec.variable_inputs) - unbakeable))
            dynamic_allowed = bool(policy.dynamic_shapes)
        except Exception as error:  # fails at the first call, with a clear stage
            self._backend = BackendError("compile", error)
            self.compile_time_inputs = ()
        constant_like = set(self.variable_inputs) | set(self.compile_time_inputs)
        self.data_inputs = tuple(i for i in range(len(spec.inputs)) if i not in constant_like)
        self.shapes = ShapePlanner(spec.name, self.data_inputs, self.compile_time_inputs,
                                   dynamic_allowed)
        self.weight_changes = 0
        self.weights_as_parameters = not self.variable_inputs
        if len(self.variable_inputs) > 1:
            self._variables = operator.itemgetter(*self.variable_inputs)
        else:
            self._variables = lambda inputs, _i=self.variable_inputs: tuple(inputs[i] for i in _i)
        self._lock = threading.Lock()

    @property
    def dynamic_allowed(self) -> bool:
        """Whether this cluster may still compile dynamic dims (see ovtf.runtime.shape_plan)."""
        return self.shapes.dynamic_allowed

    # --- the hot path -----------------------------------------------------------------------

    def run(self, inputs: list, outputs):
        """Runs the call; returns how the kernel may repeat it by itself (a `Repeat`, the
        arguments of `OutputSink.arm`) when the executable allows that, else None."""
        backend = self._backend
        if isinstance(backend, BackendError):
            raise BackendError(backend.stage, backend.cause)
        backend_name = self.backend_name
        settings = self.settings()
        found = None
        while found is None:     # each retry follows a change that only happens once per way
            found = self._entry(backend, inputs, settings)
        entry, plan, weights_as_parameters = found
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

    def _entry(self, backend, inputs, settings):
        """(cache entry, shape plan, weights_as_parameters) for these inputs, compiling when
        needed; None when the cluster just changed how it compiles (its weights became
        parameters, or its shape plan narrowed after a failed dynamic compile): try again."""
        precision = settings.precision
        weights_as_parameters = self.weights_as_parameters or not backend.weights_as_constants()
        plan = self.shapes.plan
        key = self._key(inputs, self.backend_name, precision, weights_as_parameters, plan)
        entry = self.cache.lookup(key)
        if entry is None and self.shapes.dynamic_allowed:
            self.shapes.observe(inputs)
            if self.shapes.plan is not plan:      # changed now, or by another thread meanwhile
                plan = self.shapes.plan
                key = self._key(inputs, self.backend_name, precision, weights_as_parameters,
                                plan)
                entry = self.cache.lookup(key)
        if entry is not None and not weights_as_parameters:
            pointers = data_pointers(self._variables(inputs))
            if pointers != entry.pointers:
                entry = self._weights_changed(key, entry)
                if self.weights_as_parameters:
                    return None
        if entry is None:
            try:
                entry = self._compile(key, backend, inputs, settings, weights_as_parameters,
                                      plan)
            except BackendError as error:
                if plan[1] is None or not self.shapes.dynamic_failed(error, plan):
                    raise
                return None    # a narrower plan: fewer ways left to fail
        else:
            _counters.increment("cache_hits")
        return entry, plan, weights_as_parameters

    def _repeat(self, entry, plan, weights_as_parameters, rows_input):
        """`OutputSink.arm`'s arguments for this entry: the kernel may rerun its model for
        inputs of the same dims whose weight buffers (baked in) are the same and whose baked
        compile-time values are equal; None when its executable has no native model."""
        model = getattr(entry.executable, "native_model", None)
        if model is None:
            return None
        weights = () if weights_as_parameters else self.variable_inputs
        return Repeat(model, list(entry.executable.parameter_inputs), list(weights),
                      list(plan[2]), -1 if rows_input is None else rows_input,
                      self.backend_name)

    def _key(self, inputs, backend_name, precision, weights_as_parameters, plan):
        keyed, dynamic, baked = plan
        if dynamic is None:
            signature = tuple((inputs[i].dtype.str, inputs[i].shape) for i in keyed)
        else:
            signature = tuple((inputs[i].dtype.str, masked(inputs[i].shape, dims))
                              for i, dims in zip(keyed, dynamic))
        values = tuple(inputs[i].tobytes() + inputs[i].dtype.str.encode() + repr(inputs[i].shape).encode()
                       for i in baked)
        if weights_as_parameters:
            variables = tuple((inputs[i].dtype.str, inputs[i].shape) for i in self.variable_inputs)
        else:
            variables = None
        return (self.spec.fingerprint, backend_name, precision, signature, values, variables)

    # --- slow paths ------------------------------------------------------------------------

    def _weights_changed(self, key, entry):
        with self._lock:
            self.weight_changes += 1
            if self.weight_changes >= WEIGHT_CHANGES_BEFORE_PARAMETERS:
                if not self.weights_as_parameters:
                    logger.info("ovtf: cluster %s: weights changed %d times; feeding them as "
                                "parameters from now on", self.spec.name, self.weight_changes)
                self.weights_as_parameters = True
        self.cache.discard(key, entry)
        logger.debug("ovtf: cluster %s: weights changed, recompiling", self.spec.name)
        return None

    def _compile(self, key, backend, inputs, settings, weights_as_parameters, plan):
        def reusable(entry):
            return weights_as_parameters or \
                entry.pointers == data_pointers(self._variables(inputs))

        def build():
            constants = {i: inputs[i] for i in plan[2]}
            if not weights_as_parameters:
                constants.update({i: inputs[i] for i in self.variable_inputs})
            try:
                executable = backend.compile(self.spec, compile_shapes(plan, inputs), constants,
                                             settings.precision)
            except BackendError:
                raise
            except Exception as error:
                raise BackendError(_stage(error, "compile"), error) from error
            if getattr(executable, "loaded_from_cache", False):
                _counters.increment("disk_cache_hits")
            else:
                _counters.increment("compiles")
                if plan[1] is not None:
                    _counters.increment("dynamic_compiles")
            if weights_as_parameters:
                return CacheEntry(executable)
            weights = tuple(inputs[i] for i in self.variable_inputs)
            return CacheEntry(executable, weights, data_pointers(weights))

        return self.cache.get_or_compile(key, build, reusable,
                                         timeout=settings.compile_timeout,
                                         name=self.spec.name)


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


def _stage(error, default):
    stage = getattr(error, "stage", None)
    return stage if stage in STAGES else default
