"""The compiled-cluster cache: an LRU of compiled executables, shared by the clusters handed it.

    cache = CompiledCache(capacity=DEFAULT_CACHE_SIZE)
    entry = cache.lookup(key)                                   # None: not compiled yet
    entry = cache.get_or_compile(key, build, reusable, timeout, name)
    cache.set_capacity(n); cache.clear(); len(cache)

`PROCESS_CACHE` is the one the hook hands to every cluster of the process (`DEFAULT_CACHE_SIZE`
= 32 entries); a test may hand a `DeviceCluster` its own. The key is the cluster's business
(ovtf.runtime.device: cluster fingerprint, backend, precision, dtype and shape of every data
input, values of compile-time inputs, weights mode). Counter `cache_hits` counts an entry found
here by a call that came to compile it (another thread compiled it meanwhile).

One compilation per key
    Calls that miss the same key at once wait for the first one's compile instead of
    compiling again.

Compile bound
    With a `timeout` (the caller passes `config.settings.compile_timeout`,
    `ovtf.set_compile_timeout`, OVTF_COMPILE_TIMEOUT; 0: no bound), the compile runs in a
    worker thread and the call waits at most that long for it; past that it fails with stage
    "compile" (`CompileTimeout`): the signature runs in TF, or raises with fallback off. See
    `CompiledCache._bounded`.

Retiring
    An entry that leaves the cache (evicted, cleared, discarded) retires its executable, so no
    kernel keeps rerunning its model by itself (csrc/fast_path.cc).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from ovtf import counters as _counters
from ovtf.backends import BackendError

__all__ = ["CompiledCache", "CacheEntry", "CompileTimeout", "DEFAULT_CACHE_SIZE",
           "PROCESS_CACHE"]

logger = logging.getLogger("ovtf")

# Compiled executables kept in memory, over all clusters. A CNN at one batch size is 1-3
# clusters, so this holds about ten models x batch sizes. Each entry owns its compiled
# model, whose repacked weights are about the size of the cluster's weights (ResNet50:
# ~100 MB), so the bound is also a memory bound: 32 ResNet50-sized entries ~ 3 GB.
DEFAULT_CACHE_SIZE = 32


class CompileTimeout(RuntimeError):
    """A cluster compile did not finish within `ovtf.set_compile_timeout`'s bound."""


class CacheEntry:
    __slots__ = ("executable", "weights", "pointers")

    def __init__(self, executable, weights=None, pointers=None):
        self.executable = executable
        self.weights = weights        # the arrays baked in: held so their buffers can't change
        self.pointers = pointers      # their data pointers (compared on every call)


class CompiledCache:
    """Compiled executables by key, least recently used evicted first; thread-safe."""

    def __init__(self, capacity: int = DEFAULT_CACHE_SIZE):
        self._lock = threading.Lock()
        self._entries: OrderedDict = OrderedDict()     # key -> CacheEntry
        self._inflight: dict = {}     # key -> threading.Event (compilation under way)
        self._abandoned: dict = {}    # key -> BackendError: compile still running past its bound
        self._capacity = DEFAULT_CACHE_SIZE
        self.set_capacity(capacity)

    @property
    def capacity(self) -> int:
        return self._capacity

    def set_capacity(self, entries: int) -> None:
        """Bound the number of compiled executables kept (least recently used go)."""
        if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
            raise ValueError(f"cache size: {entries!r} is not an integer >= 1")
        with self._lock:
            self._capacity = entries
            self._evict()

    def clear(self) -> None:
        """Retire and drop every entry: what a new process starts with (the disk cache stays)."""
        with self._lock:
            for entry in self._entries.values():
                _retire(entry)
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def lookup(self, key):
        """The entry of `key` (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def discard(self, key, entry) -> None:
        """Drop `entry` if it is still the one cached under `key` (another thread may have
        replaced it already)."""
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
                _retire(entry)

    def get_or_compile(self, key, build, reusable=None, timeout: float = 0, name: str = ""):
        """The entry of `key`: a cached one that `reusable(entry)` accepts (checked under the
        cache's lock; None accepts any), else `build()`'s, cached. `build` returns a
        CacheEntry or raises BackendError; one runs per key however many threads miss it.
        `timeout` > 0 bounds the wait for it (see "Compile bound"); `name` names the cluster
        in messages."""
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and (reusable is None or reusable(entry)):
                    self._entries.move_to_end(key)
                    _counters.increment("cache_hits")
                    return entry
                event = self._inflight.get(key)
                if event is None:
                    event = threading.Event()
                    self._inflight[key] = event
                    break
            event.wait()
            abandoned = self._abandoned.get(key)
            if abandoned is not None:   # that compile is still running past its bound
                raise BackendError(abandoned.stage, abandoned.cause)
        try:
            def build_and_store():
                return self._store(key, build())

            if not timeout:
                return build_and_store()
            return self._bounded(build_and_store, timeout, key, name)
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            event.set()

    def _store(self, key, entry):
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._evict()
        return entry

    def _evict(self) -> None:
        """Called with the lock held."""
        while len(self._entries) > self._capacity:
            _retire(self._entries.popitem(last=False)[1])

    def _bounded(self, build_and_store, timeout: float, key, name: str):
        """Run `build_and_store` in a worker; wait at most `timeout` seconds for it.

        OpenVINO cannot cancel a compile, so one that overruns is abandoned, not stopped: the
        call gets BackendError("compile", CompileTimeout) (its signature then runs in TF, see
        ovtf.runtime.cluster), calls of the same key meanwhile get the same error instead of
        starting another compile, and if the worker ever finishes, its executable is cached
        for later kernels of the cluster (its own signature stays in TF for the kernel that
        gave up). The worker is a daemon thread: a compile that never ends cannot keep the
        process from exiting."""
        done = threading.Event()
        outcome = {}

        def work():
            try:
                outcome["entry"] = build_and_store()
            except BaseException as error:   # noqa: BLE001 - handed to the waiting call
                outcome["error"] = error
            finally:
                with self._lock:
                    late = self._abandoned.pop(key, None) is not None
                    done.set()
                if late:
                    logger.info("ovtf: cluster %s: the compile abandoned after its bound "
                                "finished (%s)", name,
                                "cached" if "entry" in outcome else outcome.get("error"))

        worker = threading.Thread(target=work, name=f"ovtf-compile-{name}", daemon=True)
        worker.start()
        finished = done.wait(timeout)
        with self._lock:
            if not finished and not done.is_set():
                failure = BackendError("compile", CompileTimeout(
                    f"compiling cluster {name} did not finish within {timeout:g} s (the "
                    f"compile timeout: ovtf.set_compile_timeout / OVTF_COMPILE_TIMEOUT; 0 "
                    f"means no bound)"))
                self._abandoned[key] = failure
                raise failure
        if "error" in outcome:
            raise outcome["error"]
        return outcome["entry"]


def _retire(entry) -> None:
    """An entry leaves the cache: kernels stop rerunning its model by themselves (they hold
    it until their next call), so the cache's bound also bounds what they keep alive."""
    retire = getattr(entry.executable, "retire", None)
    if retire is not None:
        retire()


PROCESS_CACHE = CompiledCache()
