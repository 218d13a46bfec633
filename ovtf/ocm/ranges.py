"""Integer value ranges from the graph: which int64 tensors provably fit int32, and which
gather indices are provably in range. A graph-aware rule (`IntegerRanges`), chained by
`ovtf.ocm.mark` when it has the graph.

Why (issue 18, measured with OpenVINO 2026.4's CPU plugin): int64 tensors are computed as
int32 -- not only arithmetic ([2^40, 3*2^40] - [1, 2] gives [-1, -2]) but any int64 value
that passes through a cluster (a Reshape, Concat, Gather or Cast of 2^40 gives 0; a
comparison with 2^40 is wrong). And an out-of-range gather index gives zeros on the device
where TF raises InvalidArgumentError.

So a node stays on the device only when
  * every int64 tensor it reads or produces provably fits int32 (Shape-derived arithmetic
    does: `tf.shape(x, out_type=tf.int64)` -> StridedSlice -> Pack -> Reshape), and
  * (Gather, GatherV2, GatherNd) its indices are provably in [0, dim) of the gathered
    axis: a dim known from the graph (a Const's shape, `_output_shapes`, a Placeholder's
    shape) and indices from constants, ArgMax/TopK over that dim, FloorMod by it, ...
    An embedding lookup of user ids is not provable: it runs in TF (TF raises on a bad id),
    and the rest of the model stays on the device after it.
  * (Sum/Mean/Max/Min, integer divisions) its 32/64-bit integer inputs, and a sum's total, are provably within +-2^24: OpenVINO computes those through f32
    (`_COMPUTED_IN_F32`); constant bounds of Maximum/Minimum/ClipByValue are exact in f32;
otherwise it stays in TensorFlow (reason RANGE).

Ranges are intervals [lo, hi] of Python ints (None: unknown), propagated from the
producers: Const values; Shape/Size (a dim or an element count: assumed < 2^31, as for any
tensor OpenVINO can hold -- OpenVINO itself indexes them in int32), Rank; ArgMax/ArgMin,
TopK/Unique/Where indices (< 2^31, same assumption); casts from narrower types; pass-through
and data-movement ops (the union of what they move); and interval arithmetic (Add, Sub,
Mul, Neg, Abs, Maximum, Minimum, FloorMod, ...). Anything else is unknown. A loop's values
(Merge of NextIteration) are unknown.
"""

from __future__ import annotations

from typing import Optional

from tensorflow.core.framework import types_pb2

from ovtf.ocm.support import RANGE, SUPPORTED, Mark, OperatorSupport

INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1
_WIDE = (types_pb2.DT_INT64, types_pb2.DT_UINT64, types_pb2.DT_UINT32)
_BOUNDS = {types_pb2.DT_INT8: (-128, 127), types_pb2.DT_UINT8: (0, 255),
           types_pb2.DT_INT16: (-2 ** 15, 2 ** 15 - 1), types_pb2.DT_UINT16: (0, 2 ** 16 - 1),
           types_pb2.DT_INT32: (INT32_MIN, INT32_MAX), types_pb2.DT_BOOL: (0, 1)}
_SIZE = (0, INT32_MAX)       # a dim, an element count or an index into one
# OpenVINO's CPU plugin (2026.4.1, AVX2) compares, clips, reduces (Sum, Mean, Max) and
# divides 32-bit integers through f32: 16777217 == 16777216 is true, reduce_max of 100000007
# is 100000008, 2^30 // 3 is 357913952. Exact while every value, and a sum's total, stays
# within f32's integers.
F32_EXACT = 2 ** 24
# (Comparisons are lowered to exact ones: exact_arithmetic.lower_wide_int_comparison.)
_COMPUTED_IN_F32 = frozenset({
    "Sum", "Mean", "Max", "Min", "FloorDiv", "FloorMod", "TruncateDiv", "TruncateMod", "Mod",
    "Div", "ApproximateEqual"})
# Constant bounds become a Clamp with f32 bounds (clip_by_value(x, -100000003, 100000005)
# left 100000007 unclipped: 100000005 is 100000008 in f32); other operands stay exact.
_CLAMPS = frozenset({"Maximum", "Minimum", "ClipByValue"})
_F32_CHECKED = frozenset({types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_UINT32,
                          types_pb2.DT_UINT64})
