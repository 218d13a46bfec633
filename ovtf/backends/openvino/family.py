"""The OpenVINO backend family: the devices OpenVINO lists on this machine, the backend
names over them (`grammar`), one `OpenVINOBackend` per name, and `list_devices`, what
`ovtf.devices()` returns.

Listed names (`names()`): the devices, plus one HETERO and one MULTI combination of all of
them when there are several. The devices are read from OpenVINO once; an OpenVINO that cannot
list them leaves the family empty with a warning, so that the other families' backends are
still listed. Why a named GPU or NPU is absent is worked out once per name: asking the plugins
and OpenCL is slow.

The family reads devices from, and hands the backends it creates, the process's shared
`openvino.Core` (`shared_core`), or the one handed to `use_core` (tests: a fake core with a
GPU or NPU that this machine does not have). Its backends share one memory of the precision
notes said (`precision_notices`), so each is said once per device and precision.
"""

from __future__ import annotations

import logging
import threading

from ovtf.backends import Backend, BackendFamily
from ovtf.backends.openvino import device_facts, shared_core
from ovtf.backends.openvino.backend import OpenVINOBackend
from ovtf.backends.openvino.grammar import canonical_device_name
from ovtf.once import Once

__all__ = ["OpenVINOFamily", "FAMILY", "list_devices"]

logger = logging.getLogger("ovtf")


class OpenVINOFamily(BackendFamily):
    def __init__(self, core=None):
        self._core = core          # None: the process's shared core, created on first use
        self._devices = None
        self._absent: dict = {}    # (upper-case name, within) -> why it is absent (ValueError text)
        self._lock = threading.Lock()
        self.precision_notices = Once()

    @property
    def core(self):
        """The `openvino.Core` the family lists devices with and hands its backends."""
        return shared_core.core() if self._core is None else self._core

    def use_core(self, core) -> None:
        """Use `core` (an `openvino.Core`, or a stand-in with its methods; None: the process's
        shared core) from now on: the devices and absence reasons read from the previous one
        and the precision notes said are forgotten. Backends created earlier keep their core:
        `backends.unregister(name)` makes `backends.get(name)` create one anew."""
        with self._lock:
            self._core = core
            self._devices = None
            self._absent.clear()
        self.precision_notices.forget()

    def devices(self) -> list:
        """`ov.Core().available_devices`, read once (an empty list when OpenVINO is broken)."""
        with self._lock:
            if self._devices is None:
                try:
                    self._devices = list(self.core.available_devices)
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

    def _absent_error(self, name: str, within: str | None = None) -> ValueError:
        key = (name.strip().upper(), within)
        with self._lock:
            message = self._absent.get(key)
        if message is None:
            message = device_facts.absent_device_message(name, self.core, within)
            with self._lock:
                self._absent[key] = message
        return ValueError(message)

    def canonical_name(self, name: str) -> str | None:
        return canonical_device_name(name, self.devices, self._absent_error)

    def create(self, canonical: str) -> Backend:
        return OpenVINOBackend(canonical, core=self._core, notices=self.precision_notices)


FAMILY = OpenVINOFamily()


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
    return device_facts.devices(FAMILY.core, registered)
