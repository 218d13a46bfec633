"""`Once`: remembers keys it has seen, so a message is logged once per key (bounded: a
program that builds graphs forever does not grow it without limit). Imports nothing of ovtf."""

from __future__ import annotations

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