_INTEGERS = frozenset(_BOUNDS) | frozenset(_WIDE)

# ops whose output 0 holds values of data input 0 (and, for unions, of other inputs)
_MOVES_INPUT0 = frozenset({
    "Identity", "Snapshot", "StopGradient", "PreventGradient", "EnsureShape", "Reshape",
    "ExpandDims", "Squeeze", "Transpose", "StridedSlice", "Slice", "Tile", "BroadcastTo",
    "ReverseV2", "Reverse", "Gather", "GatherV2", "GatherNd", "MirrorPad", "SpaceToBatchND",
    "BatchToSpaceND", "SpaceToDepth", "DepthToSpace", "Max", "Min", "ReverseSequence",
    "Roll", "MatrixBandPart", "SegmentMax", "UnsortedSegmentMax", "Unpack", "SplitV",
    "ConjugateTranspose", "DynamicPartition"})
_ONLY_SHAPE_READ = frozenset({"Shape", "ShapeN", "Size", "Rank"})
_GATHERS = frozenset({"Gather", "GatherV2", "GatherNd"})
# shape propagation for the gathered dim: ops whose output 0 has input 0's shape, and
# broadcasting binary ops
_SAME_SHAPE = frozenset({
    "Identity", "Snapshot", "StopGradient", "PreventGradient", "Neg", "Abs", "Tanh", "Sigmoid",
    "Relu", "Relu6", "Exp", "Log", "Sqrt", "Rsqrt", "Square", "Cast", "Erf", "Sign", "Floor",
    "Ceil", "Round", "Softmax", "LogSoftmax", "Elu", "Selu", "Softplus", "LeakyRelu"})
_BROADCASTING = frozenset({"Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum"})


def _broadcast(a, b):
    if a is None or b is None:
        return None
    rank = max(len(a), len(b))
    a, b = [1] * (rank - len(a)) + list(a), [1] * (rank - len(b)) + list(b)
    result = []
    for x, y in zip(a, b):
        if x == 1 or x == y:
            result.append(y)
        elif y == 1:
            result.append(x)
        else:
            return None
    return result


def _union(*ranges):
    if not ranges or any(r is None for r in ranges):
        return None
    return (min(r[0] for r in ranges), max(r[1] for r in ranges))


def _products(a, b):
    values = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    return (min(values), max(values))


def fits_int32(value_range) -> bool:
    return value_range is not None and INT32_MIN <= value_range[0] and value_range[1] <= INT32_MAX


def output_dtypes(node):
    """The DataType of each output of `node` (None when the op is unknown)."""
    if node.op in ("_Arg", "Placeholder", "PlaceholderWithDefault", "Const"):
        key = "T" if node.op == "_Arg" else "dtype"
        return [node.attr[key].type] if key in node.attr else None
    from tensorflow.python.framework import op_def_registry
    op_def = op_def_registry.get(node.op)
    if op_def is None:
        return None
    result = []
    for arg in op_def.output_arg:
        count = node.attr[arg.number_attr].i if arg.number_attr and arg.number_attr in node.attr \
            else 1
        if arg.type_list_attr:
            result += list(node.attr[arg.type_list_attr].list.type) \
                if arg.type_list_attr in node.attr else []
        elif arg.type_attr:
            result += [node.attr[arg.type_attr].type if arg.type_attr in node.attr
                       else None] * count
        else:
            result += [arg.type] * count
    return result


