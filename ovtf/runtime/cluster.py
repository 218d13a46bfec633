"""One `OVTFCluster` kernel's Python half: run on the device, or ask for TensorFlow.

The native kernel creates one `ClusterHandle` per kernel instance and calls:

  run(inputs, outputs) -> bool
      inline on TensorFlow's thread. Inputs are read-only zero-copy numpy views; results go
      into `outputs.allocate(i, shape)` (TF-allocated tensors). True: done. False: the
      kernel moves the work to its fallback pool, which calls
  fallback(inputs, outputs)
      on a worker thread, running the original subgraph with TensorFlow.

Fallback decisions are per cluster and per input signature (dtype and shape of every
input):
  * import / compile failures are deterministic for a signature: that signature runs in
    TensorFlow from then on, without asking the device again; other signatures still try
    the device.
  * run failures may be transient (one bad call): the next call tries the device again.
    After `RUN_FAILURES_BEFORE_GIVING_UP` consecutive run failures of one signature it stays
    in TensorFlow, so a device that always fails at run time does not cost a wasted device
    call on every step.
  * anything else the device path raises (a bug, not a ClusterFailure) is a "run" failure
    too: nothing the device does wrong may reach the user as anything but a fallback.
Each fallback is counted in `ovtf.stats()` (`fallbacks`, `fallback_reasons[stage]`). The
first failure of a cluster at each stage is logged as a warning with its cause; later ones at
debug level. "A cluster" here is what the user sees, not one kernel instance: TensorFlow
retraces a function per input shape and instantiates a new kernel each time, so the key is
the cluster's name and structure (node names and op types, not shapes).

Cost placement (`ovtf.enable_cost_placement()` / `OVTF_COST_PLACEMENT=1`; off by default,
see benchmarks/README.md "Small clusters and cost placement" for why). Per (cluster kernel,
cost key = backend, precision, dtype and shape of the data inputs, weights left out) a fixed
procedure: the first COST_WARMUP + COST_SAMPLES calls run on the device (the first
COST_WARMUP untimed: compile, caches), the next COST_WARMUP + COST_SAMPLES in TensorFlow
(`run` returns False; the first COST_WARMUP build the TF function, untimed). Device sample:
wall time of `device.run`. TensorFlow sample: from `run` returning False to the end of
`fallback`, i.e. the hand-off to the fallback thread included, because a signature pinned to
TensorFlow pays exactly that on every call (the only way to run TF from the kernel);
`fallback` alone would flatter TensorFlow by the hand-off (~150 us here). The `outputs`
object pairs a `run` with its `fallback` (the native kernel passes the same sink object to
both while Python holds it). When COST_SAMPLES of each are in: device median >
COST_MARGIN x TF median pins the key to TensorFlow for good, else it stays on the device;
logged once at INFO with both medians, counted in `cost_placed_in_tf` /
`cost_kept_on_device`; pinned calls are fallbacks with reason "cost", the measuring TF runs
with reason "cost_probe". A decided key costs one tuple over the data inputs and one dict
lookup per call. A TF run that fails while measuring is answered by the device and keeps
the key on the device. Turning cost placement off sends pinned keys back to the device
(decisions are kept for when it is turned on again).

With dynamic fallback off, a device failure becomes a `ClusterError` (the kernel turns it
into a TensorFlow error) naming the cluster, the op types inside, the backend and the cause.
Fallback is read at each call, so toggling it affects running clusters at their next call.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import threading
import time

import numpy as np

from ovtf import config, counters
from ovtf.runtime.errors import ClusterError, ClusterFailure
from ovtf.runtime.fallback import TensorFlowRunner
from ovtf.runtime.spec import ClusterSpec

logger = logging.getLogger("ovtf")

RUN_FAILURES_BEFORE_GIVING_UP = 3

# Cost placement: per (cluster, signature), COST_WARMUP untimed then COST_SAMPLES timed runs
# on the device, then the same in TensorFlow; TensorFlow keeps the signature for good when
# the device median > COST_MARGIN x the TensorFlow median.
COST_WARMUP = 2
COST_SAMPLES = 7
COST_MARGIN = 1.2

_clock = time.perf_counter     # replaced by tests (a virtual clock)


def signature_of(inputs: list) -> tuple:
    return tuple((array.dtype.str, array.shape) for array in inputs)


class ClusterHandle:
    def __init__(self, spec: ClusterSpec, device):
        self.spec = spec
        self.device = device
        self._tensorflow = TensorFlowRunner(spec)
        # signature -> ClusterFailure: signatures that run in TensorFlow without trying the
        # device. Read without the lock on the hot path (a dict lookup is atomic); written
        # under it. Empty for a healthy cluster, so the hot path skips the signature.
        self._failed_signatures: dict = {}
        # signature -> consecutive run failures (only signatures that failed at run time)
        self._run_failures: dict = {}
        self._lock = threading.Lock()
        # Cost placement (see the module docstring). key -> True (device) / False (TF):
        # read without the lock on the hot path, written under it.
        self._placement: dict = {}
        self._probes: dict = {}             # key -> _Probe, while a key is being measured
        self._pending_probes: dict = {}     # id(outputs) -> (outputs, key, start, timed)
        variables = set(spec.variable_inputs)
        self._cost_inputs = tuple(i for i in range(len(spec.inputs)) if i not in variables)

    def run(self, inputs: list, outputs) -> bool:
        counters.increment("cluster_executions")
        if self._failed_signatures:
            known_failure = self._failed_signatures.get(signature_of(inputs))
            if known_failure is not None:
                return self._fall_back(known_failure)
        settings = config.settings
        if settings.cost_placement:
            key = self._cost_key(inputs, settings)
            on_device = self._placement.get(key)
            if on_device is not True:       # the hot path after a "device" decision ends here
                if on_device is False:
                    counters.record_fallback("cost")
                    return False
                return self._probe(key, inputs, outputs)
        return self._run_on_device(inputs, outputs)

    def _run_on_device(self, inputs: list, outputs) -> bool:
        try:
            self.device.run(inputs, outputs)
        except ClusterFailure as failure:
            self._remember(signature_of(inputs), failure)
            return self._fall_back(failure)
        except Exception as error:  # a device-path bug: still a fallback, never a crash
            failure = ClusterFailure("run", error)
            failure.__cause__ = error
            self._remember(signature_of(inputs), failure)
            return self._fall_back(failure)
        if self._run_failures:
            self._run_succeeded(signature_of(inputs))
        counters.increment("device_executions")
        return True

    def fallback(self, inputs: list, outputs) -> None:
        probe = self._pending_probes.pop(id(outputs), None) if self._pending_probes else None
        if probe is not None and probe[0] is not outputs:   # a recycled id: not our call
            self._pending_probes[id(outputs)] = probe
            probe = None
        try:
            results = self._tensorflow.run(inputs)
            for index, result in enumerate(results):
                result = np.asarray(result)
                np.copyto(outputs.allocate(index, result.shape), result, casting="no")
        except Exception as error:
            if probe is None:
                raise
            # A measurement must never cost the user an answer the device can give.
            self._probe_failed_in_tensorflow(probe[1], error)
            if not self._run_on_device(inputs, outputs):
                raise
            return
        if probe is not None:
            _, key, started, timed = probe
            if timed:
                self._add_sample(key, "tf", _clock() - started)

    def describe(self) -> str:
        return f"cluster {self.spec.name} ({len(self.spec.op_types)} op types: " \
               f"{', '.join(self.spec.op_types)})"

    def failed_signatures(self) -> dict:
        """{signature: ClusterFailure} of the signatures pinned to TensorFlow (for tests)."""
        with self._lock:
            return dict(self._failed_signatures)

    def placements(self) -> dict:
        """{cost key: True (device) / False (TensorFlow)} decided by cost placement (tests)."""
        with self._lock:
            return dict(self._placement)

    # --- cost placement ---------------------------------------------------------------------

    def _cost_key(self, inputs: list, settings) -> tuple:
        # Data inputs only: weights (variable inputs) keep their shapes, and a CNN has
        # hundreds of them; backend and precision change what the device costs.
        return (settings.backend, settings.precision,
                tuple((inputs[i].dtype.str, inputs[i].shape) for i in self._cost_inputs))

    def _probe(self, key, inputs: list, outputs) -> bool:
        """A call of a signature not decided yet: device runs first, then TensorFlow runs."""
        with self._lock:
            if key in self._placement:     # decided by another thread meanwhile
                on_device = self._placement[key]
                probe = None
            else:
                on_device = None
                probe = self._probes.get(key)
                if probe is None:
                    probe = self._probes[key] = _Probe()
                side, timed = probe.next_side()
                if side == "tf":
                    started = _clock()
                    if len(self._pending_probes) > 10_000:  # calls the kernel never finished
                        self._pending_probes.clear()
                    self._pending_probes[id(outputs)] = (outputs, key, started, timed)
        if on_device is False:
            counters.record_fallback("cost")
            return False
        if on_device is True or side is None:   # decided, or the last samples are in flight
            return self._run_on_device(inputs, outputs)
        if side == "tf":
            counters.record_fallback("cost_probe")
            return False
        done = False
        try:
            started = _clock()
            done = self._run_on_device(inputs, outputs)
            elapsed = _clock() - started
        finally:
            if not done:
                # The device failed: the failure rules decide what happens to the signature;
                # give the slot back so that another call measures instead.
                with self._lock:
                    probe.device_started -= 1
        if timed:
            self._add_sample(key, "device", elapsed)
        return done

    def _add_sample(self, key, side: str, seconds: float) -> None:
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
            "the fallback): %s", self.describe(), _format_signature(key[2]), key[0],
            device_median * 1e6, tf_median * 1e6, COST_SAMPLES,
            "stays on the device" if on_device else
            f"runs in TensorFlow from now on (device > {COST_MARGIN:g} x TensorFlow)")

    def _probe_failed_in_tensorflow(self, key, error) -> None:
        with self._lock:
            self._probes.pop(key, None)
            self._placement[key] = True
        logger.warning("ovtf: cost placement: %s failed in TensorFlow while being measured "
                       "(%s: %s); it stays on the device", self.describe(),
                       type(error).__name__, error)

    # --- decisions --------------------------------------------------------------------------

    def _remember(self, signature, failure: ClusterFailure) -> None:
        with self._lock:
            if failure.stage in ("import", "compile"):
                # Deterministic for this signature: don't pay for it again.
                self._failed_signatures[signature] = failure
                return
            count = self._run_failures.get(signature, 0) + 1
            self._run_failures[signature] = count
            if count >= RUN_FAILURES_BEFORE_GIVING_UP:
                self._failed_signatures[signature] = failure
                self._run_failures.pop(signature, None)
                logger.info("ovtf: %s failed %d times in a row at run time for inputs %s; it "
                            "runs in TensorFlow for them from now on", self.describe(), count,
                            _format_signature(signature))

    def _run_succeeded(self, signature) -> None:
        with self._lock:
            self._run_failures.pop(signature, None)

    def _fall_back(self, failure: ClusterFailure) -> bool:
        if not config.settings.dynamic_fallback:
            raise ClusterError(
                f"{self.describe()} failed on backend {config.settings.backend} and dynamic "
                f"fallback is off: {failure} (enable_dynamic_fallback() or "
                f"OVTF_DYNAMIC_FALLBACK=1 runs failing clusters in TensorFlow)") from failure
        counters.record_fallback(failure.stage)
        if _first_report(self._identity(), failure.stage):
            logger.warning("ovtf: %s runs in TensorFlow: %s", self.describe(), failure)
        else:
            logger.debug("ovtf: %s runs in TensorFlow: %s", self.describe(), failure)
        return False


    def _identity(self) -> str:
        identity = getattr(self, "_identity_cache", None)
        if identity is None:
            nodes = sorted(f"{node.name}\0{node.op}" for node in self.spec.graph_def.node)
            digest = hashlib.sha1("\n".join(nodes).encode()).hexdigest()
            identity = self._identity_cache = f"{self.spec.name}:{digest}"
        return identity


class _Probe:
    """Measurements of one (cluster, signature): who runs the next call, and the samples."""

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


_reported: set = set()
_reported_lock = threading.Lock()


def forget_reported_failures() -> None:
    """Warn again for clusters that already warned (tests; long-running programs)."""
    with _reported_lock:
        _reported.clear()


def _first_report(identity: str, stage: str) -> bool:
    """True the first time (cluster identity, stage) fails in this process."""
    key = (identity, stage)
    with _reported_lock:
        if key in _reported:
            return False
        if len(_reported) > 100_000:   # bounded, even for programs that build graphs forever
            _reported.clear()
        _reported.add(key)
        return True


def _format_signature(signature) -> str:
    return ", ".join(f"{np.dtype(dtype).name}{list(shape)}" for dtype, shape in signature)
