"""Small operator-support rules, one idea each: the generic ones every backend gets
(`ovtf.ocm.mark` chains them around a backend's support) and the narrowing ones a device
adds to its family's table (by op type, dtype, attribute value or shape)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from tensorflow.core.framework import types_pb2

from ovtf.ocm.ranges import output_dtypes
from ovtf.ocm.policy import MAX_BAKED_ELEMENTS, CompilePolicy
from ovtf.ocm.table import is_stateful
from ovtf.ocm.support import (ATTR, BOUNDARY, CONTROL_FLOW, DEVICE, DISABLED, DTYPE, OVTF,
                              PRESERVED, SHAPE, SUPPORTED, UNSUPPORTED_OP, Mark,
                              OperatorSupport, dtype_name, type_values)
from ovtf.spec import CLUSTER_OP, FALLBACK_ATTR

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


# --- generic rules ------------------------------------------------------------------------

class NotOvtf(OperatorSupport):
    def judge(self, node) -> Mark:
        if node.op == CLUSTER_OP or FALLBACK_ATTR in node.attr:
            return Mark(False, OVTF, "already handled by ovtf")
        return SUPPORTED


class NoControlFlow(OperatorSupport):
    def judge(self, node) -> Mark:
        if node.op in CONTROL_FLOW_OPS:
            return Mark(False, CONTROL_FLOW, f"{node.op} is a control-flow primitive")
        return SUPPORTED


class NoBoundary(OperatorSupport):
    def judge(self, node) -> Mark:
        if node.op in BOUNDARY_OPS:
            return Mark(False, BOUNDARY, f"{node.op} is a graph boundary or variable op")
        return SUPPORTED


class DenseTensors(OperatorSupport):
    """No string/variant/resource tensors, no TF1 reference dtypes, whatever the op."""

    _fixed: dict = {}

    def judge(self, node) -> Mark:
        for name, value in node.attr.items():
            for dtype in type_values(value):
                # reference dtypes (DT_FLOAT_REF = DT_FLOAT + 100) only occur on TF1 variables
                if dtype in UNSUPPORTED_DTYPES or dtype > 100:
                    return Mark(False, DTYPE, f"{name}={dtype_name(dtype)}")
        fixed = self._fixed_dtype(node.op)
        return Mark(False, DTYPE, fixed) if fixed else SUPPORTED

    @classmethod
    def _fixed_dtype(cls, op: str) -> Optional[str]:
        """Inputs/outputs whose dtype the op definition fixes (e.g. AsString -> string)."""
        if op not in cls._fixed:
            from tensorflow.python.framework import op_def_registry
            op_def = op_def_registry.get(op)
            found = None
            if op_def is not None:
                for arg in list(op_def.input_arg) + list(op_def.output_arg):
                    if arg.type in UNSUPPORTED_DTYPES:
                        found = f"{arg.name}: {dtype_name(arg.type)}"
                        break
            cls._fixed[op] = found
        return cls._fixed[op]


class NotDisabled(OperatorSupport):
    def __init__(self, ops):
        self.ops = frozenset(ops)

    def judge(self, node) -> Mark:
        if node.op in self.ops:
            return Mark(False, DISABLED, f"{node.op} is disabled by the user")
        return SUPPORTED


class OnCpu(OperatorSupport):
    """The cluster kernel runs on TensorFlow's CPU device: nodes placed elsewhere stay."""

    def judge(self, node) -> Mark:
        device = node.device
        # "/job:localhost/replica:0/task:0/device:CPU:0", "/device:CPU:0", "cpu:0", ...
        if device and not (":cpu:" in device.lower().replace("/", ":") + ":"
                           or device.lower().startswith("cpu")):
            return Mark(False, DEVICE, f"placed on {device}")
        return SUPPORTED


class NotPreserved(OperatorSupport):
    def __init__(self, names):
        self.names = frozenset(names)

    def judge(self, node) -> Mark:
        if node.name in self.names:
            return Mark(False, PRESERVED, "the optimizer must preserve this node")
        return SUPPORTED


