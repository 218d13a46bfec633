"""Which TensorFlow ovtf works with, checked once at import with a clear message, and the
one thing older releases need before ovtf's native bridge can load.

ovtf talks to TensorFlow only through its stable C API (grappler plugin, op and kernel
registration), so one build serves a range of TensorFlow releases. The range below is the
verified one: `scripts/check_tf_versions.sh` runs the bridge and op tests against each
minor release in it (results in docs/tf_versions.md). Widen it only after running that.

Symbols. `ovtf._native` links no TensorFlow library: its TF C API symbols resolve against
the libraries `import tensorflow` has already loaded. TensorFlow >= 2.19 loads them
RTLD_GLOBAL; 2.16-2.18 load them RTLD_LOCAL, where the extension would fail to import
(`undefined symbol: TF_GetNodesToPreserveList`). `check_tensorflow()` therefore promotes
the already-loaded libraries to global scope (RTLD_NOLOAD | RTLD_GLOBAL), after TensorFlow
is imported: doing it before makes TensorFlow 2.16 itself crash.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger("ovtf")

MIN_TENSORFLOW = (2, 16)
MAX_TENSORFLOW_EXCLUSIVE = (2, 22)
SUPPORTED_RANGE = ">=2.16,<2.22"

# Where TensorFlow's C API symbols live: grappler helpers and TF_LoadPluggableDeviceLibrary
# in the first, op/kernel registration in the second (a dependency of the first).
TENSORFLOW_LIBRARIES = ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")


def parse_version(text: str) -> tuple:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_tensorflow() -> None:
    """Import TensorFlow, check its version, and make its C API visible to ovtf._native."""
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            f"ovtf needs TensorFlow {SUPPORTED_RANGE} (pip install 'ovtf[tf]' or 'ovtf[tf-cpu]', "
            f"or any distribution providing the tensorflow module: tensorflow, tensorflow-cpu, "
            f"intel-tensorflow): {error}"
        ) from error
    version = parse_version(tf.__version__)
    if not MIN_TENSORFLOW <= version < MAX_TENSORFLOW_EXCLUSIVE:
        raise ImportError(
            f"ovtf supports TensorFlow {SUPPORTED_RANGE}, but TensorFlow {tf.__version__} is installed")
    promote_tensorflow_libraries(os.path.dirname(tf.__file__))


def promote_tensorflow_libraries(tensorflow_dir: str) -> list:
    """Re-open TensorFlow's already-loaded libraries with RTLD_GLOBAL (never loading one that
    is not loaded yet). Returns the paths promoted. A no-op where TF already loads them
    globally (>= 2.19) or on platforms without RTLD_NOLOAD."""
    if not sys.platform.startswith("linux") or not hasattr(os, "RTLD_NOLOAD"):
        return []
    import ctypes

    mode = os.RTLD_NOLOAD | os.RTLD_GLOBAL | os.RTLD_NOW
    promoted = []
    for name in TENSORFLOW_LIBRARIES:
        path = os.path.join(tensorflow_dir, name)
        for candidate in (path, name):  # by file, then by soname (another layout)
            try:
                ctypes.CDLL(candidate, mode=mode)  # the handle is TF's: never dlclose it
            except OSError:
                continue
            promoted.append(candidate)
            break
        else:
            logger.debug("ovtf: %s is not loaded by TensorFlow; not promoted", name)
    logger.debug("ovtf: TensorFlow libraries in global scope: %s", promoted)
    return promoted
