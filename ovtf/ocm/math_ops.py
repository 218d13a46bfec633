"""Capabilities of element-wise math, comparisons, reductions and matrix products."""

from __future__ import annotations

from ovtf.ocm.registry import (ALL_DENSE, FLOATS, INDEX, NUMERIC, capability, declare)

# Unary float functions: OpenVINO has a matching opset op for each.
declare("Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Erfc",
        "Exp", "Floor", "Log", "Log1p", "Reciprocal", "Round", "Rsqrt", "Sigmoid", "Sin",
        "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", T=FLOATS)
# Unary functions that are also defined on integers.
declare("Abs", "Neg", "Sign", "Square", T=NUMERIC)
declare("IsFinite", "IsInf", "IsNan", T=FLOATS)
declare("LogicalNot")

# Binary arithmetic (numpy-style broadcasting, like OpenVINO's).
declare("Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "SquaredDifference",
        "FloorDiv", "FloorMod", T=NUMERIC)
declare("Pow", "DivNoNan", T=FLOATS)
declare("Equal", "NotEqual", T=ALL_DENSE)
declare("Greater", "GreaterEqual", "Less", "LessEqual", T=NUMERIC)
declare("LogicalAnd", "LogicalOr")
declare("AddN", T=NUMERIC)
declare("ClipByValue", T=NUMERIC)
declare("Select", "SelectV2", T=ALL_DENSE)
declare("Cast", SrcT=ALL_DENSE, DstT=ALL_DENSE)

# Reductions: the axes are needed when compiling.
declare("Sum", "Mean", "Max", "Min", "Prod", static_inputs=(1,), T=NUMERIC, Tidx=INDEX)
declare("All", "Any", static_inputs=(1,), Tidx=INDEX)
declare("ArgMax", "ArgMin", static_inputs=(1,), T=NUMERIC, Tidx=INDEX, output_type=INDEX)
declare("Cumsum", static_inputs=(1,), T=NUMERIC, Tidx=INDEX)

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
