"""A hand-written operator support for partitioner tests (the torch.fx MockOperatorSupport
way): which ops are supported is stated here, not whatever OpenVINO happens to lack."""

from __future__ import annotations

from ovtf.ocm import CompilePolicy, OperatorSupport
from ovtf.ocm.support import SUPPORTED, UNSUPPORTED_OP, Mark


class MockSupport(OperatorSupport):
    """Every op type except `unsupported`; `static_inputs`: op type -> input positions."""

    def __init__(self, unsupported=("Lgamma",), static_inputs=None, target="MOCK"):
        self.unsupported = frozenset(unsupported)
        self.static = dict({"Reshape": (1,), "ReverseV2": (1,)} if static_inputs is None
                           else static_inputs)
        self.target = target

    def judge(self, node) -> Mark:
        if node.op in self.unsupported:
            return Mark(False, UNSUPPORTED_OP, f"mock: {node.op} unsupported")
        return SUPPORTED

    def policy(self) -> CompilePolicy:
        return CompilePolicy(static_positions=self.static)
