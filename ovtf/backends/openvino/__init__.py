"""The OpenVINO backend family: clusters compiled and run on OpenVINO devices.

    ovtf.set_backend("GPU")            # or "CPU", "NPU", "GPU.1", "AUTO", "HETERO:GPU,CPU", ...
    ovtf.devices()                     # family.list_devices()

One job per module, in the order a cluster meets them:

* `grammar`: which names the family accepts ("CPU", "GPU.1", "HETERO:GPU,CPU", ...), and the
  ValueError for a removed plugin (MYRIAD, HDDL, ...) or a GPU/NPU that is not here.
* `family`: `OpenVINOFamily` (registered below): the devices OpenVINO lists on this machine,
  one `OpenVINOBackend` per name, and `list_devices`, what `ovtf.devices()` returns.
* `device_facts`: what each kind of device is told at compile time (precision hints), what it
  can be asked about, and why a named one is absent; pure functions of an `openvino.Core`.
* `backend`: `OpenVINOBackend`: what a device can run, and compiling one cluster for one
  input signature.
* `query_refusals`: what a GPU's or NPU's own query_model refuses, and how that keeps those op
  types in TensorFlow in graphs partitioned later.
* `native`: OpenVINO's C API loaded into `ovtf._native`, and compiling through it, so that the
  OVTFCluster kernel can run a cluster without Python (the fast path).
* `executables`: the compiled clusters `compile` returns (Python API and C API).
* `blob_cache`: compiled clusters to and from ovtf's checksummed disk cache.
* `shared_core`: the process-wide `openvino.Core` they use unless handed another
  (`FAMILY.use_core(core)`, `OpenVINOBackend(device, core=...)`).
"""

from __future__ import annotations

from ovtf.backends import register_family
from ovtf.backends.openvino.backend import (DEFAULT_PERFORMANCE_HINT, OpenVINOBackend,
                                            zero_size_tensor)
from ovtf.backends.openvino.executables import NativeExecutable, OpenVINOExecutable
from ovtf.backends.openvino.family import FAMILY, OpenVINOFamily, list_devices
from ovtf.backends.openvino.grammar import REMOVED_DEVICES
from ovtf.backends.openvino.native import native_runtime
from ovtf.backends.openvino.shared_core import core

__all__ = ["OpenVINOFamily", "FAMILY", "OpenVINOBackend", "DEFAULT_PERFORMANCE_HINT",
           "OpenVINOExecutable", "NativeExecutable", "REMOVED_DEVICES", "core", "list_devices",
           "native_runtime", "zero_size_tensor"]

register_family(FAMILY)