class IntegerRanges(OperatorSupport):
    """Refuses (reason RANGE) a node that reads or produces an int64 tensor not provably
    within int32, and a gather whose indices are not provably in range."""

    def __init__(self, graph_def):
        self.nodes = {node.name: node for node in graph_def.node}
        self._ranges: dict = {}
        self._dtypes: dict = {}

    # --- the rule ---------------------------------------------------------------------------

    def judge(self, node) -> Mark:
        if node.op == "Const":
            return SUPPORTED
        data = [name for name in node.input if not name.startswith("^")]
        if node.op not in _ONLY_SHAPE_READ:
            for name in data:
                if self.dtype(name) in _WIDE and not fits_int32(self.range(name)):
                    return Mark(False, RANGE, f"reads {name}, an {self._dtype_name(name)} "
                                              "tensor not known to fit int32 (OpenVINO's CPU "
                                              "computes 64-bit integers as int32)")
        for port, dtype in enumerate(self._output_dtypes(node) or ()):
            if dtype in _WIDE and not fits_int32(self.range(f"{node.name}:{port}")):
                return Mark(False, RANGE, f"its output {port} is a 64-bit integer not known "
                                          "to fit int32 (OpenVINO's CPU computes 64-bit "
                                          "integers as int32)")
        if node.op in _CLAMPS:
            problem = self._clamp_problem(node, data)
            if problem:
                return Mark(False, RANGE, problem)
        if node.op in _COMPUTED_IN_F32:
            problem = self._f32_problem(node, data)
            if problem:
                return Mark(False, RANGE, problem)
        if node.op in _GATHERS:
            problem = self._gather_problem(node, data)
            if problem:
                return Mark(False, RANGE, problem)
        return SUPPORTED

    def _f32_problem(self, node, data) -> Optional[str]:
        """Why `node` (an op OpenVINO computes through f32) would lose integer bits, or None."""
        checked = data[:1] if node.op in ("Sum", "Mean", "Max", "Min") else data
        for name in checked:
            if self.dtype(name) not in _F32_CHECKED:
                continue
            value_range = self.range(name)
            if node.op in ("Sum", "Mean"):
                count = self._reduced_count(data)
                value_range = None if value_range is None or count is None else \
                    (min(0, value_range[0] * count), max(0, value_range[1] * count))
            if value_range is None or value_range[0] < -F32_EXACT or value_range[1] > F32_EXACT:
                shown = "unknown" if value_range is None else \
                    f"[{value_range[0]}, {value_range[1]}]"
                return (f"{node.op} of 32/64-bit integers ({name}: {shown}) not provably within "
                        "+-2^24: OpenVINO's CPU computes it through f32")
        return None

    def _clamp_problem(self, node, data) -> Optional[str]:
        """Why a constant bound of `node` would move in f32, or None."""
        for name in data:
            source = self.nodes.get(name.split(":")[0])
            if source is None or source.op != "Const" or self.dtype(name) not in _F32_CHECKED:
                continue
            value = self._const(source)
            if value.size and not (value.astype("float32").astype(value.dtype) == value).all():
                return (f"{node.op} with the constant {name}, not exact in f32: OpenVINO's CPU "
                        "clamps 32/64-bit integers to f32 bounds")
        return None

    def _reduced_count(self, data) -> Optional[int]:
        """How many elements a reduction adds up, from static shapes and constant axes."""
        shape = self.static_shape(data[0])
        axes_node = self.nodes.get(data[1].split(":")[0]) if len(data) > 1 else None
        if shape is None or axes_node is None or axes_node.op != "Const":
            return None
        axes = self._const(axes_node).reshape(-1).tolist()
        count = 1
        for axis in axes:
            if not -len(shape) <= axis < len(shape) or shape[axis] < 0:
                return None
            count *= shape[axis]
        return count

    def _gather_problem(self, node, data) -> Optional[str]:
        if len(data) < 2:
            return None
        params, indices = data[0], data[1]
        index_range = self.range(indices)
        shape = self.static_shape(params)
        if node.op == "GatherNd":
            exact = self._gather_nd_constant(indices, shape)
            if exact is not None:
                return exact or None
            index_shape = self.static_shape(indices)
            depth = index_shape[-1] if index_shape else None
            dims = shape[:depth] if shape is not None and depth is not None and depth >= 0 \
                and len(shape) >= depth else None
            dim = min(dims) if dims and all(d >= 0 for d in dims) else (None if dims != [] else 1)
        else:
            axis = 0
            if node.op == "GatherV2" and len(data) >= 3:
                axis_range = self.range(data[2])
                axis = axis_range[0] if axis_range and axis_range[0] == axis_range[1] else None
            dim = None
            if shape is not None and axis is not None and -len(shape) <= axis < len(shape):
                dim = shape[axis] if shape[axis] >= 0 else None
        if index_range is not None and dim is not None and 0 <= index_range[0] \
                and index_range[1] < dim:
            return None
        shown = "unknown" if index_range is None else f"[{index_range[0]}, {index_range[1]}]"
        size = "unknown" if dim is None else str(dim)
        return (f"indices {shown} not provably within the gathered dim ({size}): OpenVINO "
                "returns zeros for an out-of-range index where TF raises")

    def _gather_nd_constant(self, indices, shape):
        """For constant GatherNd indices: "" when every column is within its dim, a problem
        when one is not, None when that cannot be told here."""
        node = self.nodes.get(indices.split(":")[0])
        if node is None or node.op != "Const" or shape is None:
            return None
        value = self._const(node)
        if value.ndim == 0 or value.shape[-1] > len(shape):
            return None
        for column in range(value.shape[-1]):
            dim = shape[column]
            values = value[..., column]
            if dim < 0 or (values.size and (values.min() < 0 or values.max() >= dim)):
                return (f"indices column {column} not provably within its dim ({dim}): OpenVINO "
                        "returns zeros for an out-of-range index where TF raises")
        return ""

    # --- values ------------------------------------------------------------------------------

    def range(self, tensor: str):
        """(lo, hi) of the integer values tensor `tensor` ("node:port") can hold, or None."""
        name, _, port = tensor.partition(":")
        key = (name, int(port) if port else 0)
        if key not in self._ranges:
            self._ranges[key] = None        # a cycle (a loop) reads as unknown
            try:
                self._ranges[key] = self._compute(key)
            except Exception:               # a malformed node: no claim
                self._ranges[key] = None
        return self._ranges[key]

    def _compute(self, key):
        name, port = key
        node = self.nodes.get(name)
        if node is None:
            return None
        op = node.op
        data = [n for n in node.input if not n.startswith("^")]
        own = self._dtype_of(node, port)
        if own not in _INTEGERS:
            return None
        bounds = _BOUNDS.get(own)
        result = self._transfer(node, op, port, data)
        if bounds is not None and (result is None or result[0] < bounds[0] or result[1] > bounds[1]):
            # the dtype bounds whatever it holds (arithmetic beyond them wraps around in TF)
            result = bounds
        return result

    def _transfer(self, node, op, port, data):
        r = self.range
        if op == "Const":
            value = self._const(node)
            return None if value is None or value.size == 0 else (int(value.min()), int(value.max()))
        if op in ("Shape", "ShapeN", "Size"):
            return _SIZE
        if op == "Rank":
            return (0, 254)
        if op in ("ArgMax", "ArgMin"):
            return _SIZE
        if op in ("TopKV2", "TopK"):
            return _SIZE if port == 1 else r(data[0])
        if op in ("Unique", "UniqueV2"):
            return _SIZE if port == 1 else r(data[0])
        if op == "Where":
            return _SIZE
        if op in ("ListDiff", "MaxPoolWithArgmax"):
            return _SIZE if port == 1 else r(data[0])
        if op == "Cast":
            src = node.attr["SrcT"].type
            return r(data[0]) if src in _INTEGERS else None
        if op == "Range":
            return _union(r(data[0]), r(data[1]))
        if op in _MOVES_INPUT0:
            return r(data[0])
        if op == "IdentityN":
            return r(data[port])
        if op == "Split":
            return r(data[1])
        if op == "ConcatV2":
            return _union(*(r(n) for n in data[:-1]))
        if op == "Concat":
            return _union(*(r(n) for n in data[1:]))
        if op == "Pack":
            return _union(*(r(n) for n in data))
        if op == "AddN":
            ranges = [r(n) for n in data]
            return None if any(x is None for x in ranges) else \
                (sum(x[0] for x in ranges), sum(x[1] for x in ranges))
        if op == "Pad":
            return _union(r(data[0]), (0, 0))
        if op == "PadV2":
            return _union(r(data[0]), r(data[2]))
        if op == "Fill":
            return r(data[1])
        if op in ("Select", "SelectV2"):
            return _union(r(data[1]), r(data[2]))
        if op in ("ZerosLike",):
            return (0, 0)
        if op in ("OnesLike",):
            return (1, 1)
        if op == "OneHot":
            return _union(r(data[2]), r(data[3]))
        if op in ("Add", "AddV2", "Sub", "Mul", "Maximum", "Minimum", "FloorMod", "Mod",
                  "TruncateMod", "FloorDiv", "TruncateDiv", "Div"):
            a, b = r(data[0]), r(data[1])
            if a is None or b is None:
                return None
            if op in ("Add", "AddV2"):
                return (a[0] + b[0], a[1] + b[1])
            if op == "Sub":
                return (a[0] - b[1], a[1] - b[0])
            if op == "Mul":
                return _products(a, b)
            if op == "Maximum":
                return (max(a[0], b[0]), max(a[1], b[1]))
            if op == "Minimum":
                return (min(a[0], b[0]), min(a[1], b[1]))
            if op == "FloorMod":
                return (0, b[1] - 1) if b[0] > 0 else None
            big = max(abs(b[0]), abs(b[1]))
            if op in ("Mod", "TruncateMod"):
                return (-(big - 1), big - 1) if big > 0 else None
            # divisions: |x / y| <= |x| for |y| >= 1 (an integer divisor is 0 or |y| >= 1)
            top = max(abs(a[0]), abs(a[1]))
            return (-top, top)
        if op == "Neg":
            a = r(data[0])
            return None if a is None else (-a[1], -a[0])
        if op == "Abs":
            a = r(data[0])
            if a is None:
                return None
            if a[0] >= 0:
                return a
            return (-a[1], -a[0]) if a[1] <= 0 else (0, max(-a[0], a[1]))
        if op == "Square":
            a = r(data[0])
            return None if a is None else (0 if a[0] <= 0 <= a[1] else min(a[0] ** 2, a[1] ** 2),
                                           max(a[0] ** 2, a[1] ** 2))
        if op == "Sign":
            return (-1, 1)
        if op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert"):
            # two's complement: values that fit int32 combine into values that fit int32
            inputs = [r(n) for n in data[:2 if op != "Invert" else 1]]
            return (INT32_MIN, INT32_MAX) if all(fits_int32(x) for x in inputs) else None
        if op == "ClipByValue":
            a, lo, hi = r(data[0]), r(data[1]), r(data[2])
            if lo is None or hi is None:
                return None
            if a is None:
                return (lo[0], hi[1])
            return (min(max(a[0], lo[0]), hi[1]), max(min(a[1], hi[1]), lo[0]))
        return None

    # --- dtypes and shapes ---------------------------------------------------------------------

    def dtype(self, tensor: str):
        name, _, port = tensor.partition(":")
        node = self.nodes.get(name)
        return None if node is None else self._dtype_of(node, int(port) if port else 0)

    def _dtype_name(self, tensor) -> str:
        dtype = self.dtype(tensor)
        return types_pb2.DataType.Name(dtype).replace("DT_", "").lower() if dtype else "integer"

    def _dtype_of(self, node, port):
        dtypes = self._output_dtypes(node)
        return dtypes[port] if dtypes is not None and port < len(dtypes) else None

    def _output_dtypes(self, node):
        if node.name not in self._dtypes:
            self._dtypes[node.name] = output_dtypes(node)
        return self._dtypes[node.name]

    def static_shape(self, tensor: str):
        """The static shape (list, -1 for an unknown dim) of `tensor`, or None."""
        name, _, port = tensor.partition(":")
        port = int(port) if port else 0
        node = self.nodes.get(name)
        if node is None:
            return None
        if node.op == "Const" and "value" in node.attr:
            return [d.size for d in node.attr["value"].tensor.tensor_shape.dim]
        if "_output_shapes" in node.attr and port < len(node.attr["_output_shapes"].list.shape):
            proto = node.attr["_output_shapes"].list.shape[port]
        elif node.op in ("Placeholder", "PlaceholderWithDefault") and "shape" in node.attr:
            proto = node.attr["shape"].shape
        elif node.op in _SAME_SHAPE and node.input:
            return self.static_shape(node.input[0])
        elif node.op in _BROADCASTING and len(node.input) >= 2:
            return _broadcast(self.static_shape(node.input[0]), self.static_shape(node.input[1]))
        else:
            return None
        if proto.unknown_rank:
            return None
        return [d.size for d in proto.dim]

    def _const(self, node):
        from tensorflow.python.framework import tensor_util
        return tensor_util.MakeNdarray(node.attr["value"].tensor)
