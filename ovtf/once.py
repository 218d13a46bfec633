"""Once per key: `Once` remembers the keys it has seen, `structure_key` makes a graph's key.

`Once` remembers keys it has seen, so a message is logged once per key (bounded: a program
that builds graphs forever does not grow it without limit).

`structure_key` is the key of a graph by its structure, its nodes' names and op types, for
the places that must see one graph twice as one: TF's two optimizer passes over a graph
(it reorders nodes and folds constants in between: the hook's warnings, the placement
counters), and a cluster retraced for other shapes (its name carries a digest of its
content, shapes included: the runtime's fallback warnings). Imports nothing of ovtf.
"""

from __future__ import annotations

import hashlib
import threading


class Once:
    def __init__(self, limit: int = 100_000):
        self._seen: set = set()
        self._limit = limit
        self._lock = threading.Lock()

    def first(self, key) -> bool:
        """True the first time `key` is seen (until `forget`)."""
        with self._lock:
            if key in self._seen:
                return False
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen.add(key)
            return True

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()


def structure_key(nodes, head=(), skip_ops=("Const",)) -> str:
    """A hex digest of a graph's structure: `nodes`, (name, op type) pairs in any order,
    without those whose op is in `skip_ops` (by default constants, which TF folds between
    its two passes), after the lines of `head` (what else tells two graphs apart, in order)."""
    names = sorted(f"{name}\0{op}" for name, op in nodes if op not in skip_ops)
    return hashlib.sha1("\n".join([*head, *names]).encode()).hexdigest()