class NoZeroSize(OperatorSupport):
    """Zero-size tensors known when the graph is built never reach OpenVINO: its TensorFlow
    frontend and CPU plugin crash the process on many of them (ArgMin of an empty constant:
    SIGSEGV in the frontend; BroadcastTo a zero-size shape: SIGFPE; MatrixBandPart: heap
    corruption) or compute wrong shapes, where TensorFlow returns an empty tensor or raises.
    Refused (reason SHAPE), so the node runs in TensorFlow:
      * a Const with a zero dim, and every node that reads one;
      * a node whose shape argument is a constant with a 0 in it (BroadcastTo, Fill,
        Reshape, Tile multiples, Slice sizes, ...): its output is zero-size;
      * a StridedSlice whose constant bounds select nothing on some axis whatever the input
        shape (`x[-3:-3:-1]`, `x[2:2]`): OpenVINO returns one element there.
    Zero-size tensors that arrive at run time are routed to TensorFlow by the runtime
    (`ovtf.runtime.cluster`, fallback reason "zero_size")."""

    # op -> input position of its output-shape argument (a 0 there: a zero-size output)
    SHAPE_ARGUMENTS = {"BroadcastTo": 1, "Fill": 0, "Reshape": 1, "Tile": 1, "Slice": 2,
                       "Empty": 0, "RandomUniform": 0, "RandomStandardNormal": 0,
                       "TruncatedNormal": 0, "StatelessRandomUniformV2": 0,
                       "StatelessRandomNormalV2": 0}
    _MAX_ELEMENTS = MAX_BAKED_ELEMENTS   # shape arguments are small; larger ones are data

    def __init__(self, graph_def):
        self.nodes = {node.name: node for node in graph_def.node if node.op == "Const"}
        self._empty: dict = {}
        self._values: dict = {}

    def judge(self, node) -> Mark:
        if node.op == "Const":
            shape = self._zero_dims(node)
            if shape is not None:
                return Mark(False, SHAPE, f"a zero-size constant (shape {shape}); OpenVINO "
                                          "does not compute on zero-size tensors")
            return SUPPORTED
        data = [name for name in node.input if not name.startswith("^")]
        for name in data:
            source = self.nodes.get(name.split(":")[0])
            if source is not None:
                shape = self._zero_dims(source)
                if shape is not None:
                    return Mark(False, SHAPE, f"reads the zero-size constant {source.name} "
                                              f"(shape {shape}); OpenVINO does not compute on "
                                              "zero-size tensors")
        position = self.SHAPE_ARGUMENTS.get(node.op)
        if position is not None and position < len(data):
            value = self._value(data[position])
            if value is not None and value.ndim <= 1 and 0 in value.tolist():
                return Mark(False, SHAPE, f"its shape argument {value.tolist()} has a 0: the "
                                          "output is zero-size")
        if node.op == "StridedSlice" and len(data) >= 4:
            axis = self._empty_slice_axis(node, data)
            if axis is not None:
                return Mark(False, SHAPE, f"its constant bounds select nothing in slice entry "
                                          f"{axis}: the output is zero-size")
        return SUPPORTED

    def _zero_dims(self, node):
        """The shape of a Const with a zero dim, else None."""
        if node.name not in self._empty:
            dims = [d.size for d in node.attr["value"].tensor.tensor_shape.dim] \
                if "value" in node.attr else []
            self._empty[node.name] = dims if 0 in dims else None
        return self._empty[node.name]

    def _value(self, tensor_name):
        """The numpy value of a small integer Const `tensor_name`, else None."""
        node = self.nodes.get(tensor_name.split(":")[0])
        if node is None or "value" not in node.attr:
            return None
        if node.name not in self._values:
            value = None
            proto = node.attr["value"].tensor
            if proto.dtype in (types_pb2.DT_INT32, types_pb2.DT_INT64):
                size = 1
                for dim in proto.tensor_shape.dim:
                    size *= dim.size
                if size <= self._MAX_ELEMENTS:
                    from tensorflow.python.framework import tensor_util
                    try:
                        value = tensor_util.MakeNdarray(proto)
                    except Exception:   # a malformed constant: no opinion here
                        value = None
            self._values[node.name] = value
        return self._values[node.name]

    def _empty_slice_axis(self, node, data):
        """An axis that the StridedSlice's constant begin/end/strides make empty for every
        input shape (bounds of one sign, none masked), else None."""
        begin, end, strides = (self._value(name) for name in data[1:4])
        if begin is None or end is None or strides is None or begin.ndim != 1 or \
                not (len(begin) == len(end) == len(strides)):
            return None
        masks = {name: node.attr[name].i if name in node.attr else 0
                 for name in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                              "shrink_axis_mask")}
        special = masks["begin_mask"] | masks["end_mask"] | masks["ellipsis_mask"] | \
            masks["new_axis_mask"] | masks["shrink_axis_mask"]
        for index, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
            if special & (1 << index) or s == 0 or (b < 0) != (e < 0):
                continue
            if (s > 0 and e <= b) or (s < 0 and e >= b):
                return index
        return None


