"""Capabilities of tf.image ops: non-max suppression, crops, colour-space adjustments.

Each is checked against stock TF in tests/test_ops.py (fallback off, every node in a cluster).
"""

from __future__ import annotations

from ovtf.ocm.registry import FLOATS, attr_str, capability, declare, table

_BEFORE = frozenset(table())


# Non-max suppression (detection post-processing). The number of boxes kept depends on the
# data; OpenVINO's NonMaxSuppression computes it at run time. max_output_size sizes the
# selection and must be known to compile.
declare("NonMaxSuppressionV2", "NonMaxSuppressionV3", static_inputs=(2,), T=FLOATS,
        T_threshold=FLOATS)
declare("NonMaxSuppressionV4", static_inputs=(2,), T=FLOATS, T_threshold=FLOATS)
declare("NonMaxSuppressionV5", static_inputs=(2,), T=FLOATS)


@capability("CropAndResize", static_inputs=(3,), T=FLOATS)
def _crop_and_resize(node):
    # the frontend converts bilinear only ("nearest" is left unconverted, measured 2026.4)
    method = attr_str(node, "method", "bilinear")
    if method != "bilinear":
        return f"method={method} (OpenVINO's frontend converts bilinear only)"
    # and only extrapolation_value 0 ("Check 'extrapolation_value == 0.0f' failed")
    if "extrapolation_value" in node.attr and node.attr["extrapolation_value"].f != 0.0:
        return "extrapolation_value != 0 (OpenVINO's frontend converts 0 only)"
    return None


# Colour adjustments on float RGB images.
declare("AdjustContrastv2", "AdjustSaturation", "AdjustHue", "RGBToHSV", "HSVToRGB", T=FLOATS)

# the op types this module registered (for docs/ops.md)
OPS = frozenset(table()) - _BEFORE
