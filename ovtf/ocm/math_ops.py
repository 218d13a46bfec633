"""Capabilities of element-wise math, comparisons, reductions and matrix products.

Add/AddV2/Sub/Mul go through `ovtf.ocm.linear_fusion`'s barriers (OpenVINO's linear-op fusions
regroup constants TensorFlow keeps apart); the other lowerings say why beside their op.
"""

from __future__ import annotations

import logging

from tensorflow.core.framework import attr_value_pb2, types_pb2

from ovtf.ocm.exact_arithmetic import (exact_multiple_div, lower_comparison,
                                        lower_truncate_mod, lower_wide_int_comparison)
from ovtf.ocm.linear_fusion import lower_fusion_barrier
from ovtf.ocm.registry import (ALL_DENSE, FLOATS, INDEX, INTS, NUMERIC, WIDE_NUMERIC, Lowered,
                               NodeBuilder, capability, declare, get, keep_nan, nan_keeping_lowering,
                               table)

_BEFORE = frozenset(table())

logger = logging.getLogger("ovtf")

# Unary float functions: OpenVINO has a matching opset op for each.
declare("Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Erfc",
        "Floor", "Log", "Reciprocal", "Round", "Rsqrt", "Sigmoid", "Sin",
        "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", T=FLOATS)


def _log1p(add, const, x: str, name=None) -> str:
    """log1p(x) in Goldberg's form, accurate to a few ulps: with u = 1 + x and d = u - 1, x
    where d is 0, log(u) where d is x (u exact: also +-inf, -1 and below), else
    log(u) * (x / d). `add(op, inputs, name=None)` appends a node of x's type."""
    u = add("AddV2", [x, const(1.0)])
    d = add("Sub", [u, const(1.0)])
    log_u = add("Log", [u])
    general = add("Mul", [log_u, add("RealDiv", [x, d])])
    exact = add("SelectV2", [add("Equal", [d, x]), log_u, general])
    return add("SelectV2", [add("Equal", [d, const(0.0)]), x, exact], name=name)


def _lower_log1p(node, nodes):
    """The frontend (2026.4) converts Log1p to Log(1 + x), which loses every x below an ulp of
    1: log1p(1e-8) was 0 (TF 1e-8), log1p(3e-5) 1.3e-3 off relatively, log1p(-0) +0
    (`_log1p` instead)."""
    dtype = node.attr["T"].type
    build = NodeBuilder(node)
    x = [name for name in node.input if not name.startswith("^")][0]
    _log1p(lambda op, inputs, name=None: build.add(op, inputs, name=name, T=dtype),
           lambda value: build.const(value, dtype), x, name=node.name)
    return Lowered(build.nodes)


def _lower_xlog1py(node, nodes):
    """Xlog1py is 0 where x is 0, else x * log1p(y): the frontend's log(1 + y) lost small y
    as Log1p's did (xlog1py(2, 1e-8) was 0, TF 2e-8), so `_log1p` instead."""
    dtype = node.attr["T"].type
    build = NodeBuilder(node)
    x, y = [name for name in node.input if not name.startswith("^")][:2]
    add = lambda op, inputs, name=None: build.add(op, inputs, name=name, T=dtype)  # noqa: E731
    const = lambda value: build.const(value, dtype)  # noqa: E731
    zero = const(0.0)
    add("SelectV2", [add("Equal", [x, zero]), zero, add("Mul", [x, _log1p(add, const, y)])],
        name=node.name)
    return Lowered(build.nodes)


def _lower_expm1(node, nodes):
    """The frontend (2026.4) converts Expm1 to Exp(x) - 1: expm1(1e-8) was 0 (TF 1e-8),
    expm1(3e-5) 1.3e-3 off relatively, expm1(NaN) +inf. Kahan's form is accurate to a few
    ulps: with u = exp(x), x where u is 1, -1 where u - 1 is, u where u is +inf, else
    (u - 1) * x / log(u); a NaN passes through (registry.keep_nan)."""
    dtype = node.attr["T"].type
    build = NodeBuilder(node)
    x = [name for name in node.input if not name.startswith("^")][0]
    add = lambda op, inputs, name=None: build.add(op, inputs, name=name, T=dtype)  # noqa: E731
    u = add("Exp", [x])
    u_minus_1 = add("Sub", [u, build.const(1.0, dtype)])
    general = add("RealDiv", [add("Mul", [u_minus_1, x]), add("Log", [u])])
    result = add("SelectV2", [add("IsInf", [u]), u, general])
    result = add("SelectV2", [add("Equal", [u_minus_1, build.const(-1.0, dtype)]),
                              build.const(-1.0, dtype), result])
    result = add("SelectV2", [add("Equal", [u, build.const(1.0, dtype)]), x, result])
    keep_nan(add, x, result, dtype, name=node.name)
    return Lowered(build.nodes)


