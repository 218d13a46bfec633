"""The OpenVINO backend family: its device-name grammar, and the backend that imports a
cluster with ovtf.importer, compiles it on an OpenVINO device (CPU here; any device string
OpenVINO accepts) and runs it from any thread.

Names (`OpenVINOFamily`): the devices OpenVINO lists on this machine ("CPU", "GPU", "GPU.1",
"NPU"; case-insensitive) and device strings over them: "AUTO", "AUTO:<dev>,...",
"HETERO:<dev>,...", "MULTI:<dev>,..." (accepted when every device named exists); VPU,
MYRIAD, HDDL, VAD-M raise ValueError (removed in OpenVINO 2023.0: NPU or SPLIT:); a GPU or
NPU name that is not here ("GPU", "GPU.1", "NPU.0", also as a HETERO/MULTI member) raises
ValueError saying why (`ovtf.backends.devices.absent_device_message`: what OpenVINO lists,
what the plugin says, for a GPU what OpenCL has). "GPU" also names OpenVINO's default GPU
when "GPU.0", "GPU.1" are listed. Listed: the devices, plus one HETERO and one MULTI
combination of all of them when there are several.

What a device backend can run (`operator_support`): the OpenVINO registry
(`ovtf.ocm.TableSupport`), narrowed per device kind:
* NPU: `rules.StaticShapes` (a signature with a dynamic dimension is not placed);
* GPU, NPU (every single device but the CPU): the device's own `core.query_model`, asked
  per cluster at compile time. query_model takes an `ov.Model`, which exists only once a
  cluster is imported, so it cannot narrow the partitioning of the first graph; instead a
  cluster with an op the device refuses fails to compile (BackendError "compile", naming
  the OpenVINO ops and the TF op types behind them: the cluster runs in TensorFlow), and
  those TF op types are refused by the device's support from then on (`refused_ops`), so
  graphs partitioned later keep them in TensorFlow. Not asked on the CPU (the registry is
  verified against the CPU plugin op by op in tests/test_ops.py, and there query_model cost
  more than compiling: 86 ms vs 69 ms for a 4-op cluster), nor on composite devices.
Compile configs per device and precision: `ovtf.backends.devices.compile_config` (GPU f32 =
INFERENCE_PRECISION_HINT f32 + EXECUTION_MODE_HINT ACCURACY; NPU computes in f16, said once).
`describe()` / `list_devices()`: what `ovtf.devices()` returns.

Choices, with the measurements behind them (2-core AMD EPYC with AVX-512 BF16, shared
with other work, so medians of interleaved runs; MobileNetV2 unless said otherwise):
* INFERENCE_PRECISION_HINT is always set explicitly: f32 by default (the CPU plugin's own
  default on AVX-512-BF16 machines is bf16, which deviates visibly from TensorFlow), bf16
  or f16 on request.
* PERFORMANCE_HINT LATENCY (1 stream x 2 threads) rather than THROUGHPUT (2 streams x 1):
  TensorFlow calls a cluster once per step and waits. Batch 1 from one thread: 210 vs
  125 inferences/s; batch 16: 205 vs 100 images/s. THROUGHPUT only wins with 4 threads
  calling at batch 1 (273 vs 225/s), which TF programs rarely do.
* A cluster on a plain device is compiled through OpenVINO's C API (`NativeExecutable`:
  the model serialized to a temporary IR, read and compiled by `_native.OpenVINOModel` with
  the same settings), so that the OVTFCluster kernel can rerun it without Python (the fast
  path, csrc/ovtf_native.cc). Composite devices, settings that are not plain
  strings/numbers and I/O types that differ from TF's use the Python API below; so does
  everything when `libopenvino_c` cannot be loaded.
* Inputs are wrapped, not copied (`ov.Tensor(array, shared_memory=True)`, read-only TF
  buffers through `ovtf.importer.memory.shareable`); outputs are copied from the request's
  buffers into the TF-allocated arrays the sink hands out (never aliased).
* Infer requests are pooled per compiled model: a thread takes one (or creates one when all
  are busy), so concurrent calls never share a request and never wait for each other here
  (the pool is a list under a lock held for a pop/append). A synchronous request per call
  fits the kernel, which runs the device path inline; AsyncInferQueue would add a callback
  hop for nothing. Overhead of the whole run() path over a bare `request.infer` on the same
  compiled model: not measurable (6.64 vs 6.64 ms median).
* OVTF_CACHE_DIR / set_cache_dir: ovtf's own checksummed disk cache
  (`ovtf.backends.disk_cache`) of `compiled.export_model()` blobs, loaded with
  `core.import_model`, so a second process skips conversion and compilation
  (`loaded_from_cache` tells the runtime). Not OpenVINO's CACHE_DIR: OpenVINO 2026.4 imports
  a blob with damaged bytes in its body without noticing and computes wrong numbers; ovtf
  verifies a sha256 first and recompiles a damaged entry. Devices that cannot export
  (AUTO, MULTI: "Not Implemented") are compiled without a disk cache. A cluster compiled
  through the C API is exported and imported through it too (its own key, `_native_key`),
  so a cached cluster also runs on the kernel's fast path. The C API's import takes no
  settings: the model gets the device defaults of the core it is imported into, so each
  distinct set of settings has a core of its own with them as defaults, and an imported
  model that reports any setting otherwise is refused (measured: imported without them, an
  f32 CPU blob comes back as bf16 on this machine).
  (Measured with OpenVINO's CACHE_DIR, same order for export/import: ResNet50 compile
  0.65-0.71 s -> 0.28-0.30 s load; the first compile pays ~0.4 s more to write the blob.)
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading

import numpy as np

from ovtf import config
from ovtf.backends import (Backend, BackendError, BackendFamily, Executable, ZeroSizeTensor,
                           register_family)
from ovtf.backends import devices as device_facts
from ovtf.importer import ImportFailure, has_exact_division, import_cluster, ov_type, shareable
from ovtf.once import Once
from ovtf.spec import ARG_PREFIX, RET_PREFIX

logger = logging.getLogger("ovtf")

_PRECISION_HINTS = {"f32": "f32", "bf16": "bf16", "f16": "f16"}
DEFAULT_PERFORMANCE_HINT = "LATENCY"
_precision_notices = Once()   # (device, precision) whose compute precision differs, said once

_core_lock = threading.Lock()
_core = None


def core():
    """The process-wide `openvino.Core` (creating one costs milliseconds and loads plugins)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov
            _core = ov.Core()
        return _core


