"""OpenVINO devices as ovtf sees them: what each kind of device is told at compile time, what
it can be asked about, and why one that was named is not there.

    kind_of("GPU.1") -> "GPU"                       the plugin a device name belongs to
    compile_config("GPU", "f32", capabilities)      -> DeviceConfig(settings, precision, note)
    plugin_reason(error_text)                       OpenVINO's plugin error -> one sentence
    absent_device_message(name, core)               the ValueError text for a device not here
    opencl_platforms()                              pyopencl's view (optional dependency)
    describe(core, name), devices(core)             what `ovtf.devices()` returns

Pure functions of what they are handed (an `openvino.Core` or any object with its
`available_devices`, `get_property`, `query_model` and `compile_model`), so the mapping from
real plugin messages to ovtf's is tested with a fake core (tests/test_devices.py, fixtures in
tests/data/plugin_errors.json, captured from OpenVINO 2026.4 on a machine with neither an
Intel GPU nor an NPU by scripts/capture_plugin_errors.py).

Precision per device kind (ovtf's `f32`/`bf16`/`f16`, `ovtf.config.PRECISIONS`):
* CPU (and any other kind): INFERENCE_PRECISION_HINT as requested (the CPU plugin's own
  default on BF16-capable CPUs is bf16; ovtf's f32 means f32).
* GPU: OpenVINO's GPU default is f16. f32 -> INFERENCE_PRECISION_HINT=f32 and
  EXECUTION_MODE_HINT=ACCURACY (both: either alone means f32 in OpenVINO 2026, the pair
  says it twice); f16 -> f16 (+ EXECUTION_MODE_HINT=PERFORMANCE) when the device's
  OPTIMIZATION_CAPABILITIES list FP16; bf16 -> bf16 when they list BF16. A 16-bit precision
  the device does not list is not guessed at: f32 is used (a result the user can trust) and
  that is said once per device and precision.
* NPU: computes in f16 (its OPTIMIZATION_CAPABILITIES list FP16 and INT8, no FP32): f32 or
  bf16 requested -> said once per device and precision, f16 used. INFERENCE_PRECISION_HINT
  is passed only when the device lists it in SUPPORTED_PROPERTIES (OpenVINO 2026.4's NPU
  plugin without its compiler does not), otherwise its default (f16) applies.
Capabilities that cannot be read (None) are not second-guessed: the precision is requested
as asked and the device has the last word at compile time.

Measured here, and not verifiable without the hardware: the numerics of GPU/NPU f16, their
compile times, and their real `query_model` answers; see README ("Devices").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

__all__ = ["kind_of", "is_physical_name", "precisions_from", "DeviceConfig", "compile_config",
           "plugin_reason", "absent_device_message", "opencl_platforms", "describe", "devices",
           "PHYSICAL_KINDS", "NPU_PRECISION"]

# Device kinds whose plugins ship in the OpenVINO wheel and that a name like "GPU.1" means.
PHYSICAL_KINDS = ("CPU", "GPU", "NPU")
COMPOSITE_KINDS = ("AUTO", "HETERO", "MULTI", "BATCH")
NPU_PRECISION = "f16"
_NAME = re.compile(r"^(?P<kind>[A-Za-z]+)(?:\.(?P<index>\d+))?$")
_CAPABILITY_PRECISIONS = (("FP32", "f32"), ("BF16", "bf16"), ("FP16", "f16"))


def kind_of(device: str) -> str:
    """"GPU.1" -> "GPU", "HETERO:GPU,CPU" -> "HETERO", "npu" -> "NPU"."""
    head = str(device).strip().partition(":")[0]
    match = _NAME.match(head)
    return (match.group("kind") if match else head).upper()


def is_physical_name(name: str) -> bool:
    """Whether `name` names a GPU or NPU device ("GPU", "gpu.1", "NPU.0"), present or not."""
    match = _NAME.match(str(name).strip())
    return bool(match) and match.group("kind").upper() in ("GPU", "NPU")


def precisions_from(capabilities) -> list:
    """ovtf precisions a device computes natively, from its OPTIMIZATION_CAPABILITIES."""
    listed = {str(c).upper() for c in capabilities or ()}
    return [precision for capability, precision in _CAPABILITY_PRECISIONS if capability in listed]


@dataclass(frozen=True)
class DeviceConfig:
    settings: dict                 # the compile_model config
    precision: str                 # what the device computes in
    note: Optional[str] = None     # why that differs from what was requested (say it once)


def compile_config(device: str, precision: str, capabilities=None, supported_properties=None,
                   performance_hint: str = "LATENCY") -> DeviceConfig:
    """The compile_model config for `precision` on `device` (see the module docstring).
    `capabilities`: the device's OPTIMIZATION_CAPABILITIES (None: unknown);
    `supported_properties`: its SUPPORTED_PROPERTIES keys (None: unknown)."""
    kind = kind_of(device)
    settings = {"PERFORMANCE_HINT": performance_hint}
    listed = None if capabilities is None else {str(c).upper() for c in capabilities}
    shown = ", ".join(sorted(listed)) if listed else "none"
    if kind == "NPU":
        note = None
        if precision != NPU_PRECISION:
            note = (f"device {device} (NPU) computes in f16 (OPTIMIZATION_CAPABILITIES: {shown}); "
                    f"precision {precision} requested, using f16")
        if supported_properties is not None and "INFERENCE_PRECISION_HINT" in supported_properties:
            settings["INFERENCE_PRECISION_HINT"] = NPU_PRECISION
        return DeviceConfig(settings, NPU_PRECISION, note)
    if kind == "GPU":
        if precision == "f32":
            settings.update(INFERENCE_PRECISION_HINT="f32", EXECUTION_MODE_HINT="ACCURACY")
            return DeviceConfig(settings, "f32")
        capability = {"f16": "FP16", "bf16": "BF16"}[precision]
        if listed is not None and capability not in listed:
            settings.update(INFERENCE_PRECISION_HINT="f32", EXECUTION_MODE_HINT="ACCURACY")
            return DeviceConfig(settings, "f32", (
                f"device {device} (GPU) does not list {capability} in its "
                f"OPTIMIZATION_CAPABILITIES ({shown}); precision {precision} requested, using f32"))
        settings.update(INFERENCE_PRECISION_HINT=precision, EXECUTION_MODE_HINT="PERFORMANCE")
        return DeviceConfig(settings, precision)
    settings["INFERENCE_PRECISION_HINT"] = precision
    return DeviceConfig(settings, precision)


# --- OpenVINO's plugin messages -> one sentence ------------------------------------------------

# (pattern, sentence): the first pattern found in the error text wins; groups fill the sentence.
_TRANSLATIONS = (
    (r'Cannot load library "[^"]*libopenvino_intel_gpu_plugin\.so": (libOpenCL\.so[.\d]*): '
     r'cannot open shared object file',
     "OpenVINO's GPU plugin cannot load: {0} (the OpenCL ICD loader) is not installed "
     "(Debian/Ubuntu: ocl-icd-libopencl1; an Intel GPU also needs its OpenCL driver, "
     "intel-opencl-icd)"),
    (r"\[GPU\] Can't get \w+ property as no supported devices found",
     "OpenVINO's GPU plugin loads but finds no supported GPU (an OpenCL loader is installed, "
     "but no Intel GPU with its OpenCL driver answers)"),
    (r"\[GPU\] Context was not initialized for (\d+) device",
     "OpenVINO's GPU plugin has no GPU with index {0}"),
    (r'VCL compiler loading failed.*?Cannot load library "[^"]*?([^"/]+\.so)"',
     "OpenVINO's NPU plugin cannot load its compiler ({0} is not installed; it comes with "
     "Intel's NPU driver)"),
    (r"Unsupported configuration key: (\w+)",
     "the plugin does not answer {0} here"),
    (r'Cannot load library "([^"]+)": ([^\n]+)',
     "OpenVINO cannot load {0}: {1}"),
)


def plugin_reason(text) -> str:
    """One sentence for an OpenVINO plugin error (its text, or the exception)."""
    text = str(text)
    for pattern, sentence in _TRANSLATIONS:
        match = re.search(pattern, text, re.S)
        if match:
            groups = [group.rsplit("/", 1)[-1] if group and group.startswith("/") else group
                      for group in match.groups()]
            return sentence.format(*groups)
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(("Exception from ", "Check '"))]
    return lines[-1] if lines else text.strip() or "no reason given"


def _available(core) -> list:
    try:
        return list(core.available_devices)
    except Exception:
        return []


def _version() -> str:
    try:
        import openvino
        return openvino.get_version().split("-")[0]
    except Exception:
        return "?"


def opencl_platforms():
    """(platforms, problem): platforms as [(platform name, [device names])] from pyopencl;
    platforms is None when they could not be listed, and problem says why (pyopencl not
    installed, or its error)."""
    try:
        import pyopencl
    except ImportError:
        return None, ("pyopencl is not installed: `pip install pyopencl` (or ovtf[opencl]) "
                      "lists the OpenCL platforms and devices here")
    try:
        found = []
        for platform in pyopencl.get_platforms():
            try:
                names = [device.name.strip() for device in platform.get_devices()]
            except Exception as error:   # a platform with no device raises DEVICE_NOT_FOUND
                names = [f"no device ({error})"]
            found.append((platform.name.strip(), names))
        return found, None
    except Exception as error:   # clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR
        if "PLATFORM_NOT_FOUND" in str(error):
            return [], None
        return None, f"pyopencl could not list OpenCL platforms: {error}"


def _opencl_sentence() -> str:
    platforms, problem = opencl_platforms()
    if platforms is None:
        return problem
    if not platforms:
        return "OpenCL (pyopencl): no OpenCL platform is installed"
    shown = "; ".join(f"{name}: {', '.join(devices) or 'no device'}" for name, devices in platforms)
    intel = any("intel" in name.lower() for name, _ in platforms)
    return (f"OpenCL platforms (pyopencl): {shown}"
            + ("" if intel else " - none is Intel's: OpenVINO's GPU plugin drives Intel GPUs only"))


def absent_device_message(name: str, core, within: str | None = None) -> str:
    """Why `name` (a GPU or NPU device name) is not a device here: what OpenVINO lists, what
    the plugin itself says, and for a GPU what OpenCL has. `within`: the backend name that
    names it as a member (e.g. "HETERO:GPU,CPU")."""
    kind = kind_of(name)
    listed = _available(core)
    plugin = None
    try:
        ids = list(core.get_property(kind, "AVAILABLE_DEVICES"))
    except Exception as error:
        plugin = plugin_reason(error)
    else:
        same = [device for device in listed if kind_of(device) == kind]
        if not ids and not same:
            plugin = (f"OpenVINO's {kind} plugin loads but finds no {kind} device"
                      + (" (the NPU needs Intel's NPU driver with Level Zero)" if kind == "NPU"
                         else " (an Intel GPU needs its OpenCL driver, intel-opencl-icd)"))
        else:
            plugin = f"its {kind} devices are: {', '.join(same) or ', '.join(ids)}"
    head = f"backend {within!r}: member {name!r}" if within else f"backend {name!r}"
    parts = [f"{head}: OpenVINO {_version()} has no device {name.strip().upper()!r} "
             f"on this machine; it lists: {', '.join(listed) or 'no device'}", plugin]
    if kind == "GPU":
        parts.append(_opencl_sentence())
    parts.append("To rehearse without the hardware: ovtf.testing.emulated_devices(n, kind='NPU')")
    return ". ".join(part.rstrip(".") for part in parts if part) + "."


# --- describing devices --------------------------------------------------------------------------

def _property(core, device, key, default=None):
    try:
        return core.get_property(device, key)
    except Exception:
        return default


def describe(core, name: str) -> dict:
    """{name, full_name, kind, precisions, capabilities, emulated} of one OpenVINO device."""
    capabilities = [str(c) for c in _property(core, name, "OPTIMIZATION_CAPABILITIES", []) or []]
    return {"name": name, "full_name": str(_property(core, name, "FULL_DEVICE_NAME", "") or ""),
            "kind": kind_of(name), "precisions": precisions_from(capabilities),
            "capabilities": capabilities, "emulated": False}


def devices(core, registered=()) -> list:
    """Every OpenVINO device `core` lists, then every emulated backend in `registered`
    (backend objects with `describe()` and `emulated = True`)."""
    result = [describe(core, name) for name in _available(core)]
    for backend in registered:
        described = dict(backend.describe())
        result.append({"name": described.get("name", backend.name),
                       "full_name": described.get("full_name", ""),
                       "kind": described.get("kind", getattr(backend, "kind", "")),
                       "precisions": list(described.get("precisions", [])),
                       "capabilities": list(described.get("capabilities", [])),
                       "emulated": True})
    return result
