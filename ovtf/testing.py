"""Testing helpers for ovtf users: emulated devices (`ovtf.backends.emulated`).

    with ovtf.testing.emulated_devices(4, kind="NPU", delay=0.0) as names:
        ovtf.set_backend("SPLIT:" + ",".join(names))
"""

from ovtf.backends.emulated import KINDS, EmulatedBackend, emulated_devices

__all__ = ["emulated_devices", "EmulatedBackend", "KINDS"]
