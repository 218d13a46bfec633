"""The one `openvino.Core` of the process, shared by the OpenVINO family (which devices are
here), its backends (compile, query, import) and the device listing, unless they are handed
another (`OpenVINOFamily.use_core`, `OpenVINOBackend(device, core=...)`).

One core because creating one loads OpenVINO's plugins and costs milliseconds, and because
every compiled model of a device should come from the same plugin instance. It is created on
first use, so that importing ovtf does not load OpenVINO.
"""

from __future__ import annotations

import threading

__all__ = ["core"]

_core_lock = threading.Lock()
_core = None


def core():
    """The process's shared `openvino.Core`, created on the first call."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov
            _core = ov.Core()
        return _core
