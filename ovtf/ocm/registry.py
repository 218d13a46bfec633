"""The OpenVINO family's op registry: one entry per TensorFlow op type it can run.

An entry holds everything known about lowering that op type to OpenVINO:
* `dtypes`: which dtypes each type attribute may take;
* `check`: an optional check of the node's attributes (None when fine, else why not);
* `static_inputs`: inputs whose *value* OpenVINO needs when compiling (shapes, axes,
  paddings, permutations, sizes). The partitioner requires them to be computable inside the
  cluster; with `per_value=True` they may also arrive from outside the cluster, and the
  runtime then compiles once per value (`Range`: its length depends on its inputs). The
  runtime bakes cluster inputs feeding a static input in as constants (the cache key
  includes their values). This is the only table of compile-time inputs;
* `lower`: an optional rewrite applied by the importer before OpenVINO's frontend sees the
  node (`lower(node, nodes) -> Lowered | None`, `nodes`: name -> NodeDef of the graph):
  oneDNN fused ops split into public ops, a multi-axis ReverseV2 into single-axis ones.

Entries are declared in the domain modules (`math_ops`, `nn_ops`, `array_ops`,
`fused_ops`) with the `capability` decorator, in the style of tf2onnx's op handlers:

    @capability("Conv2D", T=FLOATS)
    def _conv2d(node):
        return check_data_format(node, ("NHWC", "NCHW"))   # None when fine, else why not

Having an entry is what makes an op supported, so the registry lists only op types
OpenVINO's TensorFlow frontend converts (after `lower`); `tests/test_ocm_convert.py`
converts a minimal graph for every entry with `openvino.convert_model` to keep it honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from tensorflow.core.framework import types_pb2

# dtype groups used by the entries (TF DataType enum values)
F32 = frozenset({types_pb2.DT_FLOAT})
FLOATS = frozenset({types_pb2.DT_FLOAT, types_pb2.DT_HALF, types_pb2.DT_BFLOAT16})
INDEX = frozenset({types_pb2.DT_INT32, types_pb2.DT_INT64})
INTS = frozenset({types_pb2.DT_INT8, types_pb2.DT_UINT8, types_pb2.DT_INT16,
                  types_pb2.DT_INT32, types_pb2.DT_INT64})
NUMERIC = FLOATS | INTS
# For arithmetic that can overflow: OpenVINO's CPU plugin (2026.4) saturates 8-bit integers
# where TF wraps around (uint8 0 - 3: TF 253, OpenVINO 0; int8 127 + 3: TF -126, OpenVINO 127;
# also Mul, Square, Abs/Neg of -128, AddN, Sum, Mean), so those stay in TF.
WIDE_NUMERIC = FLOATS | frozenset({types_pb2.DT_INT16, types_pb2.DT_INT32, types_pb2.DT_INT64})
BOOL = frozenset({types_pb2.DT_BOOL})
ALL_DENSE = NUMERIC | BOOL

# A check gets the NodeDef and answers None (fine) or a short text saying what is wrong.
Check = Callable[[object], Optional[str]]


@dataclass(frozen=True)
class Lowered:
    """What a `lower` function returns: NodeDefs that replace the node (the one producing
    output 0 carries the node's own name, so consumers of `name:0` are unchanged) and, for
    other outputs, the tensor that now provides them ({port: "new_node:k"})."""
    nodes: list
    outputs: dict = field(default_factory=dict)


Lowering = Callable[[object, dict], Optional[Lowered]]


@dataclass(frozen=True)
class Capability:
    op: str
    # type attribute name -> allowed DataTypes (for list(type) attrs every entry must fit)
    dtypes: dict = field(default_factory=dict)
    # input indices whose value OpenVINO needs when compiling (negative: from the end)
    static_inputs: tuple = ()
    check: Optional[Check] = None
    per_value: bool = False       # static inputs may come from outside: compile per value
    lower: Optional[Lowering] = None

    def static_input_indices(self, num_data_inputs: int) -> list:
        return sorted({i if i >= 0 else num_data_inputs + i for i in self.static_inputs
                       if -num_data_inputs <= i < num_data_inputs})


_TABLE: dict = {}


def capability(*ops: str, static_inputs: tuple = (), per_value: bool = False,
               lower: Optional[Lowering] = None, **dtypes):
    """Register `ops` with the decorated check function (None: no check)."""
    def register(check):
        for op in ops:
            if op in _TABLE:
                raise ValueError(f"capability for {op} registered twice")
            _TABLE[op] = Capability(op=op, dtypes=dict(dtypes), static_inputs=tuple(static_inputs),
                                    check=check, per_value=per_value, lower=lower)
        return check
    return register


def declare(*ops: str, static_inputs: tuple = (), per_value: bool = False,
            lower: Optional[Lowering] = None, **dtypes) -> None:
    """Register ops that need no check beyond dtypes."""
    capability(*ops, static_inputs=static_inputs, per_value=per_value, lower=lower, **dtypes)(None)


def table() -> dict:
    """op type -> Capability (read-only view; the domain modules fill it at import)."""
    return dict(_TABLE)


def get(op: str) -> Optional[Capability]:
    return _TABLE.get(op)


# --- transpose-sinking barriers ---------------------------------------------------------------

# OpenVINO's TF frontend runs its transpose sinking (`TSGeneral`) on every converted model, and
# 2026.4 gets two op types wrong: it moves a Transpose through LogSoftmax as if it were
# element-wise (the axis is not remapped: tf.nn.log_softmax(x, axis=0) came back as axis=-1),
# and through Tile with the repeats permuted by the order instead of its inverse
# (tile(transpose(x, [2, 0, 1]), [3, 1, 3]) came out (5, 6, 21) for (15, 2, 21)); an NHWC
# conv/pool feeding a Tile has the same Transpose. A `lower` puts this node type around such
# an op; the importer converts it to OpenVINO's Identity (which the sinking does not cross)
# and removes it again once the frontend is done, so nothing of it reaches the device.
TRANSPOSE_BARRIER = "_OvtfTransposeBarrier"


def transpose_barrier(name: str, source: str, dtype: int, device: str = ""):
    """A barrier NodeDef passing `source` (of DataType `dtype`) through unchanged."""
    from tensorflow.core.framework import node_def_pb2
    barrier = node_def_pb2.NodeDef(name=name, op=TRANSPOSE_BARRIER, device=device)
    barrier.input.append(source)
    barrier.attr["T"].type = dtype
    return barrier


# --- helpers for checks ---------------------------------------------------------------------

def attr_str(node, name: str, default: str = "") -> str:
    if name in node.attr:
        return node.attr[name].s.decode("utf-8", "replace")
    return default


def check_data_format(node, allowed=("NHWC", "NCHW"), default="NHWC") -> Optional[str]:
    data_format = attr_str(node, "data_format", default)
    if data_format not in allowed:
        return f"data_format={data_format} (supported: {', '.join(allowed)})"
    return None


def check_padding(node, allowed=("SAME", "VALID")) -> Optional[str]:
    padding = attr_str(node, "padding", "VALID")
    if padding not in allowed:
        return f"padding={padding} (supported: {', '.join(allowed)})"
    return None


def first_problem(*problems) -> Optional[str]:
    for problem in problems:
        if problem:
            return problem
    return None


def const_value(name: str, nodes: dict):
    """The numpy value of the Const feeding input `name` (in a `lower`'s `nodes` view, which
    also shows inputs the runtime bakes in as Consts), else None."""
    if name.startswith("^"):
        return None
    node = nodes.get(name.split(":")[0])
    if node is None or node.op != "Const" or "value" not in node.attr:
        return None
    from tensorflow.python.framework import tensor_util
    try:
        return tensor_util.MakeNdarray(node.attr["value"].tensor)
    except Exception:   # a malformed constant: the frontend will say so
        return None


class NodeBuilder:
    """Builds the NodeDefs of a `lower`: names under the lowered node's name, and its device
    and control inputs on every node."""

    def __init__(self, node):
        self.node = node
        self.nodes = []
        self.controls = [name for name in node.input if name.startswith("^")]

    def add(self, op, inputs, name=None, **attrs):
        """A node `op(inputs)`; attrs: name -> DataType enum (int), or an AttrValue."""
        from tensorflow.core.framework import attr_value_pb2, node_def_pb2
        new = node_def_pb2.NodeDef(name=name or f"{self.node.name}/_ovtf_{len(self.nodes)}_{op}",
                                   op=op, device=self.node.device)
        new.input.extend(list(inputs) + self.controls)
        for key, value in attrs.items():
            if isinstance(value, attr_value_pb2.AttrValue):
                new.attr[key].CopyFrom(value)
            else:
                new.attr[key].type = value
        self.nodes.append(new)
        return new.name

    def const(self, value, dtype: int, name=None):
        """A Const of DataType `dtype` (bf16 goes through an f32 Const and a Cast: the
        frontend cannot read bf16 tensors)."""
        import numpy as np
        from tensorflow.core.framework import types_pb2
        from tensorflow.python.framework import dtypes, tensor_util
        if dtype == types_pb2.DT_BFLOAT16:
            wide = self.const(np.asarray(value, np.float32), types_pb2.DT_FLOAT)
            return self.add("Cast", [wide], name=name, SrcT=types_pb2.DT_FLOAT, DstT=dtype)
        from tensorflow.core.framework import attr_value_pb2
        tensor = tensor_util.make_tensor_proto(
            np.asarray(value, dtypes.as_dtype(dtype).as_numpy_dtype))
        return self.add("Const", [], name=name, dtype=dtype,
                        value=attr_value_pb2.AttrValue(tensor=tensor))


# --- NaN propagation --------------------------------------------------------------------------

# OpenVINO's CPU plugin (2026.4) drops a NaN where TF propagates it, in every op built on a
# max/min: Relu and Relu6 of NaN give 0, Maximum(NaN, 1) and Minimum(NaN, 1) give 1,
# ClipByValue(NaN, lo, hi) gives a bound, and a Max/Min reduction skips a NaN in its row.
# TF (CPU, f32/f16/bf16) returns NaN in each case, whichever operand holds it. The lowerings
# select the NaN back; every other element is OpenVINO's own result (infinities and signed
# zeros were measured equal), so the result is exact.
#
# Relu and Relu6 (also fused into a conv/matmul) are rewritten instead: the guard measured 4.5x
# slower on MobileNetV2 batch 1 f32 (18 -> 86 ms; between the model's convolutions it costs
# OpenVINO more than its own work). `nan_keeping_relu` costs 1.1x on a conv stack.


def keep_nan(add, source: str, result: str, dtype: int, name=None) -> str:
    """SelectV2(IsNan(source), source, result): `result` with `source`'s NaNs put back.
    `add(op, inputs, name)` appends a node of type attribute `dtype` and returns its name."""
    return add("SelectV2", [add("IsNan", [source], None), source, result], name)


def tf_runs_onednn() -> bool:
    """Whether this TensorFlow runs its oneDNN kernels (`_pywrap_util_port.IsMklEnabled`): by
    default on x86 CPUs with AVX-512 VNNI/BF16 or AMX, or as `TF_ENABLE_ONEDNN_OPTS` says.
    Some of them treat NaN unlike TF's Eigen kernels (Softmax, a Relu fused into a conv or
    matmul), so TF's answer depends on it and ovtf's must too."""
    from tensorflow.python.util import _pywrap_util_port
    return bool(_pywrap_util_port.IsMklEnabled())


def nan_keeping_relu(add, const, x: str, six: bool, name=None) -> str:
    """Relu as Abs(Maximum(0, x)), Relu6 as Minimum(6, Abs(Maximum(0, x))): TF's values for
    NaN and +-inf. Measured on OpenVINO's CPU plugin (2026.4): its Maximum and Minimum return
    the *second* operand when either is NaN, so the constant goes first; the Abs between them
    keeps ClampFusion from merging Maximum and Minimum into a Clamp, which drops NaN. Abs also
    makes relu(-0) +0 (TF's own sign there depends on the element's position: +0 from its
    vector loop, -0 from its scalar tail and in f16/bf16). `add(op, inputs, name)` appends a
    node of the activation's type; `const(value)` a constant of it."""
    result = add("Abs", [add("Maximum", [const(0.0), x], None)], None if six else name)
    return add("Minimum", [const(6.0), result], name) if six else result


