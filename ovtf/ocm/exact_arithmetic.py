"""Lowerings that make OpenVINO's integer division and comparisons give TF's answers: its
integer Divide rounds by which operands are constants, it compares 32-bit integers through
f32, and its AVX-512 float Greater/GreaterEqual are true for NaN. `math_ops` registers the
ops; these are their `lower` functions (`ovtf.ocm.registry.Lowered`)."""

from __future__ import annotations

from tensorflow.core.framework import attr_value_pb2, types_pb2

from ovtf.ocm.registry import FLOATS, Lowered, NodeBuilder


# Integer division (issue 18). OpenVINO 2026.4 rounds an integer Divide towards zero or
# towards -inf depending on which operands are constants, not on the op: measured on
# [-7, 7, -7, 7, -6] / [2, -2, -2, 2, 4], int32 and int64: TruncateDiv of two constants
# floors ([-4, -4, 3, 3, -2]), FloorDiv of a constant dividend truncates, TruncateMod of a
# constant dividend takes the divisor's sign; with both operands at run time each is right.
# Mod and FloorMod were right in every combination. So the quotients are computed from a
# remainder: x - r is an exact multiple of y, which every rounding divides the same way
# (and |x - r| <= |x|, so nothing new overflows); TruncateMod is Mod (C's fmod, TF's Mod on
# integers). Floats are left as they are (measured right).
def exact_multiple_div(remainder_op):
    def lower(node, nodes):
        dtype = node.attr["T"].type
        if dtype in FLOATS:
            return None
        x, y = [name for name in node.input if not name.startswith("^")][:2]
        build = NodeBuilder(node)
        remainder = build.add(remainder_op, [x, y], T=dtype)
        multiple = build.add("Sub", [x, remainder], T=dtype)
        build.add("Div", [multiple, y], name=node.name, T=dtype)
        return Lowered(build.nodes)
    return lower


def lower_truncate_mod(node, nodes):
    build = NodeBuilder(node)
    build.add("Mod", [name for name in node.input if not name.startswith("^")][:2],
              name=node.name, T=node.attr["T"].type)
    return Lowered(build.nodes)


_WIDE_INTS = frozenset({types_pb2.DT_INT32, types_pb2.DT_INT64})


def lower_wide_int_comparison(node, nodes):
    """OpenVINO's CPU compares 32-bit integers through f32 (16777217 == 16777216 is true);
    the sign of an integer survives that conversion, and Sub is exact (it wraps). So:
    a == b is (a - b) == 0, whatever the wrap; a < b is (a - b) < 0 when a and b have the
    same sign (no overflow), else a < 0. Greater/GreaterEqual/LessEqual swap or negate."""
    dtype = node.attr["T"].type
    if dtype not in _WIDE_INTS:
        return None
    a, b = [name for name in node.input if not name.startswith("^")][:2]
    build = NodeBuilder(node)
    zero = build.const(0, dtype)
    if node.op in ("Equal", "NotEqual"):
        build.add(node.op, [build.add("Sub", [a, b], T=dtype), zero], name=node.name, T=dtype,
                  incompatible_shape_error=node.attr["incompatible_shape_error"]
                  if "incompatible_shape_error" in node.attr else
                  attr_value_pb2.AttrValue(b=True))
        return Lowered(build.nodes)
    left, right = (b, a) if node.op in ("Greater", "LessEqual") else (a, b)

    def negative(x):
        return build.add("Less", [x, zero], T=dtype)
    left_negative, right_negative = negative(left), negative(right)
    same_sign = build.add("Equal", [left_negative, right_negative], T=types_pb2.DT_BOOL,
                          incompatible_shape_error=attr_value_pb2.AttrValue(b=True))
    by_difference = build.add("LogicalAnd", [same_sign,
                                             negative(build.add("Sub", [left, right], T=dtype))])
    by_sign = build.add("LogicalAnd", [left_negative,
                                       build.add("LogicalNot", [right_negative])])
    negate = node.op in ("GreaterEqual", "LessEqual")
    less = build.add("LogicalOr", [by_difference, by_sign], name=None if negate else node.name)
    if negate:
        build.add("LogicalNot", [less], name=node.name)
    return Lowered(build.nodes)


def lower_comparison(node, nodes):
    """Integers: `lower_wide_int_comparison`. Floats: OpenVINO's CPU Greater/GreaterEqual
    (2026.4, AVX-512 kernels) are true for a NaN operand (`greater(nan, 0.5)` -> True, which
    flipped a cond's branch); Less/LessEqual are right on every ISA measured, so a > b is
    computed as b < a, exactly, NaN included. (AVX2 kernels got all four right.)"""
    if node.attr["T"].type in _WIDE_INTS:
        return lower_wide_int_comparison(node, nodes)
    if node.op not in ("Greater", "GreaterEqual"):
        return None
    a, b = [name for name in node.input if not name.startswith("^")][:2]
    build = NodeBuilder(node)
    build.add("Less" if node.op == "Greater" else "LessEqual", [b, a], name=node.name,
              T=node.attr["T"].type)
    return Lowered(build.nodes)