declare("Log1p", lower=_lower_log1p, T=FLOATS)
declare("Expm1", lower=_lower_expm1, T=FLOATS)
# OpenVINO's CPU Exp (2026.4) gives +inf for NaN (TF: NaN), and a sum over it then +inf.
declare("Exp", lower=nan_keeping_lowering("Exp", 1), T=FLOATS)
# Unary functions that are also defined on integers.
declare("Sign", T=NUMERIC)
declare("Abs", "Neg", "Square", T=WIDE_NUMERIC)   # 8-bit: OpenVINO saturates (registry.py)
declare("IsFinite", "IsInf", "IsNan", T=FLOATS)
declare("LogicalNot")

# Binary arithmetic (numpy-style broadcasting, like OpenVINO's).
declare("Add", "AddV2", "Sub", "Mul", lower=lower_fusion_barrier, T=WIDE_NUMERIC)
declare("RealDiv", T=NUMERIC)
# Float remainders stay in TF: OpenVINO's Mod/FloorMod of floats differ from C's fmod, on
# which TF builds all three (measured 2026.4.1 on 14 edge values squared: 37-41 of 196
# results differ beyond signed zeros -- a NaN for an infinite divisor, where fmod returns
# the dividend -- and every exact multiple gives +0 where TF keeps the dividend's sign).
declare("FloorMod", T=INTS)
# NaN passes through either operand, as in TF (registry.keep_nan)
declare("Maximum", lower=nan_keeping_lowering("Maximum", 2), T=NUMERIC)
declare("Minimum", lower=nan_keeping_lowering("Minimum", 2), T=NUMERIC)
declare("SquaredDifference", T=WIDE_NUMERIC)


declare("FloorDiv", lower=exact_multiple_div("FloorMod"), T=WIDE_NUMERIC)
declare("Pow", "DivNoNan", T=FLOATS)
declare("Equal", "NotEqual", lower=lower_wide_int_comparison, T=ALL_DENSE)
declare("Greater", "GreaterEqual", "Less", "LessEqual", lower=lower_comparison, T=NUMERIC)
declare("LogicalAnd", "LogicalOr")
declare("AddN", T=WIDE_NUMERIC)
# TF passes a NaN of `t` through (a NaN bound is ignored, like OpenVINO: registry.keep_nan)
declare("ClipByValue", lower=nan_keeping_lowering("ClipByValue", 1), T=NUMERIC)
# Select/SelectV2 of integers or bools stay in TF: on this project's AVX2 EPYC (OpenVINO
# 2026.4.1, a model built by the frontend in memory) an int32/int16/bool select returned the
# else-branch for every element (Select-int32 in tests/test_ops.py; the same model read back
# from IR selects right). Floats select right on every CPU measured.
declare("Select", "SelectV2", T=FLOATS)
def _lower_cast_to_bool(node, nodes):
    """Cast of a number to bool is TF's x != 0, written as that NotEqual: OpenVINO's CPU plugin
    (2026.4) turns a Convert to boolean into its own subgraph which maps NaN to False (TF:
    True) and, fed by output 1+ of a Split/VariadicSplit whose other outputs are unused, reads
    output 0 instead (tf.cast(tf.split(x, 2)[1], tf.bool) returned part 0) or fails to
    compile. NotEqual is exact for NaN, -0.0 and infinities."""
    import numpy as np
    from tensorflow.core.framework import attr_value_pb2, node_def_pb2, types_pb2
    from tensorflow.python.framework import dtypes, tensor_util

    source = node.attr["SrcT"].type
    if node.attr["DstT"].type != types_pb2.DT_BOOL or source == types_pb2.DT_BOOL:
        return None
    data = [name for name in node.input if not name.startswith("^")]
    controls = [name for name in node.input if name.startswith("^")]
    zero = node_def_pb2.NodeDef(name=f"{node.name}/_ovtf_zero", op="Const", device=node.device)
    zero.attr["dtype"].type = source
    zero.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=tensor_util.make_tensor_proto(
        np.zeros((), dtypes.as_dtype(source).as_numpy_dtype), dtype=source)))
    zero.input.extend(controls)
    not_equal = node_def_pb2.NodeDef(name=node.name, op="NotEqual", device=node.device)
    not_equal.input.extend([data[0], zero.name] + controls)
    not_equal.attr["T"].type = source
    not_equal.attr["incompatible_shape_error"].b = True
    return Lowered([zero, not_equal])


