"""What an OpenVINO backend's `compile` returns: a compiled cluster that runs one call.

* `OpenVINOExecutable`: compiled through OpenVINO's Python API; every call goes through
  Python. Used for composite devices, settings that are not plain strings/numbers, I/O types
  that differ from TF's, and everything when OpenVINO's C API cannot be loaded (`native`).
* `NativeExecutable`: compiled through OpenVINO's C API (`ovtf._native.OpenVINOModel`);
  `run` is the call from Python, and the OVTFCluster kernel reruns `native_model` without
  Python for calls that repeat a successful one (the fast path, csrc/fast_path.cc).

Both follow `ovtf.backends.Executable`: inputs are used in place (never copied: read-only TF
buffers are wrapped through `ovtf.importer.memory.shareable`), outputs are copied into the
TF-allocated arrays the sink hands out, never aliased (an infer request's buffers are
overwritten by its next inference, DESIGN fact 9), and `run` may be called from several
threads at once. A failure is a `BackendError("run", ...)`: the runtime then runs the call
in TensorFlow.

Infer requests are pooled per compiled model: a thread takes one (or creates one when all
are busy), so concurrent calls never share a request and never wait for each other here. A
synchronous request per call fits the kernel, which runs the device path inline;
AsyncInferQueue would add a callback hop for nothing.
"""

from __future__ import annotations

import threading

import numpy as np

from ovtf.backends import BackendError, Executable
from ovtf.importer import shareable

__all__ = ["OpenVINOExecutable", "NativeExecutable", "parameter_inputs"]


def parameter_inputs(spec, constants) -> list:
    """The cluster inputs the compiled model takes as Parameters, in order (the others are
    baked in as constants)."""
    return [index for index in range(len(spec.inputs)) if index not in constants]


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
