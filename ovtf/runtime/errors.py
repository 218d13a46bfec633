"""Errors a cluster raises on its way to the device, and the one the user sees."""

from __future__ import annotations

STAGES = ("import", "compile", "run")


class ClusterFailure(Exception):
    """The device could not import, compile or run a cluster for one input signature.

    Raised by devices (backends); the runtime turns it into a TensorFlow fallback, or into
    a `ClusterError` when dynamic fallback is off.
    """

    def __init__(self, stage: str, cause: BaseException | str):
        if stage not in STAGES:
            raise ValueError(f"unknown cluster failure stage {stage!r}; expected one of {STAGES}")
        self.stage = stage
        self.cause = cause
        super().__init__(f"{stage} failed: {_describe(cause)}")


class ClusterError(RuntimeError):
    """A cluster failed on the device and dynamic fallback is off."""


def _describe(cause) -> str:
    if isinstance(cause, BaseException):
        text = str(cause).strip()
        return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    return str(cause)