# 16-bit floats out of an integer's range: OpenVINO clamps f16 +-inf to +-65504 before
# converting (f16 -> int32 gives 65504, TF INT_MIN) and wraps bf16 where TF saturates
# (bf16 65536 -> int8 gives 0, TF 127). Measured on OpenVINO 2026.4.1, every float -> integer
# pair with +-inf, NaN, +-3e9 and +-1e19; these are the pairs that differ.
_CASTS_KEPT_IN_TF = {
    (types_pb2.DT_HALF, types_pb2.DT_INT32), (types_pb2.DT_HALF, types_pb2.DT_INT16),
    (types_pb2.DT_BFLOAT16, types_pb2.DT_INT8), (types_pb2.DT_BFLOAT16, types_pb2.DT_UINT8),
    (types_pb2.DT_BFLOAT16, types_pb2.DT_INT16),
}


@capability("Cast", lower=_lower_cast_to_bool, SrcT=ALL_DENSE, DstT=ALL_DENSE)
def _cast(node):
    pair = (node.attr["SrcT"].type, node.attr["DstT"].type)
    if pair in _CASTS_KEPT_IN_TF:
        return ("OpenVINO converts infinities and out-of-range values of this pair unlike TF "
                "(f16 inf clamped to 65504, bf16 wrapped where TF saturates)")
    return None

# Reductions: the axes are needed when compiling.
def _lower_nan_reduction(node, nodes):
    """Max/Min of a float row holding a NaN is NaN in TF; OpenVINO skips the NaN
    (registry.keep_nan). OpenVINO's f32 Max of a row of only -inf is -FLT_MAX (Min: of only
    +inf, FLT_MAX; the fuzzer's seed 300439). One more reduction over the same axes tells the
    rows apart: each element is 2 for a NaN, 0 for the reduction's own infinity, 1 otherwise;
    its max selects NaN (2) or that infinity (0) there."""
    dtype = node.attr["T"].type
    if dtype not in FLOATS:
        return None
    from tensorflow.core.framework import node_def_pb2
    x, axes = [name for name in node.input if not name.startswith("^")][:2]
    build = NodeBuilder(node)
    inner = node_def_pb2.NodeDef()
    inner.CopyFrom(node)
    inner.name = f"{node.name}/_ovtf_{node.op}"
    build.nodes.append(inner)
    from tensorflow.core.framework import attr_value_pb2, types_pb2
    keep_dims = attr_value_pb2.AttrValue(b="keep_dims" in node.attr and node.attr["keep_dims"].b)
    index_type = node.attr["Tidx"].type if "Tidx" in node.attr else types_pb2.DT_INT32
    infinity = build.const(float("-inf") if node.op == "Max" else float("inf"), dtype)
    ordinary = build.add("Cast", [build.add("NotEqual", [x, infinity], T=dtype)],
                         SrcT=types_pb2.DT_BOOL, DstT=dtype)
    kind = build.add("SelectV2", [build.add("IsNan", [x], T=dtype), build.const(2.0, dtype),
                                  ordinary], T=dtype)
    row = build.add("Max", [kind, axes], T=dtype, Tidx=index_type, keep_dims=keep_dims)
    only_infinity = build.add("SelectV2", [build.add("Equal", [row, build.const(0.0, dtype)],
                                                     T=dtype), infinity, inner.name], T=dtype)
    build.add("SelectV2", [build.add("Equal", [row, build.const(2.0, dtype)], T=dtype),
                           build.const(float("nan"), dtype), only_infinity],
              name=node.name, T=dtype)
    return Lowered(build.nodes)


declare("Max", "Min", static_inputs=(1,), lower=_lower_nan_reduction, T=NUMERIC, Tidx=INDEX)
declare("Sum", "Mean", "Prod", static_inputs=(1,), T=WIDE_NUMERIC, Tidx=INDEX)
declare("All", "Any", static_inputs=(1,), Tidx=INDEX)
def _lower_nan_arg(node, nodes):
    """TF's float ArgMax keeps the first index whose value is greater than every earlier one,
    starting from the lowest finite float at index 0: a NaN is never picked, nor is -inf
    (a row of them gives 0). OpenVINO picked a NaN (the fuzzer's seeds 20307, 20331). The
    values go in as TF sees them: NaN and anything below the lowest finite float become it
    (ArgMin: highest, and above)."""
    dtype = node.attr["T"].type
    if dtype not in FLOATS:
        return None
    from tensorflow.core.framework import node_def_pb2
    from tensorflow.python.framework import dtypes
    x = [name for name in node.input if not name.startswith("^")][0]
    limits = dtypes.as_dtype(dtype)
    info_min, info_max = float(limits.min), float(limits.max)
    bound_op, bound = ("Maximum", info_min) if node.op == "ArgMax" else ("Minimum", info_max)
    build = NodeBuilder(node)
    limit = build.const(bound, dtype)
    clipped = build.add(bound_op, [x, limit], T=dtype)
    seen = build.add("SelectV2", [build.add("IsNan", [x], T=dtype), limit, clipped], T=dtype)
    inner = node_def_pb2.NodeDef()
    inner.CopyFrom(node)
    inner.input[0] = seen
    build.nodes.append(inner)
    return Lowered(build.nodes)