class NoConstantNms(OperatorSupport):
    """A NonMaxSuppression whose boxes and scores are computed from constants alone stays in
    TensorFlow: OpenVINO's CPU plugin (2026.4) cannot compile it ("Can not create StaticMemory
    object. The memory desc is undefined": it takes the node for a constant, but its output
    shape is only known when it runs). TF's own kernel tests build such graphs."""

    def __init__(self, graph_def):
        self._constant = _constant_nodes(graph_def) \
            if any(node.op.startswith("NonMaxSuppression") for node in graph_def.node) else set()

    def judge(self, node) -> Mark:
        if not node.op.startswith("NonMaxSuppression"):
            return SUPPORTED
        data = [name.split(":")[0] for name in node.input if not name.startswith("^")]
        if len(data) >= 2 and data[0] in self._constant and data[1] in self._constant:
            return Mark(False, SHAPE, "its boxes and scores are constants: OpenVINO's CPU plugin "
                                      "cannot compile a constant NonMaxSuppression (its output "
                                      "shape is only known when it runs)")
        return SUPPORTED


def _constant_nodes(graph_def) -> set:
    """Names of the nodes whose value follows from Const nodes alone (no stateful op, no
    graph input on the way)."""
    constant = {node.name for node in graph_def.node if node.op == "Const"}
    pending = [node for node in graph_def.node if node.op != "Const" and node.input
               and node.op not in BOUNDARY_OPS and node.op not in CONTROL_FLOW_OPS]
    changed = True
    while changed:
        changed = False
        for node in pending:
            if node.name in constant:
                continue
            if all(name.lstrip("^").split(":")[0] in constant for name in node.input) \
                    and not is_stateful(node.op):
                constant.add(node.name)
                changed = True
    return constant


