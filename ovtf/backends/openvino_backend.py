"""The OpenVINO backend family: its device-name grammar, and the backend that imports a
cluster with ovtf.importer, compiles it on an OpenVINO device (CPU here; any device string
OpenVINO accepts) and runs it from any thread.

Names (`OpenVINOFamily`): the devices OpenVINO lists on this machine ("CPU", "GPU", "GPU.1",
"NPU"; case-insensitive) and device strings over them: "AUTO", "AUTO:<dev>,...",
"HETERO:<dev>,...", "MULTI:<dev>,..." (accepted when every device named exists); VPU,
MYRIAD, HDDL, VAD-M raise ValueError (removed in OpenVINO 2023.0: NPU or SPLIT:). Listed:
the devices, plus one HETERO and one MULTI combination of all of them when there are
several. What a backend can run: the whole OpenVINO registry (`ovtf.ocm.TableSupport`).

Choices, with the measurements behind them (2-core AMD EPYC with AVX-512 BF16, shared
with other work, so medians of interleaved runs; MobileNetV2 unless said otherwise):
* INFERENCE_PRECISION_HINT is always set explicitly: f32 by default (the CPU plugin's own
  default on AVX-512-BF16 machines is bf16, which deviates visibly from TensorFlow), bf16
  or f16 on request.
* PERFORMANCE_HINT LATENCY (1 stream x 2 threads) rather than THROUGHPUT (2 streams x 1):
  TensorFlow calls a cluster once per step and waits. Batch 1 from one thread: 210 vs
  125 inferences/s; batch 16: 205 vs 100 images/s. THROUGHPUT only wins with 4 threads
  calling at batch 1 (273 vs 225/s), which TF programs rarely do.
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
  (AUTO, MULTI: "Not Implemented") are compiled without a disk cache.
  (Measured with OpenVINO's CACHE_DIR, same order for export/import: ResNet50 compile
  0.65-0.71 s -> 0.28-0.30 s load; the first compile pays ~0.4 s more to write the blob.)
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from ovtf import config
from ovtf.backends import Backend, BackendError, BackendFamily, Executable, register_family
from ovtf.importer import ImportFailure, import_cluster, shareable

logger = logging.getLogger("ovtf")

_PRECISION_HINTS = {"f32": "f32", "bf16": "bf16", "f16": "f16"}
DEFAULT_PERFORMANCE_HINT = "LATENCY"

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

    def names(self) -> list:
        devices = self.devices()
        names = list(devices)
        if len(devices) > 1:
            names += [f"HETERO:{','.join(devices)}", f"MULTI:{','.join(devices)}"]
        return names

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
        if key in by_upper:
            return by_upper[key]
        prefix, _, rest = key.partition(":")
        if prefix in _COMPOSITE and devices:
            if prefix == "AUTO" and not rest:
                return "AUTO"
            parts = [part.strip() for part in rest.split(",") if part.strip()]
            if parts and all(part in by_upper for part in parts):
                return f"{prefix}:{','.join(by_upper[part] for part in parts)}"
        return None

    def create(self, canonical: str) -> Backend:
        return OpenVINOBackend(canonical)


class OpenVINOBackend(Backend):
    def __init__(self, device: str = "CPU", performance_hint: str = DEFAULT_PERFORMANCE_HINT,
                 extra_config: dict | None = None):
        self.name = device
        self.device = device
        self.performance_hint = performance_hint
        self.extra_config = dict(extra_config or {})

    def compile_config(self, precision: str) -> dict:
        if precision not in _PRECISION_HINTS:
            raise BackendError("compile", f"unknown precision {precision!r}")
        settings = {"PERFORMANCE_HINT": self.performance_hint}
        hint = {"INFERENCE_PRECISION_HINT": _PRECISION_HINTS[precision]}
        prefix, _, members = self.device.partition(":")
        if prefix in _COMPOSITE:
            # composite devices: the precision belongs to each member device
            names = [m for m in members.split(",") if m] or list(core().available_devices)
            settings["DEVICE_PROPERTIES"] = {name: dict(hint) for name in names}
        else:
            settings.update(hint)
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
            compiled = self._import_cached(cache, key, settings, spec)
            if compiled is not None:
                return self._executable(compiled, constants, spec, loaded_from_cache=True)
        try:
            model = import_cluster(spec, input_shapes, constants)
        except ImportFailure as error:
            raise BackendError("import", error) from error
        try:
            compiled = core().compile_model(model, self.device, settings)
        except Exception as error:
            raise BackendError("compile", f"cluster {spec.name} on {self.device}: {error}") from error
        if cache is not None:
            self._export(cache, key, compiled)
        return self._executable(compiled, constants, spec, loaded_from_cache=False)

    _exportable = True   # False once the device said it cannot export compiled models

    def _import_cached(self, cache, key, settings, spec):
        payload = cache.load(key)
        if payload is None:
            return None
        try:
            return core().import_model(payload, self.device, settings)
        except Exception as error:  # intact file, but OpenVINO refuses it: rebuild it
            logger.warning("ovtf: cluster %s: cached blob %s could not be imported (%s); "
                           "compiling again", spec.name, cache.path(key), error)
            cache.discard(key)
            return None

    def _export(self, cache, key, compiled) -> None:
        try:
            payload = compiled.export_model().getvalue()
        except Exception as error:
            self._exportable = False
            logger.info("ovtf: device %s cannot export compiled clusters (%s); not using the "
                        "disk cache for it", self.device, str(error).strip().splitlines()[-1:])
            return
        cache.store(key, payload)

    @staticmethod
    def _executable(compiled, constants, spec, loaded_from_cache):
        parameter_inputs = [index for index in range(len(spec.inputs)) if index not in constants]
        executable = OpenVINOExecutable(compiled, parameter_inputs, spec)
        executable.loaded_from_cache = loaded_from_cache
        return executable


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


register_family(OpenVINOFamily())
