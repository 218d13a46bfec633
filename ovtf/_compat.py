"""Which TensorFlow ovtf works with, checked once at import with a clear message.

ovtf talks to TensorFlow only through its stable C API (grappler plugin, op and kernel
registration), so one build serves a range of TensorFlow releases; the range below is what
the test suite has been run against or what uses the same C API structs.
"""

from __future__ import annotations

MIN_TENSORFLOW = (2, 16)
MAX_TENSORFLOW_EXCLUSIVE = (2, 23)
SUPPORTED_RANGE = ">=2.16,<2.23"


def parse_version(text: str) -> tuple:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_tensorflow() -> None:
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            f"ovtf needs TensorFlow {SUPPORTED_RANGE} (pip install tensorflow or tensorflow-cpu): {error}"
        ) from error
    version = parse_version(tf.__version__)
    if not MIN_TENSORFLOW <= version < MAX_TENSORFLOW_EXCLUSIVE:
        raise ImportError(
            f"ovtf supports TensorFlow {SUPPORTED_RANGE}, but TensorFlow {tf.__version__} is installed")