declare("ArgMax", "ArgMin", static_inputs=(1,), lower=_lower_nan_arg, T=NUMERIC, Tidx=INDEX,
        output_type=INDEX)
declare("Cumsum", static_inputs=(1,), T=WIDE_NUMERIC, Tidx=INDEX)

# Matrix products.
declare("MatMul", T=FLOATS)
declare("BatchMatMul", "BatchMatMulV2", T=FLOATS)
declare("BatchMatMulV3", Ta=FLOATS, Tb=FLOATS, Tout=FLOATS)


@capability("Einsum", T=FLOATS)
def _einsum(node):
    # The frontend lowers any equation; ellipses are supported by OpenVINO's Einsum too.
    equation = node.attr["equation"].s.decode("utf-8", "replace") if "equation" in node.attr else ""
    if not equation:
        return "Einsum without an equation"
    return None


# Range's output length depends on its input values, which OpenVINO needs to compile static
# shapes; from outside the cluster they are taken per value (one compilation per length).
declare("Range", static_inputs=(0, 1, 2), per_value=True, Tidx=NUMERIC)


# --- issue 12: more element-wise math, each checked against TF in tests/test_ops.py ----------

declare("Rint", "Inv", T=FLOATS)
declare("Xlogy", "Xdivy", "MulNoNan", T=FLOATS)
declare("Xlog1py", lower=_lower_xlog1py, T=FLOATS)
declare("TruncateDiv", lower=exact_multiple_div("Mod"), T=WIDE_NUMERIC)


def _lower_atan2(node, nodes):
    """OpenVINO's Atan2 (2026.4) is right on finite non-zero operands but gives +pi for
    atan2(-0, x < 0) (TF: -pi) and NaN for atan2(+-inf, +-inf) (TF: +-pi/4, +-3pi/4, C's
    atan2). Those two cases are selected from their exact values; every other element is
    OpenVINO's. The sign of a zero is read as the sign of 1/y (-0 -> -inf); a NaN operand gives NaN."""
    import math
    dtype = node.attr["T"].type
    y, x = [name for name in node.input if not name.startswith("^")][:2]
    build = NodeBuilder(node)

    def const(value):
        return build.const(value, dtype)

    base = build.add("Atan2", [y, x], T=dtype)
    zero, one = const(0.0), const(1.0)
    # atan2(+-0, x) = +-pi when x < 0 or x is -0, else +-0
    y_negative = build.add("LogicalOr", [
        build.add("Less", [y, zero], T=dtype),
        build.add("Less", [build.add("RealDiv", [one, y], T=dtype), zero], T=dtype)])
    x_negative = build.add("LogicalOr", [
        build.add("Less", [x, zero], T=dtype),
        build.add("Less", [build.add("RealDiv", [one, x], T=dtype), zero], T=dtype)])
    sign = build.add("SelectV2", [y_negative, const(-1.0), one], T=dtype)
    on_axis = build.add("Mul", [build.add("SelectV2", [x_negative, const(math.pi), zero], T=dtype),
                                sign], T=dtype)
    # atan2(+-inf, +-inf) = +-pi/4 (x = +inf) or +-3pi/4 (x = -inf)
    both_infinite = build.add("LogicalAnd", [build.add("IsInf", [y], T=dtype),
                                             build.add("IsInf", [x], T=dtype)])
    corner = build.add("Mul", [build.add("SelectV2", [
        build.add("Less", [zero, x], T=dtype), const(math.pi / 4), const(3 * math.pi / 4)],
        T=dtype), sign], T=dtype)
    y_zero = build.add("LogicalAnd", [build.add("Equal", [y, zero], T=dtype),
                                      build.add("LogicalNot", [build.add("IsNan", [x], T=dtype)])])
    finite = build.add("SelectV2", [y_zero, on_axis, base], T=dtype)
    special = build.add("SelectV2", [both_infinite, corner, finite], T=dtype)
    # its AVX-512 kernel gave pi/2 for atan2(nan, 0): a NaN of either operand is put back
    add = lambda op, inputs, name: build.add(op, inputs, name=name, T=dtype)  # noqa: E731
    keep_nan(add, x, keep_nan(add, y, special, dtype), dtype, name=node.name)
    return Lowered(build.nodes)


