"""Emulated devices: ovtf backends that imitate an OpenVINO device (NPU by default) while
running on the CPU through OpenVINO, for tests and for rehearsing a multi-device deployment
without the hardware. OpenVINO cannot register a plugin under another device's name, so they
are ovtf backends, not OpenVINO plugins.

    with ovtf.testing.emulated_devices(4, kind="NPU") as names:   # ['EMU-NPU.0', ...]
        ovtf.set_backend("SPLIT:" + ",".join(names))

Each one is an `OpenVINOBackend` on "CPU" with its own compiled models and infer requests
and `INFERENCE_NUM_THREADS` bounded (`threads`, default 1), plus the rules of the device it
imitates:
* NPU: static shapes only (`rules.StaticShapes` in its operator support: a cluster whose
  signature has a dynamic dimension is not placed), f16 compute (f32 or bf16 requested ->
  logged once per device, f16 used);
* CPU: no extra rules (f32 as requested): an exact stand-in for one CPU device.

Faults and slowness, to exercise failure handling and load balancing:
* `fail_compile`: True (every compile fails) or a callable(input_shapes) -> bool;
* `fail_runs`: an int k or a collection of ints: those runs (1-based, counted per device,
  every run attempt) raise `BackendError("run")`;
* `fail_shapes`: input-0 shapes (tuples) for which compiling fails;
* `delay`: seconds added to every run; `slowdown`: every run takes this many times as long
  as it otherwise would (real time + delay; sleeps the difference).
`repr`, logs and `describe()` say "emulated".
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time

from ovtf import backends
from ovtf.backends import BackendError, Executable
from ovtf.backends.openvino import OpenVINOBackend

__all__ = ["EmulatedBackend", "emulated_devices", "KINDS"]

logger = logging.getLogger("ovtf")

KINDS = ("NPU", "CPU")
_session = itertools.count()


class EmulatedBackend(OpenVINOBackend):
    emulated = True

    def __init__(self, name: str, kind: str = "NPU", threads: int = 1, fail_compile=False,
                 fail_runs=(), fail_shapes=(), delay: float = 0.0, slowdown: float = 1.0):
        kind = str(kind).upper()
        if kind not in KINDS:
            raise ValueError(f"emulated device kind {kind!r} is not one of {', '.join(KINDS)}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"emulated device threads: {threads!r} is not an integer >= 1")
        if delay < 0 or slowdown < 1:
            raise ValueError(f"emulated device: delay {delay!r} must be >= 0 and slowdown "
                             f"{slowdown!r} >= 1")
        super().__init__("CPU", extra_config={"INFERENCE_NUM_THREADS": threads})
        self.name = name
        self.kind = kind
        self.threads = threads
        self.fail_compile = fail_compile
        self.fail_runs = frozenset([fail_runs] if isinstance(fail_runs, int) else fail_runs)
        self.fail_shapes = frozenset(tuple(shape) for shape in fail_shapes)
        self.delay = float(delay)
        self.slowdown = float(slowdown)
        self._lock = threading.Lock()
        self.runs = 0          # run attempts, failed ones included
        self.compiles = 0      # compile attempts, failed ones included

    # --- what it can run ---------------------------------------------------------------

    def operator_support(self):
        support = self.__dict__.get("_support")
        if support is None:
            from ovtf import ocm
            from ovtf.ocm import TableSupport, rules
            parts = [TableSupport(target=self.name)]
            if self.kind == "NPU":
                parts.append(rules.StaticShapes())
            support = self.__dict__["_support"] = ocm.chain(*parts, target=self.name)
        return support

    def compute_precision(self, precision: str) -> str:
        if self.kind == "NPU" and precision != "f16":
            if self.notices.first((self.name, precision)):
                logger.info("ovtf: emulated device %s (NPU) computes in f16; precision %s "
                            "requested, using f16", self.name, precision)
            return "f16"
        return precision

    def compile(self, spec, input_shapes, constants, precision):
        with self._lock:
            self.compiles += 1
        shapes = [tuple(shape) for shape in input_shapes]
        injected = self.fail_compile(shapes) if callable(self.fail_compile) else self.fail_compile
        if injected or (shapes and shapes[0] in self.fail_shapes):
            raise BackendError("compile", f"emulated device {self.name}: injected compile "
                                          f"failure for input shapes {shapes}")
        inner = super().compile(spec, input_shapes, constants, self.compute_precision(precision))
        return _EmulatedExecutable(self, inner)

    def describe(self) -> dict:
        return {"name": self.name, "full_name": f"emulated {self.kind} (OpenVINO CPU, "
                f"{self.threads} thread{'s' if self.threads != 1 else ''})",
                "precisions": ["f16"] if self.kind == "NPU" else ["f32", "bf16", "f16"],
                "emulated": True}

    def __repr__(self) -> str:
        return f"<EmulatedBackend {self.name}: emulated {self.kind} on the OpenVINO CPU>"


class _EmulatedExecutable(Executable):
    def __init__(self, device: EmulatedBackend, inner):
        self.device = device
        self.inner = inner
        self.loaded_from_cache = getattr(inner, "loaded_from_cache", False)

    def run(self, inputs, outputs):
        device = self.device
        with device._lock:
            device.runs += 1
            n = device.runs
        if n in device.fail_runs:
            raise BackendError("run", f"emulated device {device.name}: injected failure on "
                                      f"run {n}")
        start = time.perf_counter()
        self.inner.run(inputs, outputs)
        elapsed = time.perf_counter() - start
        # the call takes slowdown x (its real time + delay)
        pause = device.slowdown * (elapsed + device.delay) - elapsed
        if pause > 0:
            time.sleep(pause)


@contextlib.contextmanager
def emulated_devices(n: int, kind: str = "NPU", prefix: str | None = None, **options):
    """Register `n` emulated devices ("EMU-NPU.0", ...) for the duration of the block and
    yield their names. `options` (threads, fail_compile, fail_runs, fail_shapes, delay,
    slowdown) apply to every device; a dict {index: {option: value}} under `per_device`
    overrides them for single devices."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"emulated_devices: n={n!r} is not an integer >= 1")
    kind = str(kind).upper()
    per_device = options.pop("per_device", {}) or {}
    prefix = prefix or f"EMU-{kind}"
    names = [f"{prefix}.{index}" for index in range(n)]
    taken = [name for name in names if backends.is_available(name)]
    if taken:
        raise ValueError(f"emulated_devices: backend names {taken} are already in use; "
                         "pass another prefix=")
    created = []
    try:
        for index, name in enumerate(names):
            device = EmulatedBackend(name, kind, **{**options, **per_device.get(index, {})})
            backends.register(name, lambda device=device: device)
            created.append(name)
            logger.info("ovtf: registered %r", device)
        yield list(names)
    finally:
        for name in created:
            backends.unregister(name)
