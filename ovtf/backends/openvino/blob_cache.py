"""Compiled clusters to and from ovtf's disk cache (OVTF_CACHE_DIR / `set_cache_dir`).

What is stored: `compiled.export_model()` blobs, in ovtf's own checksummed cache
(`ovtf.backends.disk_cache`), loaded with `core.import_model`, so that a second process
skips conversion and compilation (`loaded_from_cache` tells the runtime). Not OpenVINO's
CACHE_DIR: OpenVINO 2026.4 imports a blob with damaged bytes in its body without noticing and
computes wrong numbers; ovtf checks a sha256 first and recompiles a damaged entry, and an
intact blob OpenVINO refuses is discarded and rebuilt.

A cluster compiled through the C API is exported and imported through it too, under a key of
its own (`native_key`), so that a cached cluster also runs on the kernel's fast path. The C
API's import takes no settings: the model gets the device defaults of the core it is
imported into, so each distinct set of settings has a core of its own with them as defaults,
and an imported model that reports any setting otherwise is refused (imported without them,
an f32 CPU blob comes back as bf16 on a BF16-capable CPU, DESIGN fact 10).

Devices that cannot export (AUTO, MULTI: "Not Implemented") are told so once (`export`
returns False) and compile without a disk cache from then on.
"""

from __future__ import annotations

import logging
import tempfile

from ovtf.backends.openvino.executables import (NativeExecutable, OpenVINOExecutable,
                                                parameter_inputs)
from ovtf.backends.openvino.native import native_allowed, native_properties, native_runtime

__all__ = ["cluster_key", "native_key", "import_cached", "export", "native_blob"]

logger = logging.getLogger("ovtf")


def cluster_key(spec, device: str, settings: dict, input_shapes, constants) -> str:
    """The disk-cache key of one cluster compiled for one signature: its graph (the same in
    every process), the device, the settings, the input shapes and the baked-in values."""
    from ovtf.backends import disk_cache
    return disk_cache.make_key(
        (disk_cache.stable_fingerprint(spec), device, sorted(map(str, settings.items())),
         [tuple(shape) for shape in input_shapes], sorted(constants)),
        [constants[index] for index in sorted(constants)])


def native_key(key: str) -> str:
    """The disk-cache key of a blob exported through the C API, next to `key` (the same
    cluster exported through Python): only what the C API path compiled is imported by it."""
    from ovtf.backends import disk_cache
    return disk_cache.make_key((key, "openvino C API"))


def _load(cache, key, spec, load):
    """What `load` makes of the blob cached under `key`, or None: absent, or intact (its
    checksum held) but refused by OpenVINO, which discards it to be rebuilt."""
    payload = cache.load(key)
    if payload is None:
        return None
    try:
        return load(payload)
    except Exception as error:
        logger.warning("ovtf: cluster %s: cached blob %s could not be imported (%s); "
                       "compiling again", spec.name, cache.path(key), error)
        cache.discard(key)
        return None


def import_cached(cache, key, device: str, settings: dict, spec, constants, core):
    """The cluster from the disk cache, or None. A blob that the C API path exported
    (stored under `native_key`: its model passed `native.exact_types`) is imported through
    the C API, so that the kernel's fast path runs it; any other through Python, into `core`
    (the backend's `openvino.Core`)."""
    runtime = native_runtime() if native_allowed(device, settings) else None
    if runtime is not None:
        model = _load(cache, native_key(key), spec, lambda blob: runtime.OpenVINOModel.import_model(
            blob, device, native_properties(settings)))
        if model is not None:
            executable = NativeExecutable(model, parameter_inputs(spec, constants), spec)
            executable.loaded_from_cache = True
            return executable
    compiled = _load(cache, key, spec, lambda blob: core.import_model(blob, device, settings))
    if compiled is None:
        return None
    executable = OpenVINOExecutable(compiled, parameter_inputs(spec, constants), spec)
    executable.loaded_from_cache = True
    return executable


def export(cache, key: str, blob, device: str) -> bool:
    """Stores `blob()`, a compiled model's export, under `key`. False when the device
    cannot export compiled models: the caller stops giving it the disk cache."""
    try:
        payload = blob()
    except Exception as error:
        logger.info("ovtf: device %s cannot export compiled clusters (%s); not using the "
                    "disk cache for it", device, str(error).strip().splitlines()[-1:])
        return False
    cache.store(key, payload)
    return True


def native_blob(model) -> bytes:
    """A C API model's export (the C API writes it to a file only)."""
    with tempfile.TemporaryDirectory(prefix="ovtf-export-") as folder:
        path = f"{folder}/cluster.blob"
        model.export_model(path)
        with open(path, "rb") as stream:
            return stream.read()
