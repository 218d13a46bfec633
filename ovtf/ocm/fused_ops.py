"""Capabilities of TensorFlow's oneDNN fused ops (grappler remapper output on CPU).

OpenVINO's TensorFlow frontend has no conversion rule for these op types (see the package
docstring for the measurement), but ovtf's importer splits a fused node back into the public
ops it was made of before the frontend runs (`ovtf.importer.fused`). Whether that works
depends on the node's `fused_ops` attribute, not only on its op type, so each entry asks the
importer's `decomposable(node)`. Without that importer module nothing is registered here and
the fused ops stay in TensorFlow (UNSUPPORTED_OP).
"""

from __future__ import annotations

from ovtf.ocm.registry import FLOATS, capability, check_data_format, first_problem

try:
    from ovtf.importer.fused import FUSED_OPS, decomposable
except ImportError:  # importer without fused-op support: register nothing
    FUSED_OPS, decomposable = frozenset(), None

# The fused ops TF 2.21 emits on CPU that we know the shape of; anything else the importer
# may learn later is added when its list grows (the loop below only takes known entries).
_KNOWN = {
    "_FusedConv2D", "_FusedDepthwiseConv2dNative", "_FusedConv3D", "_FusedMatMul",
    "_MklFusedBatchMatMulV2", "_MklSwish", "_MklFusedMish", "_FusedBatchNormEx", "_MklLayerNorm",
}


def _make_check(op):
    def check(node):
        if not decomposable(node):
            fused = b",".join(node.attr["fused_ops"].list.s).decode() if "fused_ops" in node.attr else ""
            return f"{op} with fused_ops=[{fused}] cannot be split into public ops"
        if op == "_FusedBatchNormEx" and "is_training" in node.attr and node.attr["is_training"].b:
            return "is_training=true"
        if op in ("_FusedConv2D", "_FusedDepthwiseConv2dNative", "_FusedBatchNormEx"):
            return first_problem(check_data_format(node, ("NHWC", "NCHW")))
        return None
    check.__name__ = f"_check{op}"
    return check


for _op in sorted(set(FUSED_OPS) & _KNOWN):
    _dtypes = {"T": FLOATS}
    if _op == "_FusedBatchNormEx":
        _dtypes["U"] = FLOATS
    capability(_op, **_dtypes)(_make_check(_op))
