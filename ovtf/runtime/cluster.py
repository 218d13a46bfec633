"""One `OVTFCluster` kernel's Python half: run on the device, or ask for TensorFlow.

The native kernel creates one `ClusterHandle` per kernel instance and calls:

  run(inputs, outputs) -> bool
      inline on TensorFlow's thread. Inputs are read-only zero-copy numpy views; results go
      into `outputs.allocate(i, shape)` (TF-allocated tensors). True: done. False: the
      kernel moves the work to its fallback pool, which calls
  fallback(inputs, outputs)
      on a worker thread, running the original subgraph with TensorFlow.

Fallback decisions are per cluster and per input signature: a cluster whose compile failed
for one shape still runs on the device for others. With dynamic fallback off, a device
failure becomes a `ClusterError` naming the cluster, the op types inside and the cause.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from ovtf import config, counters
from ovtf.runtime.errors import ClusterError, ClusterFailure
from ovtf.runtime.fallback import TensorFlowRunner
from ovtf.runtime.spec import ClusterSpec

logger = logging.getLogger("ovtf")


class ClusterHandle:
    def __init__(self, spec: ClusterSpec, device):
        self.spec = spec
        self.device = device
        self._tensorflow = TensorFlowRunner(spec)
        # signature -> ClusterFailure for signatures that must not be retried on the device
        self._failed_signatures: dict = {}
        self._logged_failure = False
        self._lock = threading.Lock()

    def run(self, inputs: list, outputs) -> bool:
        counters.increment("cluster_executions")
        signature = tuple((array.dtype.str, array.shape) for array in inputs)
        known_failure = self._failed_signatures.get(signature)
        if known_failure is not None:
            return self._fall_back(known_failure)
        try:
            self.device.run(inputs, outputs)
        except ClusterFailure as failure:
            if failure.stage in ("import", "compile"):
                # Deterministic for this signature: don't pay for it again.
                with self._lock:
                    self._failed_signatures[signature] = failure
            return self._fall_back(failure)
        counters.increment("device_executions")
        return True

    def fallback(self, inputs: list, outputs) -> None:
        results = self._tensorflow.run(inputs)
        for index, result in enumerate(results):
            result = np.asarray(result)
            np.copyto(outputs.allocate(index, result.shape), result, casting="no")

    def describe(self) -> str:
        return f"cluster {self.spec.name} ({len(self.spec.op_types)} op types: " \
               f"{', '.join(self.spec.op_types)})"

    def _fall_back(self, failure: ClusterFailure) -> bool:
        if not config.settings.dynamic_fallback:
            raise ClusterError(
                f"{self.describe()} failed on backend {config.settings.backend} and dynamic "
                f"fallback is off: {failure}") from failure
        counters.record_fallback(failure.stage)
        if not self._logged_failure:
            self._logged_failure = True
            logger.warning("%s runs in TensorFlow: %s", self.describe(), failure)
        return False
