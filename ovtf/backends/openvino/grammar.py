"""Which backend names the OpenVINO family accepts, given the devices OpenVINO lists here.

    canonical_device_name("gpu", devices, absent)         -> "GPU"  (devices(): CPU, GPU.0)
    canonical_device_name("HETERO:GPU.0,cpu", ...)        -> "HETERO:GPU.0,CPU"
    canonical_device_name("MYRIAD", ...)                  -> ValueError (plugin removed)

Accepted: a device OpenVINO lists ("CPU", "GPU", "GPU.1", "NPU"; case-insensitive), "GPU"
for OpenVINO's default GPU when "GPU.0", "GPU.1" are listed (and "GPU.0" when just "GPU"
is), "AUTO", and "AUTO:", "HETERO:", "MULTI:" followed by devices that are all here.
Refused with a ValueError that says why:
* VPU, MYRIAD, HDDL, VAD-M (`REMOVED_DEVICES`): their plugins left OpenVINO in 2023.0 (DESIGN
  fact 12); the message points at NPU and at `SPLIT:`, which divides one batch over devices;
* a GPU or NPU name that is not here, alone or as a member of a composite: the message is
  made by the caller's `absent(name, within)` (the family asks OpenVINO and OpenCL why,
  `device_facts.absent_device_message`).
Any other name is not the family's: None, so another family may own it.

Pure functions of the names and of the `devices()` they are handed: the family
(`family.OpenVINOFamily`) reads the devices once and keeps the absent-device messages.
"""

from __future__ import annotations

from ovtf.backends.openvino import device_facts

__all__ = ["COMPOSITE", "REMOVED_DEVICES", "is_composite", "canonical_device_name"]

# OpenVINO's device strings over other devices: "AUTO", "HETERO:GPU,CPU", "MULTI:GPU,CPU".
COMPOSITE = ("AUTO", "HETERO", "MULTI")
# Device names of OpenVINO plugins removed in 2023.0 (a ValueError pointing at NPU / SPLIT:).
REMOVED_DEVICES = {"VPU": "the VPU (Myriad) plugin", "MYRIAD": "the MYRIAD plugin",
                   "HDDL": "the HDDL (VAD-M) plugin", "VAD-M": "the HDDL (VAD-M) plugin",
                   "VAD_M": "the HDDL (VAD-M) plugin"}


def is_composite(device: str) -> bool:
    """Whether `device` is a device string over other devices ("AUTO", "HETERO:GPU,CPU")
    rather than one device: composites carry per-member settings and are not queried."""
    return ":" in device or device_facts.kind_of(device) in COMPOSITE


def _spelling(key: str, by_upper: dict) -> str | None:
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


def canonical_device_name(name: str, devices, absent) -> str | None:
    """The OpenVINO device string `name` means among `devices()` (what OpenVINO lists here;
    not asked for a removed plugin's name), None when `name` is not an OpenVINO name.
    `absent(name, within)` makes the ValueError raised for a GPU or NPU that is not here
    (`within`: the composite naming it, or None)."""
    key = name.strip().upper()
    removed = REMOVED_DEVICES.get(key.split(".")[0])
    if removed:
        raise ValueError(
            f"backend {name!r}: {removed} left OpenVINO in 2023.0 (its plugin was removed); "
            "use 'NPU' (Intel's current VPU, OpenVINO's NPU plugin) or "
            "'SPLIT:<dev>,<dev>,...' to divide one batch over several devices "
            "(e.g. 'SPLIT:NPU.0,NPU.1')")
    listed = devices()
    by_upper = {device.upper(): device for device in listed}
    found = _spelling(key, by_upper)
    if found is not None:
        return found
    if device_facts.is_physical_name(key):   # a GPU or NPU that is not here: say why
        raise absent(name, None)
    prefix, _, rest = key.partition(":")
    if prefix in COMPOSITE and listed:
        if prefix == "AUTO" and not rest:
            return "AUTO"
        parts = [part.strip() for part in rest.split(",") if part.strip()]
        resolved = [_spelling(part, by_upper) for part in parts]
        for part, device in zip(parts, resolved):
            if device is None and device_facts.is_physical_name(part):
                raise absent(part, name.strip())
        if parts and all(resolved):
            return f"{prefix}:{','.join(resolved)}"
    return None