_COMPOSITE = ("AUTO", "HETERO", "MULTI")
# Device names of OpenVINO plugins removed in 2023.0 (a ValueError pointing at NPU / SPLIT:).
REMOVED_DEVICES = {"VPU": "the VPU (Myriad) plugin", "MYRIAD": "the MYRIAD plugin",
                   "HDDL": "the HDDL (VAD-M) plugin", "VAD-M": "the HDDL (VAD-M) plugin",
                   "VAD_M": "the HDDL (VAD-M) plugin"}


class OpenVINOFamily(BackendFamily):
    def __init__(self):
        self._devices = None
        self._absent: dict = {}    # upper-case name -> why it is not here (ValueError text)
        self._lock = threading.Lock()

    def devices(self) -> list:
        """`ov.Core().available_devices`, read once (an empty list when OpenVINO is broken)."""
        with self._lock:
            if self._devices is None:
                try:
                    self._devices = list(core().available_devices)
                except Exception as error:  # still list the registered backends
                    logger.warning("ovtf: OpenVINO devices unavailable: %s", error)
                    self._devices = []
            return list(self._devices)

    def refresh(self) -> None:
        """Forget the devices read (and why absent ones are absent): read them again."""
        with self._lock:
            self._devices = None
            self._absent.clear()

    def names(self) -> list:
        devices = self.devices()
        names = list(devices)
        if len(devices) > 1:
            names += [f"HETERO:{','.join(devices)}", f"MULTI:{','.join(devices)}"]
        return names

    def _device(self, key: str, by_upper: dict) -> str | None:
        """The spelling of one device name OpenVINO accepts here: as listed, "GPU" for
        OpenVINO's default one when "GPU.0" is listed, "GPU.0" when just "GPU" is."""
        if key in by_upper:
            return by_upper[key]
        base, _, index = key.partition(".")
        if not index and f"{base}.0" in by_upper:
            return base
        if index == "0" and base in by_upper:
            return key
        return None

    def _absent_error(self, name: str, within: str | None = None) -> ValueError:
        key = (name.strip().upper(), within)
        with self._lock:
            message = self._absent.get(key)
        if message is None:
            message = device_facts.absent_device_message(name, core(), within)
            with self._lock:
                self._absent[key] = message
        return ValueError(message)

    def canonical_name(self, name: str) -> str | None:
        key = name.strip().upper()
        removed = REMOVED_DEVICES.get(key.split(".")[0])
        if removed:
            raise ValueError(
                f"backend {name!r}: {removed} left OpenVINO in 2023.0 (its plugin was removed); "
                "use 'NPU' (Intel's current VPU, OpenVINO's NPU plugin) or "
                "'SPLIT:<dev>,<dev>,...' to divide one batch over several devices "
                "(e.g. 'SPLIT:NPU.0,NPU.1')")
        devices = self.devices()
        by_upper = {device.upper(): device for device in devices}
        found = self._device(key, by_upper)
        if found is not None:
            return found
        if device_facts.is_physical_name(key):   # a GPU or NPU that is not here: say why
            raise self._absent_error(name)
        prefix, _, rest = key.partition(":")
        if prefix in _COMPOSITE and devices:
            if prefix == "AUTO" and not rest:
                return "AUTO"
            parts = [part.strip() for part in rest.split(",") if part.strip()]
            resolved = [self._device(part, by_upper) for part in parts]
            for part, device in zip(parts, resolved):
                if device is None and device_facts.is_physical_name(part):
                    raise self._absent_error(part, name.strip())
            if parts and all(resolved):
                return f"{prefix}:{','.join(resolved)}"
        return None

    def create(self, canonical: str) -> Backend:
        return OpenVINOBackend(canonical)