declare("Atan2", lower=_lower_atan2, T=FLOATS)


@capability("Div", T=NUMERIC)
def _div(node):
    # TF's Div truncates integers (-7 / 2 == -3, like TruncateDiv); OpenVINO (2026.4) gets
    # [-7, 7, -7] / [2, -2, -2] as [-2, -2, 3] for TF's [-3, -3, 3] (8 of 24 int32 wrong).
    if node.attr["T"].type not in FLOATS:
        return "integer Div: OpenVINO's result differs from TF's truncation"
    return None
# Mod / TruncateMod: the remainder has the sign of the dividend (fmod), as OpenVINO's Mod;
# integers only (floats: see FloorMod).
declare("Mod", T=INTS)
declare("TruncateMod", lower=lower_truncate_mod, T=INTS)
declare("BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert", "LeftShift", "RightShift", T=INTS)
declare("ApproximateEqual", T=FLOATS)

# More reductions.
declare("EuclideanNorm", static_inputs=(1,), T=FLOATS, Tidx=INDEX)
declare("L2Loss", T=FLOATS)

# Segment reductions. Sorted segment ids: the output length is the largest id + 1, which
# OpenVINO computes at run time; unsorted ones take num_segments at compile time.
declare("SegmentMax", T=NUMERIC, Tindices=INDEX)
declare("SegmentSum", T=WIDE_NUMERIC, Tindices=INDEX)
declare("UnsortedSegmentMax", static_inputs=(2,), T=NUMERIC, Tindices=INDEX, Tnumsegments=INDEX)
declare("UnsortedSegmentSum", static_inputs=(2,), T=WIDE_NUMERIC, Tindices=INDEX,
        Tnumsegments=INDEX)
declare("SparseSegmentMean", "SparseSegmentSqrtN", T=FLOATS, Tidx=INDEX, Tsegmentids=INDEX)

# Matrices.
# Integer MatrixBandPart stays in TF: the frontend builds it on a Select, and OpenVINO's
# integer select is wrong on an AVX2 EPYC (see Select above; test_ops MatrixBandPart-int32).
declare("MatrixBandPart", T=FLOATS, Tindex=INDEX)
declare("MatrixDiag", T=ALL_DENSE)
declare("MatrixInverse", T=FLOATS)

# LinSpace: its length (num) must be known to compile.
declare("LinSpace", static_inputs=(2,), T=FLOATS, Tidx=INDEX)

# the op types this module registered (for docs/ops.md)
OPS = frozenset(table()) - _BEFORE


# TF's grappler fuses a run of element-wise unary ops into one _UnaryOpsComposition (attr
# `op_names`) before ovtf sees the graph; it is opened back into those ops, each of which
# must be in this registry for T with no check of its own (the built nodes carry only T).
def _composed_ops(node) -> list:
    return [name.decode("utf-8", "replace") for name in node.attr["op_names"].list.s]


def _lower_unary_composition(node, nodes):
    from tensorflow.core.framework import node_def_pb2

    data = [name for name in node.input if not name.startswith("^")]
    controls = [name for name in node.input if name.startswith("^")]
    names = _composed_ops(node)
    lowered, previous = [], data[0]
    for index, op in enumerate(names):
        last = index == len(names) - 1
        step = node_def_pb2.NodeDef(name=node.name if last else f"{node.name}/_ovtf_{index}_{op}",
                                    op=op, device=node.device)
        step.input.extend([previous] + controls)
        step.attr["T"].type = node.attr["T"].type
        previous = step.name
        # each op gets its own entry's rewrite too (Exp's NaN guard): nodes a `lower` makes
        # are not lowered again
        entry = get(op)
        rewritten = entry.lower(step, nodes) if entry is not None and entry.lower else None
        lowered.extend(rewritten.nodes if rewritten is not None else [step])
    return Lowered(lowered)


@capability("_UnaryOpsComposition", lower=_lower_unary_composition, T=FLOATS)
def _unary_composition(node):
    names = _composed_ops(node)
    if not names:
        return "_UnaryOpsComposition without op_names"
    dtype = node.attr["T"].type
    refused = [name for name in names
               if get(name) is None or get(name).check is not None
               or dtype not in get(name).dtypes.get("T", ())]
    if refused:
        return f"composes {', '.join(refused)}, not supported for this dtype"
    return None
