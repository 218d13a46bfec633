"""Marking: decide for every node of a GraphDef whether it may run on the device, and why not.

A node is marked when its op type has a capability entry (narrowed by the backend), its
dtypes and attributes pass the entry's checks, and no node-level rule keeps it in
TensorFlow. Rules are applied in a fixed order, so a node gets the most telling reason:

    OVTF            already an ovtf cluster or part of an ovtf fallback graph
    CONTROL_FLOW    Enter/Exit/Switch/Merge/NextIteration/LoopCond/... (frames stay in TF;
                    the ops *inside* a loop body or a cond branch can still be marked)
    BOUNDARY        graph inputs/outputs and variable handles (_Arg, Placeholder, ...)
    STATEFUL        a stateful op (random numbers, variable writes, I/O) with no entry
    DTYPE           string/variant/resource tensors, or a dtype the entry does not allow
    UNSUPPORTED_OP  no entry in the table for this backend
    DISABLED        the user disabled this op type (set_disabled_ops / OVTF_DISABLED_OPS)
    DEVICE          assigned to a non-CPU TensorFlow device (the cluster kernel runs on CPU)
    ATTR            the entry's attribute check failed (e.g. an unsupported data_format)
    PRESERVED       the optimizer must keep this node (fetched, fed, or otherwise preserved)

The partitioner adds its own reasons later (STATIC_INPUT, CLUSTER_TOO_SMALL, ...).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from tensorflow.core.framework import types_pb2

from ovtf.ocm import registry

logger = logging.getLogger("ovtf")

# reason codes (strings so that reports and logs read well)
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

CONTROL_FLOW_OPS = frozenset({
    "Enter", "RefEnter", "Exit", "RefExit", "Switch", "RefSwitch", "Merge", "RefMerge",
    "NextIteration", "RefNextIteration", "LoopCond", "ControlTrigger", "_SwitchN",
    "If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase",
    "PartitionedCall", "StatefulPartitionedCall",
})
BOUNDARY_OPS = frozenset({
    "_Arg", "_Retval", "_DeviceArg", "_DeviceRetval", "Placeholder", "PlaceholderWithDefault",
    "NoOp", "VarHandleOp", "VariableV2", "Variable", "ReadVariableOp", "_Recv", "_Send",
    "_HostRecv", "_HostSend",
})
UNSUPPORTED_DTYPES = frozenset({types_pb2.DT_STRING, types_pb2.DT_VARIANT, types_pb2.DT_RESOURCE})


@dataclass(frozen=True)
class Mark:
    supported: bool
    reason: Optional[str] = None    # reason code when not supported
    detail: Optional[str] = None    # a human explanation, e.g. "T=DT_STRING"


SUPPORTED = Mark(True)


def mark(graph_def, backend: str, preserve=frozenset(), disabled_ops=frozenset()) -> dict:
    """node name -> Mark for every node of `graph_def`."""
    from ovtf.ocm import supported_table
    table = supported_table(backend)
    allowed_dtypes = _backend_dtypes(backend)
    preserve = set(preserve)
    marks = {}
    for node in graph_def.node:
        marks[node.name] = _mark_node(node, table, allowed_dtypes, preserve, disabled_ops)
    return marks


def _mark_node(node, table, allowed_dtypes, preserve, disabled_ops) -> Mark:
    from ovtf.runtime.spec import CLUSTER_OP, FALLBACK_ATTR
    op = node.op
    if op == CLUSTER_OP or FALLBACK_ATTR in node.attr:
        return Mark(False, OVTF, "already handled by ovtf")
    if op in CONTROL_FLOW_OPS:
        return Mark(False, CONTROL_FLOW, f"{op} is a control-flow primitive")
    if op in BOUNDARY_OPS:
        return Mark(False, BOUNDARY, f"{op} is a graph boundary or variable op")
    capability = table.get(op)
    bad_dtype = _first_unsupported_dtype(node, UNSUPPORTED_DTYPES) or _fixed_unsupported_dtype(op)
    if capability is None:
        if bad_dtype:
            return Mark(False, DTYPE, bad_dtype)
        if _is_stateful(op):
            return Mark(False, STATEFUL, f"{op} is stateful")
        return Mark(False, UNSUPPORTED_OP, f"no OpenVINO conversion for {op}")
    if bad_dtype:
        return Mark(False, DTYPE, bad_dtype)
    if op in disabled_ops:
        return Mark(False, DISABLED, f"{op} is disabled by the user")
    if node.device and not _is_cpu_device(node.device):
        return Mark(False, DEVICE, f"placed on {node.device}")
    problem = _check_entry_dtypes(node, capability, allowed_dtypes)
    if problem:
        return Mark(False, DTYPE, problem)
    if capability.check is not None:
        problem = capability.check(node)
        if problem:
            return Mark(False, ATTR, problem)
    if node.name in preserve:
        return Mark(False, PRESERVED, "the optimizer must preserve this node")
    return SUPPORTED


def _type_values(attr_value) -> list:
    if attr_value.HasField("list"):
        return list(attr_value.list.type)
    if attr_value.WhichOneof("value") == "type":
        return [attr_value.type]
    return []


def _dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype) if dtype in types_pb2.DataType.values() else str(dtype)


def _first_unsupported_dtype(node, bad) -> Optional[str]:
    for name, value in node.attr.items():
        for dtype in _type_values(value):
            # reference dtypes (DT_FLOAT_REF = DT_FLOAT + 100) only occur on TF1 variables
            if dtype in bad or dtype > 100:
                return f"{name}={_dtype_name(dtype)}"
    return None


_FIXED_DTYPE_CACHE: dict = {}


def _fixed_unsupported_dtype(op: str) -> Optional[str]:
    """Inputs/outputs whose dtype is fixed by the op definition (e.g. AsString -> string)."""
    if op not in _FIXED_DTYPE_CACHE:
        from tensorflow.python.framework import op_def_registry
        op_def = op_def_registry.get(op)
        found = None
        if op_def is not None:
            for arg in list(op_def.input_arg) + list(op_def.output_arg):
                if arg.type in UNSUPPORTED_DTYPES:
                    found = f"{arg.name}: {_dtype_name(arg.type)}"
                    break
        _FIXED_DTYPE_CACHE[op] = found
    return _FIXED_DTYPE_CACHE[op]


def _check_entry_dtypes(node, capability, backend_dtypes) -> Optional[str]:
    for attr_name, allowed in capability.dtypes.items():
        if attr_name not in node.attr:
            continue
        for dtype in _type_values(node.attr[attr_name]):
            if dtype not in allowed or (backend_dtypes is not None and dtype not in backend_dtypes):
                return f"{attr_name}={_dtype_name(dtype)}"
    return None


def _is_cpu_device(device: str) -> bool:
    # "/job:localhost/replica:0/task:0/device:CPU:0", "/device:CPU:0", "cpu:0", ...
    return ":cpu:" in device.lower().replace("/", ":") + ":" or device.lower().startswith("cpu")


_STATEFUL_CACHE: dict = {}


def _is_stateful(op: str) -> bool:
    if op not in _STATEFUL_CACHE:
        from tensorflow.python.framework import op_def_registry
        op_def = op_def_registry.get(op)
        _STATEFUL_CACHE[op] = bool(op_def is not None and op_def.is_stateful)
    return _STATEFUL_CACHE[op]


def _backend_dtypes(backend: str):
    """DataTypes the backend can run, or None for "no restriction"."""
    from ovtf.ocm import backend_object
    declared = getattr(backend_object(backend), "supported_dtypes", None)
    if declared is None:
        return None
    if callable(declared):
        declared = declared()
    from tensorflow.python.framework import dtypes
    result = set()
    for item in declared:
        try:
            result.add(dtypes.as_dtype(item).as_datatype_enum)
        except (TypeError, ValueError):
            logger.debug("ovtf.ocm: backend %s declares unknown dtype %r", backend, item)
    # integer/bool index tensors are always needed (shapes, masks): never narrow those away
    return frozenset(result) | registry.INDEX | registry.BOOL
