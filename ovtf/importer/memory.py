"""Zero-copy hand-off of numpy arrays to OpenVINO, including read-only ones.

The native kernel gives ovtf read-only numpy views of TensorFlow's tensors (TF owns them).
OpenVINO's Python API refuses to share the memory of a read-only array
(`ov.Tensor(a, shared_memory=True)` and `ov.op.Constant(a, shared_memory=True)` raise
"array is not writeable"), although it only reads inputs and constants. `shareable(a)`
returns a writable alias of the same memory that keeps `a` (and so the TF buffer) alive;
OpenVINO never writes through it.
"""

from __future__ import annotations

import ctypes

import numpy as np


def shareable(array: np.ndarray) -> np.ndarray:
    """`array` itself when OpenVINO can share it, else a writable alias (or a contiguous copy)."""
    if not array.flags.c_contiguous:
        return np.ascontiguousarray(array)
    if array.flags.writeable:
        return array
    if array.nbytes == 0:
        return np.empty(array.shape, array.dtype)
    address = array.__array_interface__["data"][0]
    buffer = (ctypes.c_char * array.nbytes).from_address(address)
    buffer._ovtf_owner = array  # the alias must not outlive the memory it points into
    return np.frombuffer(buffer, dtype=array.dtype).reshape(array.shape)
