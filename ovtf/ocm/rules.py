"""Small operator-support rules, one idea each: the generic ones every backend gets
(`ovtf.ocm.mark` chains them around a backend's support) and the narrowing ones a device
adds to its family's table (by op type, dtype, attribute value or shape)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from tensorflow.core.framework import types_pb2

from ovtf.ocm.ranges import output_dtypes
from ovtf.ocm.policy import CompilePolicy
from ovtf.ocm.support import (ATTR, BOUNDARY, CONTROL_FLOW, DEVICE, DISABLED, DTYPE, OVTF,
                              PRESERVED, SUPPORTED, UNSUPPORTED_OP, Mark,
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


class SixteenBitRounding(OperatorSupport):
    """A node that rounds to a 16-bit float (f16, bf16) stays in TensorFlow. TF rounds every
    op's 16-bit result; OpenVINO's CPU plugin computes a 16-bit graph in f32 from end to end,
    and drops even an explicit Cast to f16/bf16 inside a cluster (measured, OpenVINO 2026.4.1:
    `cast(cast(x*3, f16), f32) - x*3` gives 0 where TF gives the rounding error, and
    `h*h` of f16 60000 stays finite where TF overflows to inf). Ops whose 16-bit result is
    one of their inputs' values, or an exact function of them, round nothing and stay
    eligible: data movement, selection, sign and integer rounding, and Casts out of 16 bits
    (widening is exact). An element-wise f16 op that TF rounds once per element, whose result
    only leaves the graph (through exact ops that commute with rounding to nearest, to a graph
    output), is eligible too: a cluster output of type f16 is rounded to nearest once, as TF
    rounds it. Floor/Ceil/Round/Rint/Sign, TopK and Unique do not commute (an unrounded
    0.99996 floors to 0, TF's rounded 1.0 to 1; the fuzzer's seed 300623), so they end that
    path. Not bf16: the
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
    # exact, but their result on an unrounded value can differ from theirs on the rounded one
    ROUNDING_SENSITIVE = frozenset({"Floor", "Ceil", "Round", "Rint", "Sign", "TopKV2", "Unique"})
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
        exact op that commutes with rounding and whose own value only leaves: nothing in a
        cluster computes with it."""
        if node.name not in self._leaves:
            self._leaves[node.name] = False   # a cycle (a loop's back edge) proves nothing
            self._leaves[node.name] = all(
                reader.op in BOUNDARY_OPS or reader.op in CONTROL_FLOW_OPS
                or (reader.op in self.EXACT and reader.op not in self.ROUNDING_SENSITIVE
                    and self._only_leaves(reader))
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
STATIC_INPUT_SHAPES = CompilePolicy(dynamic_shapes=False, static_input_shapes=True)


class StaticCompiles(OperatorSupport):
    """Every compile gets fully static input shapes: the runtime never leaves a dim dynamic
    (its policy's `dynamic_shapes` False), and compiles once per shape instead. For backends
    that compile per shape themselves (SPLIT slices a batch by its size)."""

    def policy(self) -> CompilePolicy:
        return STATIC_SHAPES_ONLY


class StaticShapes(OperatorSupport):
    """Clusters must have fully static input shapes (static-shape devices such as the NPU):
    a cluster with an input whose shape can change from run to run (a dimension the graph's
    signature leaves open, or a data-dependent shape) is not placed (`CompilePolicy.
    judge_inputs`), and no cluster is ever compiled with a dynamic dim."""

    def policy(self) -> CompilePolicy:
        return STATIC_INPUT_SHAPES
