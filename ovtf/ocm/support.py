"""Operator support: the object that answers "may this node run on the backend, and if not,
why not" — the one thing the partitioner is handed (in the style of torch.fx's
`OperatorSupport`).

    support.judge(node) -> Mark            Mark(True) or Mark(False, reason code, detail)
    support.static_inputs(node) -> tuple   input positions whose value must be known when
                                           compiling (negative: from the end)
    support.compiles_per_value(node)       whether those may come from outside the cluster
                                           whatever their dtype (Range)
    support.bakes_outside_integers()       whether an integer/bool static input may come
                                           straight from outside the cluster: the runtime
                                           then compiles once per value (None: no opinion)
    support.judge_cluster(inputs) -> str | None
                                           a whole cluster's input signature, [(dtype enum,
                                           shape recorded or None (-1: unknown dim), whether
                                           the shape is the same on every run)]: None when
                                           the backend can run it, else why not
    support.op_types() -> frozenset | None op types it may accept (None: not limited by type)
    support.allows_dynamic_shapes() -> bool
                                           whether the runtime may compile a cluster with
                                           some input dims left dynamic (-1), one executable
                                           for many shapes (False: one compile per shape,
                                           e.g. a static-shape device such as the NPU)
    support.judge_graph(graph_def) -> str | None
                                           a whole graph, before any node is judged: None,
                                           or why the graph stays in TensorFlow as it is
    support.target                          the backend these answers are for (written on
                                           every cluster, so the runtime runs it there)

`chain(a, b, ...)` is supported where every part is (the first refusal gives the reason);
rules are small subclasses (`ovtf.ocm.rules`), the OpenVINO op registry is one
(`ovtf.ocm.table.TableSupport`). Reason codes are strings so reports and logs read well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from tensorflow.core.framework import types_pb2

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

    def static_inputs(self, node) -> tuple:
        return ()

    def compiles_per_value(self, node) -> bool:
        return False

    def bakes_outside_integers(self):
        return None

    def judge_cluster(self, inputs: list) -> Optional[str]:
        return None

    def op_types(self) -> Optional[frozenset]:
        return None

    def allows_dynamic_shapes(self) -> bool:
        return True

    def judge_graph(self, graph_def) -> Optional[str]:
        return None

    def supported_ops(self) -> list:
        """Sorted op types this support may accept (empty when not limited by type)."""
        return sorted(self.op_types() or ())

    def compile_time_inputs(self, spec, max_elements: int = 64) -> frozenset:
        """Indices of a cluster's integer or bool inputs (`ovtf.spec.ClusterSpec`) that feed
        a static input of a node inside: the runtime bakes their values in (small ones only;
        bool: Reverse's `dims`)."""
        import numpy as np

        feeding = set()
        for node in spec.graph_def.node:
            positions = self.static_inputs(node)
            if not positions:
                continue
            data = [name for name in node.input if not name.startswith("^")]
            for position in positions:
                if -len(data) <= position < len(data):
                    feeding.add(data[position].split(":")[0])
        result = set()
        for index, tensor in enumerate(spec.inputs):
            baked_kind = np.issubdtype(tensor.dtype, np.integer) or tensor.dtype == np.bool_
            if tensor.name in feeding and baked_kind:
                known = [d for d in (tensor.shape or ()) if d >= 0]
                if tensor.shape is None or int(np.prod(known or [1])) <= max_elements:
                    result.add(index)
        return frozenset(result)

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

    def static_inputs(self, node) -> tuple:
        positions = set()
        for part in self.parts:
            positions.update(part.static_inputs(node))
        return tuple(sorted(positions))

    def compiles_per_value(self, node) -> bool:
        answers = [part.compiles_per_value(node) for part in self.parts if part.static_inputs(node)]
        return bool(answers) and all(answers)

    def bakes_outside_integers(self):
        answers = [part.bakes_outside_integers() for part in self.parts]
        return False if False in answers else (True if True in answers else None)

    def judge_cluster(self, inputs: list) -> Optional[str]:
        for part in self.parts:
            problem = part.judge_cluster(inputs)
            if problem:
                return problem
        return None

    def allows_dynamic_shapes(self) -> bool:
        return all(part.allows_dynamic_shapes() for part in self.parts)

    def judge_graph(self, graph_def) -> Optional[str]:
        for part in self.parts:
            problem = part.judge_graph(graph_def)
            if problem:
                return problem
        return None

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