class SixteenBitRounding(OperatorSupport):
    """A node that rounds to a 16-bit float (f16, bf16) stays in TensorFlow. TF rounds every
    op's 16-bit result; OpenVINO's CPU plugin computes a 16-bit graph in f32 from end to end,
    and drops even an explicit Cast to f16/bf16 inside a cluster (measured, OpenVINO 2026.4.1:
    `cast(cast(x*3, f16), f32) - x*3` gives 0 where TF gives the rounding error, and
    `h*h` of f16 60000 stays finite where TF overflows to inf). Ops whose 16-bit result is
    one of their inputs' values, or an exact function of them, round nothing and stay
    eligible: data movement, selection, sign and integer rounding, and Casts out of 16 bits
    (widening is exact). An element-wise f16 op that TF rounds once per element, whose result
    only leaves the graph (through such exact ops to a graph output), is eligible too: a
    cluster output of type f16 is rounded to nearest once, as TF rounds it. Not bf16: the
    plugin truncates f32 to bf16 there (3.00889 -> 3.0, TF 3.015625). Ops that accumulate
    (cumsum, reductions, matmul, convolution) round in TF at steps OpenVINO does not (`cumsum`
    of f16 [6e4, 6e4, -6e4] overflows in TF), so they stay in TF with any reader."""

    EXACT = frozenset({
        "Const", "Identity", "IdentityN", "Snapshot", "StopGradient", "PreventGradient",
        "Reshape", "Transpose", "ConjugateTranspose", "ExpandDims", "Squeeze", "Concat",
        "ConcatV2", "Pack", "Unpack", "Split", "SplitV", "Slice", "StridedSlice", "Gather",
        "GatherV2", "GatherNd", "ResourceGather", "Pad", "PadV2", "MirrorPad", "Tile",
        "BroadcastTo", "Reverse", "ReverseV2", "ReverseSequence", "Roll", "Fill", "ZerosLike",
        "OnesLike", "Select", "SelectV2", "Neg", "Abs", "Sign", "Relu", "Relu6", "Maximum",
        "Minimum", "ClipByValue", "Max", "Min", "MaxPool", "MaxPoolV2", "MaxPool3D",
        "Floor", "Ceil", "Round", "Rint", "SpaceToBatchND", "BatchToSpaceND", "SpaceToBatch",
        "BatchToSpace", "SpaceToDepth", "DepthToSpace", "OneHot", "MatrixBandPart",
        "TopKV2", "Unique", "ReadVariableOp",
    })
    ROUNDS_ONCE = frozenset({
        "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "Square", "Sqrt", "Rsqrt",
        "Reciprocal", "Inv", "Exp", "Expm1", "Log", "Log1p", "Tanh", "Sigmoid", "Sin", "Cos",
        "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf",
        "Erfc", "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "Cast", "BiasAdd", "Pow",
        "Atan2", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
    })
    SIXTEEN_BITS = frozenset({types_pb2.DT_HALF, types_pb2.DT_BFLOAT16})

    def __init__(self, graph_def=None):
        self.consumers: dict = {}
        for node in (graph_def.node if graph_def is not None else ()):
            for name in node.input:
                if not name.startswith("^"):
                    self.consumers.setdefault(name.split(":")[0], []).append(node)
        self._leaves: dict = {}

    def judge(self, node) -> Mark:
        if node.op in self.EXACT:
            return SUPPORTED
        for dtype in output_dtypes(node) or ():
            if dtype in self.SIXTEEN_BITS and not (dtype == types_pb2.DT_HALF
                                                   and node.op in self.ROUNDS_ONCE
                                                   and self._only_leaves(node)):
                return Mark(False, DTYPE, f"{node.op} rounds to {dtype_name(dtype)}: OpenVINO "
                                          "computes 16-bit floats in f32 inside a cluster and "
                                          "skips TF's rounding after each op")
        return SUPPORTED

    def _only_leaves(self, node) -> bool:
        """Whether every reader of `node`'s value is a graph boundary, a control-flow op or an
        exact op whose own value only leaves: nothing in a cluster computes with it."""
        if node.name not in self._leaves:
            self._leaves[node.name] = False   # a cycle (a loop's back edge) proves nothing
            self._leaves[node.name] = all(
                reader.op in BOUNDARY_OPS or reader.op in CONTROL_FLOW_OPS
                or (reader.op in self.EXACT and self._only_leaves(reader))
                for reader in self.consumers.get(node.name, ()))
        return self._leaves[node.name]


# Ops that exist only in a training step: gradients (TF's registered gradient functions emit
# them; nothing in inference does) and optimizer updates. Forward ops that merely share a
# name stem are not here: Conv2DBackpropInput / Conv3DBackpropInputV2 /
# DepthwiseConv2dNativeBackpropInput are also the forward op of transposed convolutions.
# Variable writes alone (Assign*VariableOp) are not a sign: Keras `evaluate` updates its metric
# variables, stateful models and EMAs assign in inference too. A Keras 3 `fit` step (its
# optimizers update with AssignSubVariableOp, not ResourceApply*) shows ReluGrad, BiasAddGrad,
# Conv2DBackpropFilter, ...; BroadcastGradientArgs is often constant-folded by grappler.
_GRADIENT_OP = re.compile(
    r"(Grad(V\d+|Ex)?|GradGrad|GradWithArgmax|GradGradWithArgmax|BackpropFilter(V\d+)?)$")
_TRAINING_OPS = frozenset({"SymbolicGradient", "BroadcastGradientArgs"})
_OPTIMIZER_OP = re.compile(r"^(Resource)?(Sparse)?Apply[A-Z]")   # ApplyAdam, ResourceSparseApplyAdagradV2