def zero_keeping(add, const, x: str, result: str, name=None) -> str:
    """SelectV2(x == 0, x, result): TF's Elu/Selu return a zero input as it is (elu(-0) is -0);
    OpenVINO's give +0, and atan2 or a division downstream then tells them apart (the
    fuzzer's seed 400399). `add`/`const` as for `nan_keeping_relu`."""
    return add("SelectV2", [add("Equal", [x, const(0.0)], None), x, result], name)


def nan_keeping_lowering(op_name: str, inputs_checked: int):
    """A `lower` for an element-wise op whose first `inputs_checked` data inputs each pass a NaN
    through to the result (Exp: 1, Maximum/Minimum: 2); integer types are left as they are."""
    def lower(node, nodes):
        dtype = node.attr["T"].type
        if dtype not in FLOATS:
            return None
        data = [name for name in node.input if not name.startswith("^")]
        build = NodeBuilder(node)
        from tensorflow.core.framework import node_def_pb2
        inner = node_def_pb2.NodeDef()
        inner.CopyFrom(node)
        inner.name = f"{node.name}/_ovtf_{op_name}"
        build.nodes.append(inner)
        result = inner.name

        def add(op, inputs, name):
            return build.add(op, inputs, name=name, T=dtype)
        checked = data[:inputs_checked]
        for position, source in enumerate(reversed(checked)):
            last = position == len(checked) - 1
            result = keep_nan(add, source, result, dtype, name=node.name if last else None)
        return Lowered(build.nodes)
    checked = "either operand" if inputs_checked > 1 else "its input"
    lower.__doc__ = (f"A float {op_name} is SelectV2(IsNan, NaN, {op_name}): a NaN in {checked} "
                     f"comes out NaN as in TF, where OpenVINO drops it.")
    return lower
