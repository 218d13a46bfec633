"""One `OVTFCluster` kernel's Python half: run on the device, or ask for TensorFlow.

The native kernel creates one `ClusterHandle` per kernel instance and calls:

  run(inputs, outputs) -> bool
      inline on TensorFlow's thread. Inputs are read-only zero-copy numpy views; results go
      into `outputs.allocate(i, shape)` (TF-allocated tensors). True: done. False: the
      kernel moves the work to its fallback pool, which calls
  fallback(inputs, outputs)
      on a worker thread, running the original subgraph with TensorFlow.
  run_zero_size(inputs, outputs) -> False
      instead of `run` when an input has no elements (see "Zero-size inputs").

Fallback decisions are per cluster and per input signature (dtype and shape of every
input):
  * import / compile failures are deterministic for a signature: that signature runs in
    TensorFlow from then on, without asking the device again; other signatures still try
    the device.
  * run failures may be transient (one bad call): the next call tries the device again.
    After `RUN_FAILURES_BEFORE_GIVING_UP` consecutive run failures of one signature it stays
    in TensorFlow, so a device that always fails at run time does not cost a wasted device
    call on every step.
  * anything else the device path raises (a bug, not a BackendError) is a "run" failure
    too: nothing the device does wrong may reach the user as anything but a fallback.
Each fallback is counted in `ovtf.stats()` (`fallbacks`, `fallback_reasons[stage]`). The
first failure of a cluster at each stage is logged as a warning with its cause; later ones at
debug level. "A cluster" here is what the user sees, not one kernel instance: TensorFlow
retraces a function per input shape and instantiates a new kernel each time, so the key is
the cluster's structure (node names and op types, not shapes, not its name).

Zero-size inputs: a call with any input of zero elements (the kernel calls
`run_zero_size` instead of `run`) runs in TensorFlow, also with
dynamic fallback off (fallback reason "zero_size"); an error TF raises there (ArgMin of an
empty tensor) reaches the user as TF's own error class. Such a call never arms the fast path,
which only repeats the dims of a device run. A signature whose imported model makes a
zero-size tensor inside from non-empty inputs (`x[2:10]` of 2 rows feeding a pool) fails
with cause `ZeroSizeTensor` (the OpenVINO backend checks every model it imports): it is
routed the same way, pinned to TensorFlow like an import failure; so is one whose import or
compile failed where TF's shape inference finds such a tensor (`fallback.zero_size_inside`:
OpenVINO's frontend refuses a pool over zero rows).

Cost placement (opt-in, `ovtf.runtime.cost_placement`) may send a signature to TensorFlow
when it measured TensorFlow faster; such calls are fallbacks with reason "cost" (and
"cost_probe" while measuring).

Fast path: after a device run whose executable has a native model, the kernel is armed
(`outputs.arm`) to repeat it by itself for calls with the same input dims, the same weight
buffers and the same baked values (csrc/fast_path.cc): those calls never
reach this object, and ovtf.stats() counts them from the kernel's own counters. Not while
cost placement is on (its decisions are made here, per call); a settings change disarms
every kernel.

With dynamic fallback off, a device failure becomes a `ClusterError` (the kernel turns it
into a TensorFlow error) naming the cluster, the op types inside, the backend and the cause.
Fallback is read at each call, so toggling it affects running clusters at their next call.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from ovtf import counters
from ovtf.backends import BackendError, ZeroSizeTensor
from ovtf.once import Once, structure_key
from ovtf.runtime import cost_placement
from ovtf.runtime.errors import ClusterError
from ovtf.runtime.fallback import TensorFlowRunner, zero_size_inside
from ovtf.spec import ClusterSpec

logger = logging.getLogger("ovtf")

RUN_FAILURES_BEFORE_GIVING_UP = 3
# fallback reason of calls routed to TensorFlow because an input has no elements
ZERO_SIZE = "zero_size"


def signature_of(inputs: list) -> tuple:
    return tuple((array.dtype.str, array.shape) for array in inputs)


class ClusterHandle:
    """`settings()` gives the settings in force (the hook hands in `config.current`: dynamic
    fallback and cost placement apply to clusters that already exist)."""

    def __init__(self, spec: ClusterSpec, device, clock=time.perf_counter, *, settings):
        self.spec = spec
        self.device = device
        self.settings = settings
        self._tensorflow = TensorFlowRunner(spec)
        # signature -> BackendError: signatures that run in TensorFlow without trying the
        # device. Read without the lock on the hot path (a dict lookup is atomic); written
        # under it. Empty for a healthy cluster, so the hot path skips the signature.
        self._failed_signatures: dict = {}
        # signature -> consecutive run failures (only signatures that failed at run time)
        self._run_failures: dict = {}
        # id(outputs) -> (outputs, ClusterError) of a call that failed on the device with
        # dynamic fallback off: its fallback runs TF only to tell bad input from a device
        # failure. The kernel hands the same sink to `fallback`; holding it keeps its Python
        # object, so the id still names it there.
        self._unexplained: dict = {}
        self._lock = threading.Lock()
        self._cost = cost_placement.CostPlacement(spec, self.describe, clock)

    def run(self, inputs: list, outputs) -> bool:
        counters.increment("cluster_executions")
        if self._failed_signatures:
            known_failure = self._failed_signatures.get(signature_of(inputs))
            if known_failure is not None:
                if isinstance(known_failure.cause, ZeroSizeTensor):
                    return self._zero_size(inputs)
                return self._fall_back(known_failure, outputs)
        settings = self.settings()
        if settings.cost_placement:
            key = self._cost.key(inputs, settings)
            on_device = self._cost.decision(key)
            if on_device is not True:       # the hot path after a "device" decision ends here
                if on_device is False:
                    counters.record_fallback("cost")
                    return False
                return self._probe(key, inputs, outputs)
        return self._run_on_device(inputs, outputs)

    def _run_on_device(self, inputs: list, outputs) -> bool:
        try:
            repeat = self.device.run(inputs, outputs)
        except BackendError as failure:
            if failure.stage != "run" and not isinstance(failure.cause, ZeroSizeTensor):
                # OpenVINO refused it: because of a zero-size tensor inside, by TF's shapes?
                empty = zero_size_inside(self.spec, inputs)
                if empty is not None:
                    failure = BackendError(failure.stage, ZeroSizeTensor(
                        f"cluster {self.spec.name}: {empty} ({failure})"))
            self._remember(signature_of(inputs), failure)
            if isinstance(failure.cause, ZeroSizeTensor):
                return self._zero_size(inputs)
            return self._fall_back(failure, outputs)
        except Exception as error:  # a device-path bug: still a fallback, never a crash
            failure = BackendError("run", error)
            failure.__cause__ = error
            self._remember(signature_of(inputs), failure)
            return self._fall_back(failure, outputs)
        if self._run_failures:
            self._run_succeeded(signature_of(inputs))
        counters.increment("device_executions")
        if repeat is not None and not self.settings().cost_placement:
            arm = getattr(outputs, "arm", None)   # the kernel's sink (tests pass others)
            if arm is not None:
                arm(*repeat)
        return True

    def fallback(self, inputs: list, outputs) -> None:
        with self._lock:
            _, unexplained = self._unexplained.pop(id(outputs), (None, None))
        if unexplained is not None:
            # TF's own error (an InvalidArgumentError for split sizes that do not add up)
            # reaches the user as it would without ovtf; if TF succeeds, the device failed.
            self._tensorflow.run(inputs)
            raise unexplained
        sample = self._cost.claim_tensorflow_sample(outputs)
        try:
            results = self._tensorflow.run(inputs)
            for index, result in enumerate(results):
                result = np.asarray(result)
                np.copyto(outputs.allocate(index, result.shape), result, casting="no")
        except Exception as error:
            if sample is None:
                raise
            # A measurement must never cost the user an answer the device can give.
            self._cost.tensorflow_sample_failed(sample[0], error)
            if not self._run_on_device(inputs, outputs):
                with self._lock:
                    self._unexplained.pop(id(outputs), None)
                raise
            return
        if sample is not None:
            key, started, timed = sample
            if timed:
                self._cost.add_sample(key, "tf", self._cost.clock() - started)

    def describe(self) -> str:
        return f"cluster {self.spec.name} ({len(self.spec.op_types)} op types: " \
               f"{', '.join(self.spec.op_types)})"

    def failed_signatures(self) -> dict:
        """{signature: BackendError} of the signatures pinned to TensorFlow (for tests)."""
        with self._lock:
            return dict(self._failed_signatures)

    def placements(self) -> dict:
        """{cost key: True (device) / False (TensorFlow)} decided by cost placement (tests)."""
        return self._cost.placements()

    # --- cost placement ---------------------------------------------------------------------

    def _probe(self, key, inputs: list, outputs) -> bool:
        """A call of a signature cost placement has not decided: device or TF sample."""
        on_device, side, timed = self._cost.next_call(key, outputs)
        if on_device is False:
            counters.record_fallback("cost")
            return False
        if on_device is True or side is None:   # decided, or the last samples are in flight
            return self._run_on_device(inputs, outputs)
        if side == "tf":
            counters.record_fallback("cost_probe")
            return False
        started, done = self._cost.clock(), False
        try:
            done = self._run_on_device(inputs, outputs)
        finally:
            if not done:
                # The device failed (the failure rules decide what happens to the
                # signature): give the sample slot to another call.
                self._cost.device_sample_failed(key)
        if timed:
            self._cost.add_sample(key, "device", self._cost.clock() - started)
        return done

    # --- decisions --------------------------------------------------------------------------

    def _remember(self, signature, failure: BackendError) -> None:
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
                            cost_placement.format_signature(signature))

    def _run_succeeded(self, signature) -> None:
        with self._lock:
            self._run_failures.pop(signature, None)

    def run_zero_size(self, inputs: list, outputs) -> bool:
        """`run` for a call with a zero-element input (the kernel finds those while it
        collects the inputs, at no cost; `run` itself does not look, a loop over hundreds of
        weights costs ~90 us): it runs in TensorFlow, a routing decision, not a failure, so
        also with dynamic fallback off. OpenVINO's frontend and CPU plugin crash
        the process on many zero-size tensors (SIGSEGV/SIGFPE/SIGABRT: ArgMin, Add of int64,
        Gather, BroadcastTo, ...) or return wrong shapes, where TensorFlow returns an empty
        tensor or raises; here TF's answer, and TF's error class, reach the user."""
        counters.increment("cluster_executions")
        return self._zero_size(inputs)

    def _zero_size(self, inputs: list) -> bool:
        counters.record_fallback(ZERO_SIZE)
        if _reported.first((self._identity(), ZERO_SIZE)):
            logger.info("ovtf: %s runs in TensorFlow for inputs %s: a zero-size tensor never "
                        "goes to the device", self.describe(),
                        cost_placement.format_signature(signature_of(inputs)))
        return False

    def _fall_back(self, failure: BackendError, outputs=None) -> bool:
        """False (the call runs in TF) with dynamic fallback on. Off, the failure is the
        user's error, unless TF raises for the same inputs: then the input was bad (OpenVINO
        checks shapes while it imports and compiles) and TF's error is the one to see, so the
        call still goes to `fallback`, which raises one or the other."""
        if not self.settings().dynamic_fallback:
            error = ClusterError(
                f"{self.describe()} failed on backend {self.device.backend_name} and dynamic "
                f"fallback is off: {failure.stage} failed: {failure} (enable_dynamic_fallback() or "
                f"OVTF_DYNAMIC_FALLBACK=1 runs failing clusters in TensorFlow)")
            error.__cause__ = failure
            if outputs is None:
                raise error
            with self._lock:
                self._unexplained[id(outputs)] = (outputs, error)
            return False
        counters.record_fallback(failure.stage)
        if _reported.first((self._identity(), failure.stage)):
            logger.warning("ovtf: %s runs in TensorFlow: %s failed: %s", self.describe(),
                           failure.stage, failure)
        else:
            logger.debug("ovtf: %s runs in TensorFlow: %s failed: %s", self.describe(),
                         failure.stage, failure)
        return False

    def _identity(self) -> str:
        identity = getattr(self, "_identity_cache", None)
        if identity is None:
            # the structure, not the name: a cluster's name carries a digest of its content,
            # shapes included, so each retraced shape of one function has its own name
            # (constants count too: nothing folds them inside a cluster's own graph)
            identity = self._identity_cache = structure_key(
                ((node.name, node.op) for node in self.spec.graph_def.node), skip_ops=())
        return identity


_reported = Once()   # (cluster identity, stage) that already warned


def forget_reported_failures() -> None:
    """Warn again for clusters that already warned (tests; long-running programs)."""
    _reported.forget()