# The CPU plugin's snippets (its JIT for fused element-wise subgraphs) can run out of vector
# registers on a long element-wise chain and refuse the whole model ("Can't allocate registers
# for a snippet": the exact Atan2 lowering between a constant and a broadcast input, TF's
# BinaryOpTest.testFloatDifferentShapes, on AVX2). Such a model is compiled again with snippets
# off (the same ops as separate kernels); a model that compiles is never touched. The retried
# compilation is not exported to the disk cache: a CPU blob is recompiled on import with the
# cache key's settings, which would fail the same way.
_SNIPPET_REGISTERS = "allocate registers for a snippet"


def _compile_python(spec, model, device, settings):
    """(compiled model, whether snippets had to be turned off) through the Python API."""
    try:
        return core().compile_model(model, device, settings), False
    except Exception as error:
        if _SNIPPET_REGISTERS not in str(error) or "SNIPPETS_MODE" in settings:
            raise
        logger.info("ovtf: cluster %s: OpenVINO's snippets ran out of registers on %s; "
                    "compiling it with SNIPPETS_MODE=DISABLE", spec.name, device)
        return core().compile_model(model, device, dict(settings, SNIPPETS_MODE="DISABLE")), True


class OpenVINOBackend(Backend):
    def __init__(self, device: str = "CPU", performance_hint: str = DEFAULT_PERFORMANCE_HINT,
                 extra_config: dict | None = None):
        self.name = device
        self.device = device
        self.performance_hint = performance_hint
        self.extra_config = dict(extra_config or {})
        self._facts: dict = {}       # (device, property) -> value read from OpenVINO (or None)
        self.refused_ops: dict = {}  # TF op type -> why the device's query_model refused it

    # --- what the device is ------------------------------------------------------------------

    @property
    def device_kind(self) -> str:
        """"CPU", "GPU", "NPU", or the composite's prefix ("HETERO", "AUTO", ...)."""
        return device_facts.kind_of(self.device)

    @property
    def queries_model(self) -> bool:
        """Whether each cluster is checked with the device's own `query_model` before it
        is compiled: GPU and NPU (and other single devices), not the CPU (the registry is
        verified on the CPU plugin op by op, tests/test_ops.py, and on it query_model costs
        more than compiling: 86 ms vs 69 ms for a 4-op cluster here), not composite devices
        (HETERO places unsupported ops itself; AUTO/MULTI pick a device per request)."""
        return self.device_kind not in ("CPU",) + _COMPOSITE and ":" not in self.device

    def _fact(self, device: str, key: str):
        if (device, key) not in self._facts:
            try:
                value = core().get_property(device, key)
            except Exception:
                value = None
            if key == "SUPPORTED_PROPERTIES" and value is not None:
                value = frozenset(str(name) for name in value)
            elif key == "OPTIMIZATION_CAPABILITIES" and value is not None:
                value = [str(capability) for capability in value]
            self._facts[(device, key)] = value
        return self._facts[(device, key)]

    def operator_support(self):
        """The OpenVINO registry, narrowed for the device: static shapes on the NPU, and
        the op types its query_model refused in a cluster compiled earlier."""
        support = self.__dict__.get("_support")
        if support is None:
            from ovtf import ocm
            from ovtf.ocm import TableSupport, rules
            table = TableSupport(target=self.name)
            parts = [table]
            if self.device_kind == "NPU":
                parts.append(rules.StaticShapes())
            if self.queries_model:
                parts.append(_query_refusals(self, table.op_types()))
            support = self.__dict__["_support"] = (
                ocm.chain(*parts, target=self.name) if len(parts) > 1 else table)
        return support

    def describe(self) -> dict:
        """What `ovtf.devices()` says about this device (composites: their members)."""
        if ":" in self.device or self.device_kind in _COMPOSITE:
            return {"name": self.name, "full_name": f"OpenVINO {self.device}", "kind": self.device_kind,
                    "precisions": [], "capabilities": [], "emulated": False}
        return device_facts.describe(core(), self.device)

    # --- compiling -----------------------------------------------------------------------------

    def _device_config(self, device: str, precision: str):
        kind = device_facts.kind_of(device)
        capabilities = supported = None
        if kind in ("GPU", "NPU"):
            capabilities = self._fact(device, "OPTIMIZATION_CAPABILITIES")
            supported = self._fact(device, "SUPPORTED_PROPERTIES")
        chosen = device_facts.compile_config(device, precision, capabilities, supported,
                                             self.performance_hint)
        if chosen.note and _precision_notices.first((device, precision)):
            logger.info("ovtf: %s", chosen.note)
        return chosen

    def compile_config(self, precision: str) -> dict:
        if precision not in _PRECISION_HINTS:
            raise BackendError("compile", f"unknown precision {precision!r}")
        prefix, _, members = self.device.partition(":")
        if prefix in _COMPOSITE:
            # composite devices: the precision belongs to each member device
            settings = {"PERFORMANCE_HINT": self.performance_hint}
            names = [m for m in members.split(",") if m] or list(core().available_devices)
            settings["DEVICE_PROPERTIES"] = {
                name: {k: v for k, v in self._device_config(name, precision).settings.items()
                       if k != "PERFORMANCE_HINT"} for name in names}
        else:
            settings = dict(self._device_config(self.device, precision).settings)
        settings.update(self.extra_config)
        return settings

    def compile(self, spec, input_shapes, constants, precision) -> Executable:
        from ovtf.backends import disk_cache

        settings = self.compile_config(precision)
        cache = disk_cache.open_cache(config.settings.cache_dir) if self._exportable else None
        key = None
        if cache is not None:
            key = disk_cache.make_key(
                (disk_cache.stable_fingerprint(spec), self.device, sorted(map(str, settings.items())),
                 [tuple(shape) for shape in input_shapes], sorted(constants)),
                [constants[index] for index in sorted(constants)])
            cached = self._import_cached(cache, key, settings, spec, constants)
            if cached is not None:
                return cached
        try:
            model = import_cluster(spec, input_shapes, constants)
        except ImportFailure as error:
            raise BackendError("import", error) from error
        empty = zero_size_tensor(model)
        if empty is not None:
            raise BackendError("import", ZeroSizeTensor(f"cluster {spec.name}: {empty}"))
        if self.queries_model:
            self._check_query(spec, model, settings)
        native = self._compile_native(spec, model, settings, constants)
        if native is not None:
            if cache is not None:
                self._export(cache, _native_key(key), lambda: _native_blob(native.native_model))
            return native
        try:
            compiled, snippets_off = _compile_python(spec, model, self.device, settings)
        except Exception as error:
            raise BackendError("compile", f"cluster {spec.name} on {self.device}: "
                                          f"{device_facts.plugin_reason(error)} ({error})") from error
        if cache is not None and not snippets_off:
            self._export(cache, key, lambda: compiled.export_model().getvalue())
        return self._executable(compiled, constants, spec, loaded_from_cache=False)

    def _check_query(self, spec, model, settings) -> None:
        """The device's own answer for this cluster (`core.query_model`): every OpenVINO op
        of the imported model that computes must be in it, or the cluster is not compiled
        (BackendError "compile": it runs in TensorFlow, with the ops named) and the TF op
        types those ops came from stay in TensorFlow on this device in graphs partitioned
        from now on (`refused_ops`, read by the device's operator support)."""
        try:
            answer = core().query_model(model, self.device, settings)
        except Exception as error:
            raise BackendError("compile", f"cluster {spec.name}: query_model on {self.device} "
                                          f"failed: {device_facts.plugin_reason(error)}") from error
        missing = [op for op in model.get_ops()
                   if op.get_type_name() not in _NOT_COMPUTE and op.get_friendly_name() not in answer]
        if not missing:
            return
        by_name = {node.name: node.op for node in spec.graph_def.node
                   if not node.name.startswith((ARG_PREFIX, RET_PREFIX))}
        refused = {}
        for op in missing:
            tf_name = _tf_node(op.get_friendly_name(), by_name)
            if tf_name is not None:
                refused.setdefault(by_name[tf_name], []).append(f"{op.get_type_name()} ({tf_name})")
        shown = ", ".join(f"{op.get_type_name()} {op.get_friendly_name()!r}" for op in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        for tf_op, ov_ops in refused.items():
            if tf_op not in self.refused_ops:
                self.refused_ops[tf_op] = (f"{tf_op} refused by {self.device}'s query_model "
                                           f"(OpenVINO {', '.join(ov_ops[:3])} in cluster {spec.name})")
                logger.warning("ovtf: %s; %s stays in TensorFlow on %s in graphs partitioned "
                               "from now on", self.refused_ops[tf_op], tf_op, self.device)
        raise BackendError("compile", f"cluster {spec.name}: {self.device}'s query_model does not "
                                      f"support OpenVINO op(s) {shown}{more}"
                                      + (f" (from TF op types {', '.join(sorted(refused))})"
                                         if refused else ""))

    def _compile_native(self, spec, model, settings, constants):
        """The cluster compiled through OpenVINO's C API (`NativeExecutable`), or None when
        that does not apply here or fails (the Python API compiles it instead: same model,
        same settings; only the per-call path differs)."""
        if not _native_allowed(self.device, settings) or not _exact_types(spec, model, constants):
            return None
        if has_exact_division(model):
            # the exact-division mark is an rt_info attribute IR does not keep (importer)
            return None
        runtime = native_runtime()
        if runtime is None:
            return None
        import openvino as ov

        try:
            with tempfile.TemporaryDirectory(prefix="ovtf-ir-") as folder:
                xml, weights = f"{folder}/cluster.xml", f"{folder}/cluster.bin"
                ov.serialize(model, xml, weights)
                compiled = runtime.OpenVINOModel.compile(xml, weights, self.device,
                                                         _native_properties(settings))
        except Exception as error:
            logger.debug("ovtf: cluster %s: compiling through OpenVINO's C API failed (%s); "
                         "using the Python API", spec.name, error)
            return None
        return NativeExecutable(compiled, _parameter_inputs(spec, constants), spec)

    _exportable = True   # False once the device said it cannot export compiled models

    def _import_cached(self, cache, key, settings, spec, constants):
        """The cluster from the disk cache, or None. A blob that the C API path exported
        (stored under `_native_key`: its model passed `_exact_types`) is imported through
        the C API, so that the kernel's fast path runs it; any other through Python."""
        runtime = native_runtime() if _native_allowed(self.device, settings) else None
        if runtime is not None:
            model = _load(cache, _native_key(key), spec, lambda blob: runtime.OpenVINOModel.import_model(
                blob, self.device, _native_properties(settings)))
            if model is not None:
                executable = NativeExecutable(model, _parameter_inputs(spec, constants), spec)
                executable.loaded_from_cache = True
                return executable
        compiled = _load(cache, key, spec, lambda blob: core().import_model(blob, self.device, settings))
        return None if compiled is None else self._executable(compiled, constants, spec, True)

    def _export(self, cache, key, blob) -> None:
        """Stores `blob()`, a compiled model's export, under `key`; a device that cannot
        export is not given the disk cache again."""
        try:
            payload = blob()
        except Exception as error:
            self._exportable = False
            logger.info("ovtf: device %s cannot export compiled clusters (%s); not using the "
                        "disk cache for it", self.device, str(error).strip().splitlines()[-1:])
            return
        cache.store(key, payload)

    @staticmethod
    def _executable(compiled, constants, spec, loaded_from_cache):
        executable = OpenVINOExecutable(compiled, _parameter_inputs(spec, constants), spec)
        executable.loaded_from_cache = loaded_from_cache
        return executable


_ZERO_DIM = re.compile(r"[\[,]0[\],]")


def zero_size_tensor(model):
    """A description of the first data tensor with a zero dim that `model` computes, else
    None. Data: not a Constant or a Parameter, and of rank >= 2 or a non-integer type; an
    empty 1-D integer tensor is the shape of a scalar (ShapeOf, shape arithmetic), made by
    the frontend for ordinary graphs."""
    import openvino as ov

    integers = {ov.Type.i8, ov.Type.i16, ov.Type.i32, ov.Type.i64, ov.Type.u8, ov.Type.u16,
                ov.Type.u32, ov.Type.u64}
    skipped = ("Constant", "Parameter", "Result")
    for op in model.get_ordered_ops():
        if op.get_type_name() in skipped:
            continue
        for output in op.outputs():
            shape = output.get_partial_shape()
            # the text ("[2,0,3]", "[?,4]", "[...]") first: walking the dims of every
            # output costs ~5x more (2,000 ops: ~40 ms of text vs ~270 ms of dims)
            if not _ZERO_DIM.search(str(shape)):
                continue
            dims = [dim.get_length() if dim.is_static else -1 for dim in shape]
            if 0 in dims and (len(dims) >= 2 or output.get_element_type() not in integers):
                return f"{op.get_type_name()} {op.get_friendly_name()} makes a zero-size " \
                       f"tensor {dims}"
    return None


class OpenVINOExecutable(Executable):
    def __init__(self, compiled, parameter_inputs: list, spec):
        self.compiled = compiled
        self.parameter_inputs = tuple(parameter_inputs)
        self.num_outputs = len(compiled.outputs)
        self.name = spec.name
        self._pool: list = []
        self._bf16_inputs = frozenset(
            position for position, index in enumerate(self.parameter_inputs)
            if spec.inputs[index].dtype.name == "bfloat16")
        self._bf16_outputs = frozenset(
            index for index, tensor in enumerate(spec.outputs) if tensor.dtype.name == "bfloat16")
        self._pool_lock = threading.Lock()
        self.loaded_from_cache = False   # set by the backend when it came from the disk cache

    def _acquire(self):
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        return self.compiled.create_infer_request()

    def _release(self, request) -> None:
        with self._pool_lock:
            self._pool.append(request)

    def run(self, inputs: list, outputs) -> None:
        import openvino as ov
        request = self._acquire()
        try:
            for position, index in enumerate(self.parameter_inputs):
                array = shareable(inputs[index])
                if position in self._bf16_inputs:
                    # numpy has no native bf16: hand OpenVINO the raw 16-bit words, no copy
                    tensor = ov.Tensor(array.view(np.uint16), array.shape, ov.Type.bf16)
                else:
                    tensor = ov.Tensor(array, shared_memory=True)
                request.set_input_tensor(position, tensor)
            request.infer()
            for index in range(self.num_outputs):
                result = request.get_output_tensor(index).data
                target = outputs.allocate(index, result.shape)
                if index in self._bf16_outputs and result.dtype != target.dtype:
                    # OpenVINO hands bf16 data out as numpy float16 (same width, other
                    # format): reinterpret the bits, never convert the values
                    result = result.view(np.uint16).view(target.dtype)
                np.copyto(target, result, casting="unsafe")
        except BackendError:
            raise
        except Exception as error:
            raise BackendError("run", f"cluster {self.name}: {error}") from error
        finally:
            self._release(request)


class NativeExecutable(Executable):
    """A cluster compiled through OpenVINO's C API (`_native.OpenVINOModel`): `run` is the
    Python way's call, and the OVTFCluster kernel runs `native_model` by itself for calls
    that repeat a successful one (the fast path). Inputs are used in place, outputs copied
    straight into the TF-allocated arrays (`model.run` checks their sizes match)."""

    loaded_from_cache = False

    def __init__(self, model, parameter_inputs: list, spec):
        self.native_model = model
        self.parameter_inputs = list(parameter_inputs)
        self.name = spec.name

    def run(self, inputs: list, outputs) -> None:
        try:
            self.native_model.run(inputs, self.parameter_inputs, outputs)
        except Exception as error:
            raise BackendError("run", f"cluster {self.name}: {error}") from error


_native_state = {"runtime": None, "tried": False}
_native_lock = threading.Lock()


def native_runtime():
    """`ovtf._native` with OpenVINO's C API loaded (the `libopenvino_c` next to the `openvino`
    package's own libraries), or None: then clusters compile and run through the Python API."""
    with _native_lock:
        if not _native_state["tried"]:
            _native_state["tried"] = True
            _native_state["runtime"] = _load_native_runtime()
        return _native_state["runtime"]


def _load_native_runtime():
    import glob
    import os

    import openvino as ov

    from ovtf import _native

    folder = os.path.join(os.path.dirname(ov.__file__), "libs")
    found = sorted(glob.glob(os.path.join(folder, "libopenvino_c.so*")))
    if not found:
        logger.info("ovtf: no libopenvino_c in %s; clusters run through OpenVINO's Python API",
                    folder)
        return None
    try:
        version = _native.load_openvino(found[0])
    except Exception as error:
        logger.info("ovtf: cannot load OpenVINO's C API (%s); clusters run through its Python "
                    "API", error)
        return None
    logger.debug("ovtf: OpenVINO C API %s loaded from %s", version, found[0])
    return _native


def _load(cache, key, spec, load):
    """What `load` makes of the blob cached under `key`, or None: absent, or intact (its
    checksum held) but refused by OpenVINO, which discards it to be rebuilt."""
    payload = cache.load(key)
    if payload is None:
        return None
    try:
        return load(payload)
    except Exception as error:
        logger.warning("ovtf: cluster %s: cached blob %s could not be imported (%s); "
                       "compiling again", spec.name, cache.path(key), error)
        cache.discard(key)
        return None


def _native_blob(model) -> bytes:
    """A C API model's export (the C API writes it to a file only)."""
    with tempfile.TemporaryDirectory(prefix="ovtf-export-") as folder:
        path = f"{folder}/cluster.blob"
        model.export_model(path)
        with open(path, "rb") as stream:
            return stream.read()


def _native_key(key: str) -> str:
    """The disk-cache key of a blob exported through the C API, next to `key` (the same
    cluster exported through Python): only what the C API path compiled is imported by it."""
    from ovtf.backends import disk_cache
    return disk_cache.make_key((key, "openvino C API"))


def _parameter_inputs(spec, constants) -> list:
    """The cluster inputs the compiled model takes as Parameters, in order (the others are
    baked in as constants)."""
    return [index for index in range(len(spec.inputs)) if index not in constants]


def _native_allowed(device: str, settings: dict) -> bool:
    """A plain device whose settings are plain strings or numbers (composite devices carry
    nested per-device settings: they stay on the Python API)."""
    if ":" in device or device_facts.kind_of(device) in _COMPOSITE:
        return False
    # at most 6 settings: csrc/openvino_runtime.cc passes them to compile as C varargs
    return len(settings) <= 6 and all(isinstance(value, (str, int)) and not isinstance(value, bool)
                                      for value in settings.values())


def _native_properties(settings: dict) -> list:
    """`settings` as the C API takes them: (key, value) strings."""
    return [(key, str(value)) for key, value in settings.items()]


def _exact_types(spec, model, constants) -> bool:
    """Whether every Parameter and Result has exactly the TF dtype of its cluster input or
    output: the native path copies bytes and never converts."""
    parameters = _parameter_inputs(spec, constants)
    if len(parameters) != len(model.inputs) or len(spec.outputs) != len(model.outputs):
        return False
    try:
        return (all(port.get_element_type() == ov_type(spec.inputs[index].dtype)
                    for port, index in zip(model.inputs, parameters))
                and all(port.get_element_type() == ov_type(tensor.dtype)
                        for port, tensor in zip(model.outputs, spec.outputs)))
    except Exception:
        return False


# OpenVINO op types that do not compute (never in question when a device is queried)
_NOT_COMPUTE = frozenset({"Parameter", "Result", "Constant"})


def _tf_node(friendly_name: str, by_name: dict) -> str | None:
    """The TF node an OpenVINO op came from: OpenVINO's TF frontend names ops after their
    node ("MatMul"), outputs after the tensor ("ovtf_ret_0:0"), and ops it adds while
    decomposing a node under that node's name ("Name/...")."""
    name = friendly_name.split(":")[0]
    while name:
        if name in by_name:
            return name
        name = name.rpartition("/")[0]
    return None


_refusals_class = None


def _query_refusals(backend, table_types):
    """A support rule: the op types `backend`'s own query_model refused (learned from the
    clusters it compiled, `backend.refused_ops`), with why. Built on first use so that
    importing the backends does not load the op registry."""
    global _refusals_class
    if _refusals_class is None:
        from ovtf.ocm.support import SUPPORTED, UNSUPPORTED_OP, Mark, OperatorSupport

        class QueryRefusals(OperatorSupport):
            def __init__(self, backend, table_types):
                self.backend = backend
                self.table_types = table_types
                self.target = backend.name

            def judge(self, node):
                why = self.backend.refused_ops.get(node.op)
                return Mark(False, UNSUPPORTED_OP, why) if why else SUPPORTED

            def op_types(self):
                if self.table_types is None:
                    return None
                return frozenset(self.table_types) - frozenset(self.backend.refused_ops)

        _refusals_class = QueryRefusals
    return _refusals_class(backend, table_types)


def list_devices() -> list:
    """What `ovtf.devices()` returns: every device OpenVINO lists here, then every emulated
    device registered (`ovtf.testing.emulated_devices`), each a dict: name, full_name, kind,
    precisions (ovtf's names of what OPTIMIZATION_CAPABILITIES lists), capabilities
    (OPTIMIZATION_CAPABILITIES itself; empty for emulated devices, which are ovtf backends
    and not OpenVINO devices), emulated."""
    from ovtf import backends

    listed = {name.upper() for name in FAMILY.names()}
    registered = []
    for name in backends.list_backends():
        if name.upper() in listed:
            continue
        try:
            backend = backends.get(name)
        except Exception:   # a user's factory that fails is not a device to describe
            continue
        if getattr(backend, "emulated", False) and hasattr(backend, "describe"):
            registered.append(backend)
    return device_facts.devices(core(), registered)


FAMILY = OpenVINOFamily()
register_family(FAMILY)
