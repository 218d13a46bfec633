"""Compile policy: what a backend needs from a cluster's values and shapes when it compiles
it -- the one place the partitioner, the runtime and the importer read that from.

    policy = support.policy()                 an immutable CompilePolicy (`OperatorSupport`)
    policy.static_inputs(node) -> tuple       input positions whose value must be known when
                                              compiling: shapes, axes, paddings, sizes
                                              (negative: from the end)
    policy.compiles_per_value(node) -> bool   whether they may come from anywhere, the runtime
                                              compiling once per value (Range's limits)
    policy.static_inside_cluster(node, n)     the positions (0..n-1) the partitioner must find
                                              computable inside the cluster
    policy.bakes_from_outside(datatype)       whether a static input of this DataType may come
                                              straight from outside the cluster (its value
                                              baked in by the runtime, once per value)
    policy.dynamic_shapes                     whether the runtime may compile a cluster with
                                              some input dims left dynamic (-1), one
                                              executable for many shapes (False: one compile
                                              per shape, e.g. a static-shape device)
    policy.judge_inputs(signature) -> str|None
                                              a cluster's input signature, [(dtype enum,
                                              shape recorded or None (-1: unknown dim),
                                              whether the shape is the same on every run)]:
                                              None when the backend can compile it, else why
                                              not (`static_input_shapes`: every shape fixed)
    policy.compile_time_inputs(spec)          the cluster inputs the runtime bakes in as
                                              constants
    is_baked(dtype, element_count)            the rule for one value: an integer or bool of at
                                              most MAX_BAKED_ELEMENTS elements (the importer
                                              freezes those while converting)
    combined(policies)                        the policy of a chain of supports

Every support part states its own policy (`NO_OPINION` unless it has one); `ovtf.ocm.chain`
combines them: static inputs are the union, an op compiles per value only where every part
that names static inputs for it says so, one part that refuses outside integers refuses
them, and one part that needs static shapes (or static input shapes) gets them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional

import numpy as np
from tensorflow.core.framework import types_pb2

# Integer values bigger than this are data (weights, ids), not shape arguments: they are
# never baked in by value, and the importer shares their memory instead of freezing them.
MAX_BAKED_ELEMENTS = 64

# The DataTypes of values that may be baked, as the partitioner sees them in a GraphDef: the
# same kinds `is_baked` accepts as numpy dtypes at run time (reference dtypes excluded: a
# TF1 variable's value may change between runs).
BAKED_DATATYPES = frozenset({types_pb2.DT_INT8, types_pb2.DT_INT16, types_pb2.DT_INT32,
                             types_pb2.DT_INT64, types_pb2.DT_UINT8, types_pb2.DT_UINT16,
                             types_pb2.DT_UINT32, types_pb2.DT_UINT64, types_pb2.DT_BOOL})


def is_baked_kind(dtype) -> bool:
    """Whether values of this numpy dtype may be baked in as constants (integers, bool:
    Reverse's `dims`)."""
    return bool(np.issubdtype(dtype, np.integer) or dtype == np.bool_)


def is_baked(dtype, element_count: Optional[int]) -> bool:
    """Whether a value of this numpy dtype and size (None: not known yet) is baked in as a
    constant when it feeds a static input."""
    return is_baked_kind(dtype) and (element_count is None or element_count <= MAX_BAKED_ELEMENTS)


@dataclass(frozen=True)
class CompilePolicy:
    # op type -> input positions whose value OpenVINO needs when compiling
    static_positions: Mapping = field(default_factory=dict)
    # op types (of those above) whose static inputs may come from anywhere: compile per value
    per_value_ops: frozenset = frozenset()
    # an integer/bool static input straight from outside the cluster: True allowed (baked in
    # by value), False not, None no opinion (not allowed unless another part allows it)
    bakes_outside_integers: Optional[bool] = None
    dynamic_shapes: bool = True
    # a cluster whose input shape can change from run to run is not placed (static-shape
    # devices such as the NPU)
    static_input_shapes: bool = False

    def __post_init__(self):
        # read-only copies, so a policy handed around cannot be changed under its readers
        object.__setattr__(self, "static_positions",
                           MappingProxyType({op: tuple(positions) for op, positions
                                             in self.static_positions.items() if positions}))
        object.__setattr__(self, "per_value_ops",
                           frozenset(self.per_value_ops) & frozenset(self.static_positions))

    def static_inputs(self, node) -> tuple:
        return self.static_positions.get(node.op, ())

    def compiles_per_value(self, node) -> bool:
        return node.op in self.per_value_ops

    def static_inside_cluster(self, node, input_count: int) -> list:
        """The data-input positions of `node` (of `input_count`) whose value the partitioner
        must find computable inside the cluster, or baked from outside (`bakes_from_outside`);
        none for an op compiled per value."""
        if self.compiles_per_value(node):
            return []
        return sorted({i if i >= 0 else input_count + i for i in self.static_inputs(node)
                       if -input_count <= i < input_count})

    def judge_inputs(self, signature: list) -> Optional[str]:
        if not self.static_input_shapes:
            return None
        for index, (_, shape, fixed) in enumerate(signature):
            if fixed:
                continue
            if shape is None or any(dim < 0 for dim in shape):
                shown = "unknown rank" if shape is None else \
                    "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"
                return f"input {index} has a dynamic shape ({shown}); the device needs static shapes"
        return None

    def bakes_from_outside(self, datatype: Optional[int]) -> bool:
        return bool(self.bakes_outside_integers) and datatype in BAKED_DATATYPES

    def compile_time_inputs(self, spec) -> frozenset:
        """Indices of a cluster's inputs (`ovtf.spec.ClusterSpec`) that feed a static input
        of a node inside and are baked in by value (`is_baked`, by the recorded shape)."""
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
            if tensor.name not in feeding:
                continue
            # unknown dims (-1) count as 1: a recorded [-1] shape argument is small
            known = [d for d in (tensor.shape or ()) if d >= 0]
            count = None if tensor.shape is None else int(np.prod(known or [1]))
            if is_baked(tensor.dtype, count):
                result.add(index)
        return frozenset(result)


NO_OPINION = CompilePolicy()


def combined(policies) -> CompilePolicy:
    """The policy of supports chained together (see the module docstring)."""
    policies = list(policies)
    positions, naming = {}, {}
    for policy in policies:
        for op, op_positions in policy.static_positions.items():
            positions.setdefault(op, set()).update(op_positions)
            naming.setdefault(op, []).append(policy)
    per_value = {op for op, parts in naming.items()
                 if all(op in part.per_value_ops for part in parts)}
    bakes = [policy.bakes_outside_integers for policy in policies]
    return CompilePolicy(
        static_positions={op: tuple(sorted(found)) for op, found in positions.items()},
        per_value_ops=frozenset(per_value),
        bakes_outside_integers=False if False in bakes else (True if True in bakes else None),
        dynamic_shapes=all(policy.dynamic_shapes for policy in policies),
        static_input_shapes=any(policy.static_input_shapes for policy in policies))
