"""OpenVINO's C API, loaded into `ovtf._native`, and the clusters compiled through it.

A cluster on a plain device is compiled through the C API (`compile_native`: the model
serialized to a temporary IR, read and compiled by `_native.OpenVINOModel` with the same
settings the Python API would get), so that the OVTFCluster kernel can rerun it without
Python (the fast path, csrc/fast_path.cc). It applies only where it changes nothing but
the per-call path (`native_allowed`, `exact_types`); anywhere else, and when `libopenvino_c`
cannot be loaded or the C API fails to compile, the Python API compiles the same model with
the same settings (`backend.OpenVINOBackend.compile`).
"""

from __future__ import annotations

import logging
import tempfile
import threading

from ovtf.backends.openvino.executables import NativeExecutable, parameter_inputs
from ovtf.backends.openvino.grammar import is_composite
from ovtf.importer import has_exact_division, ov_type

__all__ = ["native_runtime", "native_allowed", "native_properties", "exact_types",
           "compile_native"]

logger = logging.getLogger("ovtf")

# Loaded once per process: {"tried": whether loading was attempted, "runtime": the result}
# (tests and benchmarks set tried=True, runtime=None to keep everything on the Python API).
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


def native_allowed(device: str, settings: dict) -> bool:
    """A plain device whose settings are plain strings or numbers (composite devices carry
    nested per-device settings: they stay on the Python API)."""
    if is_composite(device):
        return False
    return all(isinstance(value, (str, int)) and not isinstance(value, bool)
               for value in settings.values())


def native_properties(settings: dict) -> list:
    """`settings` as the C API takes them: (key, value) strings."""
    return [(key, str(value)) for key, value in settings.items()]


def exact_types(spec, model, constants) -> bool:
    """Whether every Parameter and Result has exactly the TF dtype of its cluster input or
    output: the native path copies bytes and never converts."""
    parameters = parameter_inputs(spec, constants)
    if len(parameters) != len(model.inputs) or len(spec.outputs) != len(model.outputs):
        return False
    try:
        return (all(port.get_element_type() == ov_type(spec.inputs[index].dtype)
                    for port, index in zip(model.inputs, parameters))
                and all(port.get_element_type() == ov_type(tensor.dtype)
                        for port, tensor in zip(model.outputs, spec.outputs)))
    except Exception:
        return False


def compile_native(device: str, spec, model, settings: dict, constants):
    """The cluster compiled through OpenVINO's C API (`NativeExecutable`), or None when
    that does not apply here or fails (the Python API compiles it instead: same model,
    same settings; only the per-call path differs)."""
    if not native_allowed(device, settings) or not exact_types(spec, model, constants):
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
            compiled = runtime.OpenVINOModel.compile(xml, weights, device,
                                                     native_properties(settings))
    except Exception as error:
        logger.debug("ovtf: cluster %s: compiling through OpenVINO's C API failed (%s); "
                     "using the Python API", spec.name, error)
        return None
    return NativeExecutable(compiled, parameter_inputs(spec, constants), spec)
