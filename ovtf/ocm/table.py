"""The OpenVINO family's registry as an operator support: a node is supported when its op
type has an entry and its dtypes and attributes pass the entry's checks."""

from __future__ import annotations

from typing import Optional

from ovtf.ocm import registry
from ovtf.ocm.policy import CompilePolicy
from ovtf.ocm.support import (ATTR, DTYPE, STATEFUL, SUPPORTED, UNSUPPORTED_OP, Mark,
                              OperatorSupport, dtype_name, type_values)


class TableSupport(OperatorSupport):
    """Answers from registry entries (`ovtf.ocm.registry`); `entries`: op type -> Capability."""

    def __init__(self, entries: Optional[dict] = None, target: str = ""):
        self.entries = dict(registry.table() if entries is None else entries)
        self.target = target

    def judge(self, node) -> Mark:
        entry = self.entries.get(node.op)
        if entry is None:
            if is_stateful(node.op):
                return Mark(False, STATEFUL, f"{node.op} is stateful")
            return Mark(False, UNSUPPORTED_OP, f"no OpenVINO conversion for {node.op}")
        for attr_name, allowed in entry.dtypes.items():
            if attr_name in node.attr:
                for dtype in type_values(node.attr[attr_name]):
                    if dtype not in allowed:
                        return Mark(False, DTYPE, f"{attr_name}={dtype_name(dtype)}")
        if entry.check is not None:
            problem = entry.check(node)
            if problem:
                return Mark(False, ATTR, problem)
        return SUPPORTED

    def policy(self) -> CompilePolicy:
        # the entries' static inputs; small integer/bool cluster inputs at static positions
        # are baked in by value (`CompilePolicy.compile_time_inputs`): `tf.pad(x,
        # fed_paddings)` runs on the device
        return CompilePolicy(
            static_positions={op: entry.static_inputs for op, entry in self.entries.items()},
            per_value_ops=frozenset(op for op, entry in self.entries.items() if entry.per_value),
            bakes_outside_integers=True)

    def op_types(self) -> frozenset:
        return frozenset(self.entries)


_STATEFUL: dict = {}


def is_stateful(op: str) -> bool:
    if op not in _STATEFUL:
        from tensorflow.python.framework import op_def_registry
        op_def = op_def_registry.get(op)
        _STATEFUL[op] = bool(op_def is not None and op_def.is_stateful)
    return _STATEFUL[op]