def training_ops(graph_def) -> Counter:
    """op type -> count of the nodes that mark `graph_def` as a training step (empty: it is
    not one): gradient ops and optimizer updates."""
    found = Counter()
    for node in graph_def.node:
        op = node.op
        if op in _TRAINING_OPS or _GRADIENT_OP.search(op) or _OPTIMIZER_OP.match(op):
            found[op] += 1
    return found


class NotTraining(OperatorSupport):
    """A graph that computes gradients or applies optimizer updates stays in TensorFlow as it
    is: a training step's clusters are called every step with fresh weights, and measured
    slower than TF (a Keras `fit` 1.8x as long). The inference functions of the same model
    (`predict`, a serving signature) have no such ops and are partitioned as usual."""

    def judge_graph(self, graph_def) -> Optional[str]:
        found = training_ops(graph_def)
        if not found:
            return None
        shown = ", ".join(op for op, _ in found.most_common(4))
        more = f" and {len(found) - 4} more op types" if len(found) > 4 else ""
        return f"it computes gradients or applies optimizer updates ({shown}{more})"


# --- narrowing rules a device adds ------------------------------------------------------------

class OpTypes(OperatorSupport):
    """Only these op types (e.g. what a device's own `query_model` accepted)."""

    def __init__(self, ops, why: str = "not supported by the device"):
        self.ops = frozenset(ops)
        self.why = why

    def judge(self, node) -> Mark:
        # Consts are copied into every cluster that reads them, whatever the device
        if node.op not in self.ops and node.op != "Const":
            return Mark(False, UNSUPPORTED_OP, f"{node.op} {self.why}")
        return SUPPORTED

    def op_types(self) -> frozenset:
        return self.ops


class Dtypes(OperatorSupport):
    """Only these tensor dtypes in type attributes (DataType enums); integer index and bool
    tensors are always allowed unless listed in `forbidden` (shapes and masks need them)."""

    ALWAYS = frozenset({types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_BOOL})

    def __init__(self, allowed=None, forbidden=()):
        self.allowed = None if allowed is None else frozenset(allowed) | self.ALWAYS
        self.forbidden = frozenset(forbidden)

    def judge(self, node) -> Mark:
        for name, value in node.attr.items():
            for dtype in type_values(value):
                if dtype in self.forbidden or (self.allowed is not None and dtype not in self.allowed):
                    return Mark(False, DTYPE, f"{name}={dtype_name(dtype)} (not on this device)")
        return SUPPORTED


class AttrValues(OperatorSupport):
    """Refuse `op` nodes whose attribute `attr` has one of `values` (compared as AttrValue
    fields: bytes for strings, ints, floats, bools)."""

    def __init__(self, op: str, attr: str, values):
        self.op, self.attr, self.values = op, attr, tuple(values)

    def judge(self, node) -> Mark:
        if node.op != self.op or self.attr not in node.attr:
            return SUPPORTED
        value = node.attr[self.attr]
        field = value.WhichOneof("value")
        current = getattr(value, field) if field else None
        if current in self.values:
            shown = current.decode("utf-8", "replace") if isinstance(current, bytes) else current
            return Mark(False, ATTR, f"{self.attr}={shown} (not on this device)")
        return SUPPORTED


STATIC_SHAPES_ONLY = CompilePolicy(dynamic_shapes=False)


class StaticCompiles(OperatorSupport):
    """Every compile gets fully static input shapes: the runtime never leaves a dim dynamic
    (its policy's `dynamic_shapes` False), and compiles once per shape instead. For backends
    that compile per shape themselves (SPLIT slices a batch by its size)."""

    def policy(self) -> CompilePolicy:
        return STATIC_SHAPES_ONLY


class StaticShapes(StaticCompiles):
    """Clusters must have fully static input shapes (static-shape devices such as the NPU):
    a cluster with an input whose shape can change from run to run (a dimension the graph's
    signature leaves open, or a data-dependent shape) is not placed, and no cluster is ever
    compiled with a dynamic dim."""

    def judge_cluster(self, inputs: list) -> Optional[str]:
        for index, (_, shape, fixed) in enumerate(inputs):
            if fixed:
                continue
            if shape is None or any(dim < 0 for dim in shape):
                shown = "unknown rank" if shape is None else \
                    "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"
                return f"input {index} has a dynamic shape ({shown}); the device needs static shapes"
        return None
