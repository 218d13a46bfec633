"""Backends: where clusters are compiled and run. A small, public interface.

    from ovtf import backends
    backends.list_backends()          # ['CPU', ...]: OpenVINO devices here + registered ones
    backend = backends.get("CPU")     # one cached instance per name
    executable = backend.compile(spec, input_shapes, constants, precision)
    executable.run(inputs, outputs)   # outputs.allocate(i, shape) -> writable numpy array

A backend compiles one cluster (`ovtf.runtime.spec.ClusterSpec`) for one input signature
into an `Executable`:

* `input_shapes`: a static shape per cluster input, in order;
* `constants`: {input index: numpy array} whose values are baked into the executable (the
  caller guarantees they do not change while it is used; see `ovtf.runtime.device`);
* `precision`: 'f32', 'bf16' or 'f16' (`ovtf.config.PRECISIONS`).

`Executable.run(inputs, outputs)` receives all cluster inputs (entries at constant indices
are ignored and may be None) and writes output i into `outputs.allocate(i, shape)`, a
TensorFlow-allocated array. It must copy into that array: a device buffer handed to
TensorFlow would be overwritten by the next run. `run` may be called from several threads
at once.

Failures: raise `BackendError(stage, message)` with stage "import", "compile" or "run" (any
other exception from `compile` counts as a compile failure, from `run` as a run failure);
the runtime then runs the cluster in TensorFlow.

Adding a backend (a user, or a test injecting failures):

    class Flaky(backends.Backend):
        def compile(self, spec, input_shapes, constants, precision):
            raise backends.BackendError("compile", "injected")
    backends.register("FLAKY", Flaky)    # factory() -> Backend; then ovtf.set_backend("FLAKY")

Names: OpenVINO devices present on this machine ("CPU", "GPU", "GPU.1", "NPU"), and device
strings built from them that OpenVINO understands: "AUTO", "AUTO:GPU,CPU",
"HETERO:GPU,CPU", "MULTI:GPU,CPU" (accepted by `get`/`is_available` when every device named
exists; `list_backends` lists the plain devices, plus one HETERO and one MULTI combination
of all of them when there are several). Running one batch split over several devices is a
later step: it will be another Backend whose executables own one sub-executable per device.
"""

from __future__ import annotations

import logging
import threading

from ovtf.runtime.errors import STAGES

__all__ = ["Backend", "Executable", "BackendError", "register", "unregister", "list_backends",
           "get", "is_available", "canonical_name"]

logger = logging.getLogger("ovtf")

class BackendError(RuntimeError):
    """A backend could not import, compile or run a cluster."""

    def __init__(self, stage: str, message):
        if stage not in STAGES:
            raise ValueError(f"unknown backend failure stage {stage!r}; expected one of {STAGES}")
        self.stage = stage
        super().__init__(str(message))


class Executable:
    """A cluster compiled for one input signature."""

    def run(self, inputs: list, outputs) -> None:
        raise NotImplementedError


class Backend:
    """Compiles clusters. Subclasses implement `compile`; the rest has sensible defaults."""

    name: str = "?"

    def compile(self, spec, input_shapes, constants, precision) -> Executable:
        raise NotImplementedError

    def narrow_supported_ops(self, ops: set) -> set:
        """Op types (from the capability table's candidates) this backend really supports."""
        return set(ops)

    def weights_as_constants(self) -> bool:
        """Whether baking variable inputs in as constants pays off on this backend."""
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


_lock = threading.RLock()
_factories: dict = {}      # upper-case name -> (display name, factory)
_instances: dict = {}      # upper-case name -> Backend
_devices = None            # cached ov.Core().available_devices


def register(name: str, factory) -> None:
    """Make `name` a backend: `factory()` returns a `Backend`. Replaces an earlier one."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"backend name must be a non-empty string, not {name!r}")
    if not callable(factory):
        raise ValueError(f"backend {name!r}: factory {factory!r} is not callable")
    key = name.strip().upper()
    with _lock:
        _factories[key] = (name.strip(), factory)
        _instances.pop(key, None)


def unregister(name: str) -> None:
    key = str(name).strip().upper()
    with _lock:
        _factories.pop(key, None)
        _instances.pop(key, None)


def _openvino_devices() -> list:
    global _devices
    with _lock:
        if _devices is None:
            try:
                from ovtf.backends.openvino_backend import core
                _devices = list(core().available_devices)
            except Exception as error:  # OpenVINO missing or broken: still list registered ones
                logger.warning("ovtf: OpenVINO devices unavailable: %s", error)
                _devices = []
        return list(_devices)


def list_backends() -> list:
    """Backend names usable on this machine: OpenVINO devices, combinations, registered."""
    devices = _openvino_devices()
    names = list(devices)
    if len(devices) > 1:
        names += [f"HETERO:{','.join(devices)}", f"MULTI:{','.join(devices)}"]
    with _lock:
        names += [display for key, (display, _) in _factories.items()
                  if key not in {name.upper() for name in names}]
    return names


def canonical_name(name: str) -> str | None:
    """The spelling `get` uses for `name`, or None when it is not available here."""
    if not isinstance(name, str):
        return None
    text = name.strip()
    key = text.upper()
    with _lock:
        if key in _factories:
            return _factories[key][0]
    devices = _openvino_devices()
    by_upper = {device.upper(): device for device in devices}
    if key in by_upper:
        return by_upper[key]
    prefix, _, rest = key.partition(":")
    if prefix in ("AUTO", "HETERO", "MULTI") and devices:
        if prefix == "AUTO" and not rest:
            return "AUTO"
        parts = [part.strip() for part in rest.split(",") if part.strip()]
        if parts and all(part in by_upper for part in parts):
            return f"{prefix}:{','.join(by_upper[part] for part in parts)}"
    return None


def is_available(name: str) -> bool:
    return canonical_name(name) is not None


def get(name: str) -> Backend:
    """The (cached) backend called `name`; ValueError listing the available ones if none."""
    canonical = canonical_name(name)
    if canonical is None:
        raise ValueError(
            f"backend {name!r} is not available; available: {', '.join(list_backends()) or 'none'}")
    key = canonical.upper()
    with _lock:
        backend = _instances.get(key)
        if backend is not None:
            return backend
        if key in _factories:
            backend = _factories[key][1]()
            if not isinstance(backend, Backend):
                raise ValueError(
                    f"backend {canonical!r}: factory returned {backend!r}, not an ovtf.backends.Backend")
            if getattr(backend, "name", "?") == "?":
                backend.name = canonical
        else:
            from ovtf.backends.openvino_backend import OpenVINOBackend
            backend = OpenVINOBackend(canonical)
        _instances[key] = backend
        return backend
