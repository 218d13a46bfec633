"""Operator support: the object that answers "may this node run on the backend, and if not,
why not" — the one thing the partitioner is handed (in the style of torch.fx's
`OperatorSupport`).

    support.judge(node) -> Mark            Mark(True) or Mark(False, reason code, detail)
    support.judge_graph(graph_def) -> str | None
                                           a whole graph, before any node is judged: None,
                                           or why the graph stays in TensorFlow as it is
    support.policy() -> CompilePolicy      what compiling needs: static inputs, which of
                                           them are baked in by value, dynamic shapes, which
                                           cluster input signatures it can compile
                                           (`ovtf.ocm.policy`)
    support.op_types() -> frozenset | None op types it may accept (None: not limited by type;
                                           `supported_ops(support)` sorts them)
    support.target                          the backend these answers are for (written on
                                           every cluster, so the runtime runs it there)

`chain(a, b, ...)` is supported where every part is (the first refusal gives the reason),
and its compile policy combines the parts' (`ovtf.ocm.policy.combined`); rules are small
subclasses (`ovtf.ocm.rules`), the OpenVINO op registry is one
(`ovtf.ocm.table.TableSupport`). Reason codes are strings so reports and logs read well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from tensorflow.core.framework import types_pb2

from ovtf.ocm.policy import NO_OPINION, CompilePolicy, combined

# reason codes (the order in which `ovtf.ocm.mark` applies them is documented there)
OVTF = "OVTF"
CONTROL_FLOW = "CONTROL_FLOW"
BOUNDARY = "BOUNDARY"
STATEFUL = "STATEFUL"
DTYPE = "DTYPE"
UNSUPPORTED_OP = "UNSUPPORTED_OP"
DISABLED = "DISABLED"
DEVICE = "DEVICE"
ATTR = "ATTR"
PRESERVED = "PRESERVED"
SHAPE = "SHAPE"
RANGE = "RANGE"         # an integer value not provably in the range the device gets right
TRAINING = "TRAINING"   # whole graph: a training step (ovtf.ocm.judge_graph)
GRAPH = "GRAPH"         # whole graph: the backend's judge_graph refused it


@dataclass(frozen=True)
class Mark:
    supported: bool
    reason: Optional[str] = None    # reason code when not supported
    detail: Optional[str] = None    # a human explanation, e.g. "T=DT_STRING"


SUPPORTED = Mark(True)


class OperatorSupport:
    """Supports everything; subclasses override what they restrict."""

    target: str = ""

    def judge(self, node) -> Mark:
        return SUPPORTED

    def judge_graph(self, graph_def) -> Optional[str]:
        return None

    def policy(self) -> CompilePolicy:
        """What compiling needs (`ovtf.ocm.policy`); this part has no opinion."""
        return NO_OPINION

    def op_types(self) -> Optional[frozenset]:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}{' for ' + self.target if self.target else ''}>"


class Chain(OperatorSupport):
    def __init__(self, parts, target: str = ""):
        self.parts = tuple(parts)
        self.target = target or next((p.target for p in self.parts if p.target), "")

    def judge(self, node) -> Mark:
        for part in self.parts:
            mark = part.judge(node)
            if not mark.supported:
                return mark
        return SUPPORTED

    def judge_graph(self, graph_def) -> Optional[str]:
        for part in self.parts:
            problem = part.judge_graph(graph_def)
            if problem:
                return problem
        return None

    def policy(self) -> CompilePolicy:
        return combined(part.policy() for part in self.parts)

    def op_types(self) -> Optional[frozenset]:
        result = None
        for part in self.parts:
            types = part.op_types()
            if types is not None:
                result = types if result is None else result & types
        return result

    def __repr__(self) -> str:
        return f"chain({', '.join(map(repr, self.parts))})"


def chain(*parts: OperatorSupport, target: str = "") -> OperatorSupport:
    """Supported where every part is; the first part that refuses gives the reason."""
    return Chain(parts, target)


def supported_ops(support: OperatorSupport) -> list:
    """Sorted op types `support` may accept (empty when not limited by type)."""
    return sorted(support.op_types() or ())


# --- helpers shared by the rules ------------------------------------------------------------

def type_values(attr_value) -> list:
    """The DataTypes a type or list(type) attribute holds."""
    if attr_value.HasField("list"):
        return list(attr_value.list.type)
    if attr_value.WhichOneof("value") == "type":
        return [attr_value.type]
    return []


def dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype) if dtype in types_pb2.DataType.values() else str(dtype)
