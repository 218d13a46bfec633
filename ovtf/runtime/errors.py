"""The error a user sees when a cluster fails on the device and dynamic fallback is off.

(Failures on the way to the device are `ovtf.backends.BackendError`, with their stage.)"""

from __future__ import annotations


class ClusterError(RuntimeError):
    """A cluster failed on the device and dynamic fallback is off."""
