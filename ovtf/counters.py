"""Process-wide counters that say what ovtf did: `ovtf.stats()` reads them.

(The module is `ovtf.counters`, not `ovtf.stats`: that name is the public function.)

Counters only go up (until `reset()`); all updates are thread-safe. Fallbacks are counted in
total and per reason ("import", "compile", "run"; "cost" for calls that cost placement sent
to TensorFlow, "cost_probe" for the TensorFlow runs it timed to decide), so a test or a user
can tell a device run from a silent fallback. Graphs left unchanged are counted too, per reason
("nothing_supported", "below_min_cluster_size", "no_cluster", "not_understood", "disabled").
"""

from __future__ import annotations

import threading
from collections import Counter

COUNTERS = (
    "graphs_seen",          # graphs handed to the rewriter
    "graphs_rewritten",     # graphs that got at least one cluster (each counted once)
    "graphs_left_alone",    # graphs ovtf left unchanged (each counted once; reasons below)
    "ops_total",            # compute ops in every graph counted above, left alone or not
    "ops_marked",           # ... of which the capability manager accepted
    "ops_clustered",        # ... of which ended inside a cluster
    "clusters",             # clusters created
    "cluster_executions",   # OVTFCluster kernel calls (device or fallback)
    "device_executions",    # ... that ran on the device
    "fast_path_executions",  # ... of which the kernel ran by itself, without Python
    "compiles",             # cluster compilations (a cache miss)
    "dynamic_compiles",     # ... of which left some input dims dynamic (one for many shapes)
    "cache_hits",           # compiled cluster found in the in-memory cache
    "disk_cache_hits",      # compiled cluster loaded from OVTF_CACHE_DIR
    "fallbacks",            # executions that ran in TensorFlow instead
    "cost_placed_in_tf",    # (cluster, signature)s cost placement pinned to TensorFlow
    "cost_kept_on_device",  # (cluster, signature)s cost placement measured and kept on device
    "split_member_failures",  # SPLIT members dropped for a signature (compile or run failed)
    "split_reruns",         # SPLIT calls whose failed slices re-ran on other members
)

_lock = threading.Lock()
_counts: Counter = Counter()
_fallback_reasons: Counter = Counter()
_left_alone_reasons: Counter = Counter()
_devices: dict = {}      # backend name -> {"calls", "rows", "failures", "seconds"}
# Counts kept elsewhere (the kernels' fast path, in native code): read() -> [(backend name,
# calls, rows, seconds)], reset() -> None. Set by the hook.
_external = {"read": None, "reset": None}


def set_external(read, reset) -> None:
    """Counts of device runs that never reach Python (the kernels' fast path): each call
    they report is a cluster execution, a device execution and a cache hit."""
    _external["read"], _external["reset"] = read, reset


def increment(name: str, amount: int = 1) -> None:
    if name not in COUNTERS:
        raise KeyError(f"unknown ovtf counter {name!r}")
    with _lock:
        _counts[name] += amount


def add(values: dict) -> None:
    """Add several counters at once (so a reader never sees half a graph's numbers)."""
    for name in values:
        if name not in COUNTERS:
            raise KeyError(f"unknown ovtf counter {name!r}")
    with _lock:
        _counts.update(values)


def record_fallback(reason: str) -> None:
    with _lock:
        _counts["fallbacks"] += 1
        _fallback_reasons[reason] += 1


def record_left_alone(reason: str, values: dict) -> None:
    """One graph left unchanged, why (a short key), and its numbers (`add`'s counters)."""
    for name in values:
        if name not in COUNTERS:
            raise KeyError(f"unknown ovtf counter {name!r}")
    with _lock:
        _counts["graphs_left_alone"] += 1
        _counts.update(values)
        _left_alone_reasons[reason] += 1


def record_device(name: str, rows: int, seconds: float, failed: bool = False) -> None:
    """One call on backend `name` (a device, a SPLIT member, ...): rows of dim 0, seconds."""
    with _lock:
        entry = _devices.get(name)
        if entry is None:
            entry = _devices[name] = {"calls": 0, "rows": 0, "failures": 0, "seconds": 0.0}
        entry["calls"] += 1
        entry["rows"] += int(rows)
        entry["failures"] += bool(failed)
        entry["seconds"] += float(seconds)


def snapshot() -> dict:
    read = _external["read"]
    external = read() if read is not None else []
    with _lock:
        result = {name: _counts[name] for name in COUNTERS}
        result["fallback_reasons"] = dict(_fallback_reasons)
        result["left_alone_reasons"] = dict(_left_alone_reasons)
        result["devices"] = {name: dict(entry) for name, entry in _devices.items()}
    for name, calls, rows, seconds in external:
        if not calls:
            continue
        for counter in ("cluster_executions", "device_executions", "cache_hits",
                        "fast_path_executions"):
            result[counter] += calls
        entry = result["devices"].setdefault(
            name, {"calls": 0, "rows": 0, "failures": 0, "seconds": 0.0})
        entry["calls"] += calls
        entry["rows"] += rows
        entry["seconds"] += seconds
    return result


def reset() -> None:
    if _external["reset"] is not None:
        _external["reset"]()
    with _lock:
        _counts.clear()
        _fallback_reasons.clear()
        _left_alone_reasons.clear()
        _devices.clear()
