"""How a SPLIT shares one call's rows among its members, and when that share changes.

Rows go in contiguous, ordered slices (`apportion`): every member gets at least one row when
the batch has as many rows as members (so every member keeps being measured), the rest in
proportion to its weight; with fewer rows than members the heaviest members get a row each.

Weights start even. After each call every member that ran updates its throughput estimate
(rows/s, averaged 1:1 with the previous one), but the split adopts the estimates only when
`SUSTAINED` calls in a row were imbalanced (the slowest slice took more than `IMBALANCE` x
the fastest and by more than `MIN_GAP_S`) *and* the new split is predicted to shorten the
slowest slice by at least `MIN_GAIN`. Why so reluctant: every new slice size costs each
member a compilation, far more than a split that chases scheduling noise can win back. The
split stays a deterministic function of the timings; a change is logged (INFO).
"""

from __future__ import annotations

import logging
import threading

__all__ = ["Balancer", "apportion", "IMBALANCE", "MIN_GAP_S", "SUSTAINED", "MIN_GAIN"]

logger = logging.getLogger("ovtf")

IMBALANCE = 1.25
MIN_GAP_S = 0.001     # slices finishing closer together than this are balanced enough
SUSTAINED = 3         # imbalanced calls in a row before the split moves
MIN_GAIN = 0.15       # a new split must cut the predicted slowest slice by this much


class Balancer:
    """Throughput estimates of a SPLIT's members for one cluster, and the split they give."""

    def __init__(self, names, label):
        self.names = list(names)
        self.label = label
        self.estimates = [None] * len(names)      # rows/s, updated after every call
        self.weights = [1.0] * len(names)         # what the split uses (even at first)
        self._lock = threading.Lock()
        self._imbalanced = 0                      # imbalanced calls in a row

    def split(self, batch: int, active: list) -> list:
        """[(member index, rows)] for `batch` rows over the `active` members, in order."""
        with self._lock:
            weights = [self.weights[m] for m in active]
        return apportion(batch, active, weights)

    def update(self, batch: int, timings: list, active: list) -> None:
        """timings: [(member index, rows, seconds)] of one call's slices."""
        timed = [(m, rows, seconds) for m, rows, seconds in timings if rows > 0]
        if not timed:
            return
        with self._lock:
            for m, rows, seconds in timed:
                rate = rows / max(seconds, 1e-6)
                old = self.estimates[m]
                self.estimates[m] = rate if old is None else 0.5 * old + 0.5 * rate
            times = [seconds for _, _, seconds in timed]
            if (len(timed) < 2 or max(times) <= IMBALANCE * min(times)
                    or max(times) - min(times) < MIN_GAP_S):
                self._imbalanced = 0
                return
            self._imbalanced += 1
            if self._imbalanced < SUSTAINED:
                return
            known = [e for e in self.estimates if e is not None]
            mean = sum(known) / len(known)
            weights = [e if e is not None else mean for e in self.estimates]
            before = apportion(batch, active, [self.weights[m] for m in active])
            after = apportion(batch, active, [weights[m] for m in active])

            def slowest(split):
                return max(rows / weights[m] for m, rows in split)

            if after == before or slowest(after) > (1.0 - MIN_GAIN) * slowest(before):
                return
            self.weights = weights
            self._imbalanced = 0
        if after != before:
            logger.info("ovtf: %s: split of %d rows changed to %s (measured rows/s: %s)",
                        self.label, batch,
                        ", ".join(f"{self.names[m]}={rows}" for m, rows in after),
                        ", ".join(f"{self.names[m]}={self.estimates[m]:.0f}"
                                  for m, _ in after if self.estimates[m] is not None))


def apportion(batch: int, active: list, weights: list) -> list:
    """Deterministic: at least one row each when batch >= len(active), the rest by largest
    remainder in proportion to `weights` (ties to the earlier member); with fewer rows than
    members, one row to each of the `batch` heaviest. Returns [(member, rows)] in order."""
    n = len(active)
    if batch <= 0 or n == 0:
        return []
    if batch < n:
        ranked = sorted(range(n), key=lambda i: (-weights[i], i))[:batch]
        return [(active[i], 1) for i in sorted(ranked)]
    rest = batch - n
    total = sum(weights) or float(n)
    quotas = [rest * (w if total else 1.0) / total for w in weights]
    rows = [int(q) for q in quotas]
    left = rest - sum(rows)
    order = sorted(range(n), key=lambda i: (-(quotas[i] - rows[i]), i))
    for i in order[:left]:
        rows[i] += 1
    return [(active[i], rows[i] + 1) for i in range(n)]
