"""Data pointers of numpy arrays, read fast: how a cluster tells that a weight it baked into
its compiled model was reassigned (ovtf.runtime.device, "Weights").

    data_pointers(arrays) -> [int, ...]
"""

from __future__ import annotations

import ctypes
import logging

import numpy as np

__all__ = ["data_pointers"]

logger = logging.getLogger("ovtf")


def _pointer(array) -> int:
    return array.__array_interface__["data"][0]


def _make_reader():
    """A function: list of ndarrays -> list of their data pointers, as fast as possible.

    `__array_interface__` builds a dict per array (~1 us; 0.3 ms for ResNet50's 320 weights).
    NumPy's public struct layout (ndarraytypes.h, `PyArrayObject_fields`) puts `char *data`
    right after the object header, so it can be read straight from the object with ctypes
    (~0.15 us). The offset is verified on probe arrays at import; any doubt -> slow path.
    """
    read = ctypes.c_void_p.from_address
    offset = object.__basicsize__  # size of PyObject_HEAD on this interpreter build
    ndarray = np.ndarray

    def fast(arrays):
        return [read(id(array) + offset).value if type(array) is ndarray else _pointer(array)
                for array in arrays]

    def slow(arrays):
        return [_pointer(array) for array in arrays]

    try:
        probes = [np.zeros(3), np.arange(10, dtype=np.int32)[2:], np.ones((4, 4), np.float32).T,
                  np.empty(0), np.zeros((2, 3))[1]]
        if fast(probes) == slow(probes):
            return fast
    except Exception:  # pragma: no cover
        pass
    logger.debug("ovtf: fast data-pointer reads unavailable; using __array_interface__")
    return slow


data_pointers = _make_reader()
