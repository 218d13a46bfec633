"""Backends: where clusters are compiled and run. A small, public interface.

    from ovtf import backends
    backends.list_backends()          # ['CPU', ...]: what every backend family offers here
    backend = backends.get("CPU")     # one cached instance per name
    support = backend.operator_support()   # what it can run (ovtf.ocm.OperatorSupport)
    executable = backend.compile(spec, input_shapes, constants, precision)
    executable.run(inputs, outputs)   # outputs.allocate(i, shape) -> writable numpy array

A backend says what it can run with one operator-support object (`operator_support()`, by
default the OpenVINO registry: `ovtf.ocm.TableSupport`); the partitioner is handed that
object, and each cluster it writes records the backend's name, so the runtime compiles it
here. A backend compiles one cluster (`ovtf.spec.ClusterSpec`) for one input signature into
an `Executable`:

* `input_shapes`: a static shape per cluster input, in order;
* `constants`: {input index: numpy array} whose values are baked into the executable (the
  caller guarantees they do not change while it is used; see `ovtf.runtime.device`);
* `precision`: 'f32', 'bf16' or 'f16' (`ovtf.config.PRECISIONS`).

`Executable.run(inputs, outputs)` receives all cluster inputs (entries at constant indices
are ignored and may be None) and writes output i into `outputs.allocate(i, shape)`, a
TensorFlow-allocated array. It must copy into that array: a device buffer handed to
TensorFlow would be overwritten by the next run. `run` may be called from several threads
at once.

Failures: raise `BackendError(stage, cause)` with stage "import", "compile" or "run" (any
other exception from `compile` counts as a compile failure, from `run` as a run failure);
the runtime then runs the cluster in TensorFlow.

Adding a backend (a user, or a test injecting failures):

    class Flaky(backends.Backend):
        def compile(self, spec, input_shapes, constants, precision):
            raise backends.BackendError("compile", "injected")
    backends.register("FLAKY", Flaky)    # factory() -> Backend; then ovtf.set_backend("FLAKY")

Names: each backend family owns its grammar (`BackendFamily.canonical_name`; a family may
raise ValueError for a malformed name of its own, e.g. "SPLIT:"); `get` asks the
names registered with `register` first, then every family. The built-in family is
OpenVINO's (`ovtf.backends.openvino`): its devices on this machine ("CPU", "GPU",
"GPU.1", "NPU") and device strings over them ("AUTO", "AUTO:GPU,CPU", "HETERO:GPU,CPU",
"MULTI:GPU,CPU"). `ovtf.backends.split`: "SPLIT:<backend>,<backend>,..." (one batch over
several backends).
"""

from __future__ import annotations

import importlib
import logging
import threading

__all__ = ["Backend", "BackendFamily", "Executable", "BackendError", "ZeroSizeTensor",
           "STAGES", "register",
           "unregister", "register_family", "list_backends", "get", "is_available",
           "canonical_name"]

logger = logging.getLogger("ovtf")

STAGES = ("import", "compile", "run")
# Families that ship with ovtf, loaded on first use (module path; each calls register_family).
BUILTIN_FAMILIES = ("ovtf.backends.openvino", "ovtf.backends.split")


class BackendError(RuntimeError):
    """A backend could not import, compile or run a cluster for one input signature."""

    def __init__(self, stage: str, cause):
        if stage not in STAGES:
            raise ValueError(f"unknown backend failure stage {stage!r}; expected one of {STAGES}")
        self.stage = stage
        self.cause = cause
        super().__init__(_describe(cause))


class ZeroSizeTensor(RuntimeError):
    """The cause of a BackendError: the cluster, imported for this input signature, makes a
    zero-size tensor inside (a slice past the end of a non-empty input). OpenVINO crashes or
    errs on many of those where TF returns an empty tensor or raises, so the runtime runs the
    signature in TensorFlow, fallback on or off (reason "zero_size"), instead of failing."""


def _describe(cause) -> str:
    if isinstance(cause, BackendError):
        return str(cause)
    if isinstance(cause, BaseException):
        text = str(cause).strip()
        return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    return str(cause)


class Executable:
    """A cluster compiled for one input signature."""

    # A compiled model the OVTFCluster kernel can run by itself for calls that repeat a
    # successful one (`_native.OpenVINOModel`; see csrc/fast_path.cc), or
    # None: every call goes through `run`.
    native_model = None

    def run(self, inputs: list, outputs) -> None:
        raise NotImplementedError

    def retire(self) -> None:
        """It left ovtf's cache: kernels must stop running it by themselves."""
        if self.native_model is not None:
            self.native_model.retire()


class Backend:
    """Compiles clusters. Subclasses implement `compile`; the rest has sensible defaults."""

    name: str = "?"

    def compile(self, spec, input_shapes, constants, precision) -> Executable:
        raise NotImplementedError

    def operator_support(self):
        """What this backend can run: by default the whole OpenVINO registry. Cached."""
        support = self.__dict__.get("_support")
        if support is None:
            from ovtf.ocm import TableSupport
            support = self.__dict__["_support"] = TableSupport(target=self.name)
        return support

    def weights_as_constants(self) -> bool:
        """Whether baking variable inputs in as constants pays off on this backend."""
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class BackendFamily:
    """A kind of backend with its own name grammar (e.g. OpenVINO's device strings)."""

    def canonical_name(self, name: str) -> str | None:
        """The spelling of `name` this family accepts, or None when it is not one of its own."""
        raise NotImplementedError

    def names(self) -> list:
        """Names to list for this machine."""
        return []

    def create(self, canonical: str) -> Backend:
        raise NotImplementedError


_lock = threading.RLock()
_factories: dict = {}      # upper-case name -> (display name, factory)
_instances: dict = {}      # upper-case name -> Backend
_families: list = []
_builtins_loaded = False


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


def register_family(family: BackendFamily) -> None:
    with _lock:
        if family not in _families:
            _families.append(family)


def families() -> list:
    global _builtins_loaded
    with _lock:
        if not _builtins_loaded:
            _builtins_loaded = True
            for module in BUILTIN_FAMILIES:
                importlib.import_module(module)
        return list(_families)


def list_backends() -> list:
    """Backend names usable on this machine: every family's, then the registered ones."""
    names = []
    for family in families():
        names += [name for name in family.names() if name not in names]
    with _lock:
        upper = {name.upper() for name in names}
        names += [display for key, (display, _) in _factories.items() if key not in upper]
    return names


def canonical_name(name: str) -> str | None:
    """The spelling `get` uses for `name`, or None when it is not available here."""
    if not isinstance(name, str):
        return None
    key = name.strip().upper()
    with _lock:
        if key in _factories:
            return _factories[key][0]
    for family in families():
        canonical = family.canonical_name(name.strip())
        if canonical is not None:
            return canonical
    return None


def is_available(name: str) -> bool:
    try:
        return canonical_name(name) is not None
    except ValueError:   # a malformed name of a family's own (e.g. "SPLIT:")
        return False


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
            family = next(f for f in families() if f.canonical_name(canonical) == canonical)
            backend = family.create(canonical)
        _instances[key] = backend
        return backend
