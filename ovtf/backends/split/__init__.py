"""The SPLIT backend family: one call's batch divided among several backends.

    ovtf.set_backend("SPLIT:NPU.0,NPU.1,GPU")       # OVTF_BACKEND=SPLIT:... works too

One job per module:

* `grammar`: the `SPLIT:<member>,<member>,...` names, and the ValueError (naming the value
  and what is accepted) for a malformed one.
* `backend`: `SplitFamily` (registered below) and `SplitBackend`: what a SPLIT runs (what
  every member supports) and, per cluster signature, whether it splits the batch or runs it
  whole on the first member that compiles.
* `separability`: `batch_separable`, the graph analysis that decides whether a batch may be
  divided by rows without changing an answer.
* `executor`: `SplitExecutable`, which runs the row slices concurrently and reassembles
  them in order; a failing member is dropped and its rows re-run, never lost.
* `balancer`: `apportion` and `Balancer`, how rows are shared between members and when the
  share follows their measured throughput.

Per-member counters: `ovtf.stats()["devices"][member]` (calls, rows, failures, seconds).
"""

from __future__ import annotations

from ovtf.backends import register_family
from ovtf.backends.split.backend import SplitBackend, SplitFamily
from ovtf.backends.split.balancer import (IMBALANCE, MIN_GAIN, MIN_GAP_S, SUSTAINED, Balancer,
                                          apportion)
from ovtf.backends.split.executor import SplitExecutable
from ovtf.backends.split.grammar import PREFIX
from ovtf.backends.split.separability import batch_separable

__all__ = ["SplitFamily", "SplitBackend", "SplitExecutable", "batch_separable", "PREFIX",
           "IMBALANCE", "MIN_GAP_S", "SUSTAINED", "MIN_GAIN", "apportion", "Balancer"]

register_family(SplitFamily())
