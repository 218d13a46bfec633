"""Cost placement: after warm-up, time a cluster on the device and in TensorFlow, keep the faster.

Switched by `ovtf.enable_cost_placement()` / `OVTF_COST_PLACEMENT=1`; off by default (see
benchmarks/README.md "Small clusters and cost placement": on this CPU it never found a
cluster worth moving, and measuring costs ~1 s per signature on a CNN).

The procedure is fixed, per cluster kernel and cost key (backend, precision, dtype and shape
of the data inputs; weights are left out, a CNN has hundreds):
  * the first COST_WARMUP + COST_SAMPLES calls run on the device, the first COST_WARMUP
    untimed (compilation, caches); a device sample is the wall time of `device.run`;
  * the next COST_WARMUP + COST_SAMPLES calls run in TensorFlow (`run` returns False), the
    first COST_WARMUP untimed (they build the TF function); a TensorFlow sample runs from
    `run` returning False to the end of `fallback`, the hand-off to the fallback thread
    included, because a key pinned to TensorFlow pays exactly that on every call (timing
    `fallback` alone would flatter TensorFlow by ~150 us here);
  * with COST_SAMPLES of each: device median > COST_MARGIN x TF median pins the key to
    TensorFlow for good, otherwise it stays on the device. Logged once at INFO with both
    medians, counted in `cost_placed_in_tf` / `cost_kept_on_device`.

The `outputs` object pairs a TensorFlow sample's `run` with its `fallback` (the native kernel
passes the same sink to both). A decided key costs one dict lookup per call.

Samples are read from the `clock` a CostPlacement is handed (`time.perf_counter` unless the
cluster's handle was given another: a test's virtual clock makes every decision known in
advance); the cluster handle times its side of a sample with the same `clock`.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time

import numpy as np

from ovtf import counters

logger = logging.getLogger("ovtf")

COST_WARMUP = 2
COST_SAMPLES = 7
COST_MARGIN = 1.2


def format_signature(signature) -> str:
    """((dtype.str, shape), ...) as 'float32[1, 224, 224, 3], ...'."""
    return ", ".join(f"{np.dtype(dtype).name}{list(shape)}" for dtype, shape in signature)


class CostPlacement:
    """Measurements and decisions for one cluster kernel; thread-safe."""

    def __init__(self, spec, describe, clock=time.perf_counter):
        self._describe = describe
        self.clock = clock          # seconds, monotonic
        self._lock = threading.Lock()
        # key -> True (device) / False (TensorFlow): read without the lock, written under it.
        self._placement: dict = {}
        self._probes: dict = {}     # key -> _Probe, while a key is being measured
        self._pending: dict = {}    # id(outputs) -> (outputs, key, started, timed)
        variables = set(spec.variable_inputs)
        self._data_inputs = tuple(i for i in range(len(spec.inputs)) if i not in variables)

    def key(self, inputs: list, settings) -> tuple:
        return (settings.backend, settings.precision,
                tuple((inputs[i].dtype.str, inputs[i].shape) for i in self._data_inputs))

    def decision(self, key):
        """True (device), False (TensorFlow) or None (not decided yet)."""
        return self._placement.get(key)

    def placements(self) -> dict:
        with self._lock:
            return dict(self._placement)

    def next_call(self, key, outputs):
        """Who runs this call of an undecided key: (decision, side, timed).

        decision is True/False when another thread decided meanwhile; otherwise side is
        "device", "tf", or None (every sample is taken or in flight: use the device)."""
        with self._lock:
            if key in self._placement:
                return self._placement[key], None, False
            probe = self._probes.get(key)
            if probe is None:
                probe = self._probes[key] = _Probe()
            side, timed = probe.next_side()
            if side == "tf":
                if len(self._pending) > 10_000:   # calls the kernel never finished
                    self._pending.clear()
                self._pending[id(outputs)] = (outputs, key, self.clock(), timed)
            return None, side, timed

    def device_sample_failed(self, key) -> None:
        """The device failed while measured: give the slot back for another call."""
        with self._lock:
            probe = self._probes.get(key)
            if probe is not None:
                probe.device_started -= 1

    def claim_tensorflow_sample(self, outputs):
        """(key, started, timed) if this fallback call is a TensorFlow sample, else None."""
        if not self._pending:
            return None
        with self._lock:
            pending = self._pending.pop(id(outputs), None)
            if pending is not None and pending[0] is not outputs:   # a recycled id
                self._pending[id(outputs)] = pending
                return None
        return None if pending is None else pending[1:]

    def add_sample(self, key, side: str, seconds: float) -> None:
        with self._lock:
            probe = self._probes.get(key)
            if probe is None:
                return
            (probe.device if side == "device" else probe.tf).append(seconds)
            if len(probe.device) < COST_SAMPLES or len(probe.tf) < COST_SAMPLES:
                return
            del self._probes[key]
            device_median = statistics.median(probe.device)
            tf_median = statistics.median(probe.tf)
            on_device = not device_median > COST_MARGIN * tf_median
            self._placement[key] = on_device
        counters.increment("cost_kept_on_device" if on_device else "cost_placed_in_tf")
        logger.info(
            "ovtf: cost placement: %s, inputs %s on %s: device median %.1f us, TensorFlow "
            "median %.1f us (%d samples each, TF measured from the kernel call to the end of "
            "the fallback): %s", self._describe(), format_signature(key[2]), key[0],
            device_median * 1e6, tf_median * 1e6, COST_SAMPLES,
            "stays on the device" if on_device else
            f"runs in TensorFlow from now on (device > {COST_MARGIN:g} x TensorFlow)")

    def tensorflow_sample_failed(self, key, error) -> None:
        """TensorFlow failed while measured: the key stays on the device."""
        with self._lock:
            self._probes.pop(key, None)
            self._placement[key] = True
        logger.warning("ovtf: cost placement: %s failed in TensorFlow while being measured "
                       "(%s: %s); it stays on the device", self._describe(),
                       type(error).__name__, error)


class _Probe:
    """Measurements of one key: who runs the next call, and the samples."""

    __slots__ = ("device_started", "tf_started", "device", "tf")

    def __init__(self):
        self.device_started = 0
        self.tf_started = 0
        self.device: list = []
        self.tf: list = []

    def next_side(self):
        """("device" | "tf" | None, timed). None: every sample is taken or in flight."""
        if self.device_started < COST_WARMUP + COST_SAMPLES:
            self.device_started += 1
            return "device", self.device_started > COST_WARMUP
        if self.tf_started < COST_WARMUP + COST_SAMPLES:
            self.tf_started += 1
            return "tf", self.tf_started > COST_WARMUP
        return None, False
