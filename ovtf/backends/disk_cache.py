"""The OpenVINO backend's on-disk cache of compiled clusters (`set_cache_dir` / `OVTF_CACHE_DIR`).

    cache = disk_cache.open_cache(directory)   # None for no directory
    cache = disk_cache.in_use()           # the directory the hook set (`use_directory`)
    key = disk_cache.make_key(parts, arrays)
    payload = cache.load(key)             # bytes, or None (missing, damaged, unreadable)
    cache.store(key, payload)             # never raises

Why ovtf keeps its own files instead of handing OpenVINO its CACHE_DIR: OpenVINO 2026.4
detects a truncated blob or a damaged header and recompiles, but a blob whose body was
damaged (bytes flipped in the weights) is imported as if it were fine and computes wrong
numbers, silently (measured: `tests/test_cache_dir.py::test_openvino_cache_dir_trusts_damaged_blobs`).
So every entry here is `MAGIC | payload length | sha256(payload) | payload`, checked before
OpenVINO sees it. A damaged entry is logged, removed and rebuilt by the caller.

Robustness:
* writes go to a temporary file in the same directory, then `os.replace` onto the entry's
  name: readers (other threads, other processes) see no entry or a whole one, and two
  processes writing the same entry just replace each other's identical bytes;
* a directory that can't be created or written gives one warning per directory and the
  process keeps working with in-memory compilation only (reads are still tried);
* a key covers everything the compiled result depends on: the caller passes the cluster
  fingerprint, shapes, baked-in values, precision, device and config; this module adds the
  OpenVINO version and a digest of the registry/importer/backend sources, so a code change
  never loads a blob built by other code.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import struct
import tempfile
import threading

logger = logging.getLogger("ovtf")

MAGIC = b"OVTF-CACHE-1\n"
_HEADER = struct.Struct("<Q32s")    # payload length, sha256 of the payload
SUFFIX = ".ovtfblob"

_lock = threading.Lock()
_caches: dict = {}                  # directory -> DiskCache
_code_digest = None


class DiskCache:
    def __init__(self, directory: str):
        self.directory = directory
        self._warned_unwritable = False
        self._lock = threading.Lock()

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key + SUFFIX)

    def load(self, key: str):
        """The payload stored under `key`, verified; None if absent or damaged (then removed)."""
        path = self.path(key)
        try:
            with open(path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            logger.debug("ovtf: cache entry %s unreadable: %s", path, error)
            return None
        problem = _check(data)
        if problem is None:
            return data[len(MAGIC) + _HEADER.size:]
        logger.warning("ovtf: damaged cache entry %s (%s); removing it and compiling again",
                       path, problem)
        self.discard(key)
        return None

    def discard(self, key: str) -> None:
        try:
            os.remove(self.path(key))
        except OSError:
            pass

    def store(self, key: str, payload) -> bool:
        """Write atomically; False (after one warning per directory) when that fails."""
        payload = memoryview(payload).cast("B")
        header = MAGIC + _HEADER.pack(len(payload), hashlib.sha256(payload).digest())
        temporary = None
        try:
            os.makedirs(self.directory, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(prefix=".tmp-" + key[:16] + "-",
                                                     dir=self.directory)
            with os.fdopen(descriptor, "wb") as file:
                file.write(header)
                file.write(payload)
            os.replace(temporary, self.path(key))
            return True
        except OSError as error:
            if temporary is not None:
                try:
                    os.remove(temporary)
                except OSError:
                    pass
            self._warn_unwritable(error)
            return False

    def entries(self) -> list:
        return sorted(glob.glob(os.path.join(self.directory, "*" + SUFFIX)))

    def _warn_unwritable(self, error) -> None:
        with self._lock:
            if self._warned_unwritable:
                return
            self._warned_unwritable = True
        logger.warning("ovtf: cache dir %s is not writable (%s); compiled clusters are kept in "
                       "memory only", self.directory, error)


def _check(data: bytes):
    """None if `data` is a whole, intact entry; else what is wrong with it."""
    start = len(MAGIC) + _HEADER.size
    if len(data) < start or not data.startswith(MAGIC):
        return f"bad header, {len(data)} bytes"
    length, digest = _HEADER.unpack_from(data, len(MAGIC))
    if len(data) - start != length:
        return f"truncated: {len(data) - start} of {length} payload bytes"
    if hashlib.sha256(memoryview(data)[start:]).digest() != digest:
        return "checksum mismatch"
    return None


_directory = None                   # the settings' cache dir, set by the hook


def use_directory(directory) -> None:
    """Cache compiled clusters in `directory` from now on (None or '': nowhere). The hook
    calls it whenever the settings change, so nothing here reads them."""
    global _directory
    _directory = directory or None


def in_use():
    """The DiskCache of the directory in use, or None."""
    return open_cache(_directory)


def open_cache(directory):
    """The DiskCache for `directory` (one per directory), or None when it is None or ''."""
    if not directory:
        return None
    with _lock:
        cache = _caches.get(directory)
        if cache is None:
            cache = _caches[directory] = DiskCache(directory)
        return cache


_stable = {}   # spec.fingerprint -> digest of the deterministic serialization


def stable_fingerprint(spec) -> str:
    """A digest of the cluster graph that is the same in every process.

    `spec.fingerprint` hashes the bytes TensorFlow handed over, and protobuf map fields
    (node attributes) serialize in a per-process order: the same cluster gets different
    bytes in two processes. Deterministic serialization orders them."""
    digest = _stable.get(spec.fingerprint)
    if digest is None:
        digest = hashlib.sha256(spec.graph_def.SerializeToString(deterministic=True)).hexdigest()
        with _lock:
            if len(_stable) > 4096:
                _stable.clear()
            _stable[spec.fingerprint] = digest
    return digest


def make_key(parts, arrays=()) -> str:
    """sha256 over `parts` (reprs), the bytes of `arrays` and the code/versions that build."""
    digest = hashlib.sha256()
    digest.update(_code_version().encode())
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\0")
    import numpy as np
    for array in arrays:
        array = np.asarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if array.dtype.hasobject:
            digest.update(repr(array.tolist()).encode())
        elif array.size:
            # raw bytes, whatever the dtype (bfloat16 has no buffer format)
            digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _code_version() -> str:
    global _code_digest
    if _code_digest is None:
        import openvino

        digest = hashlib.sha256()
        digest.update(openvino.__version__.encode())
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the ovtf package
        # what turns a cluster into a compiled model: the registry (its lowerings), the
        # importer and the backends
        for pattern in ("ocm/*.py", "importer/*.py", "backends/*.py", "spec.py"):
            for path in sorted(glob.glob(os.path.join(root, pattern))):
                with open(path, "rb") as file:
                    digest.update(file.read())
        _code_digest = digest.hexdigest()
    return _code_digest
