"""Capabilities of neural-network ops: activations, convolutions, pooling, normalization.

oneDNN fused ops (TF's grappler "remapper" output on CPU) are not here: OpenVINO's frontend
has no rule for them; `fused_ops.py` registers the ones ovtf's importer can split back into
these public ops (see the package docstring for the measurements).
"""

from __future__ import annotations

from ovtf.ocm.registry import (FLOATS, INDEX, capability, check_data_format, check_padding,
                               declare, first_problem)

declare("Relu", "Relu6", "Elu", "Selu", "Softmax", "LogSoftmax", T=FLOATS)
declare("LeakyRelu", T=FLOATS)


@capability("BiasAdd", T=FLOATS)
def _bias_add(node):
    return check_data_format(node)


def _conv_checks(node):
    return first_problem(check_data_format(node, ("NHWC", "NCHW")),
                         check_padding(node, ("SAME", "VALID", "EXPLICIT")))


@capability("Conv2D", "DepthwiseConv2dNative", T=FLOATS)
def _conv2d(node):
    return _conv_checks(node)


@capability("Conv2DBackpropInput", static_inputs=(0,), T=FLOATS)
def _conv2d_transpose(node):
    return _conv_checks(node)


@capability("Conv3D", T=FLOATS)
def _conv3d(node):
    return first_problem(check_data_format(node, ("NDHWC", "NCDHW"), "NDHWC"), check_padding(node))


@capability("MaxPool", "AvgPool", T=FLOATS)
def _pool2d(node):
    return first_problem(check_data_format(node, ("NHWC", "NCHW")), check_padding(node))


@capability("MaxPool3D", "AvgPool3D", T=FLOATS)
def _pool3d(node):
    return first_problem(check_data_format(node, ("NDHWC", "NCDHW"), "NDHWC"), check_padding(node))


@capability("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", T=FLOATS, U=FLOATS)
def _fused_batch_norm(node):
    # Training mode computes batch statistics and updates moving averages: leave it to TF.
    if "is_training" in node.attr and node.attr["is_training"].b:
        return "is_training=true"
    return check_data_format(node, ("NHWC", "NCHW"))


@capability("LRN", T=FLOATS)
def _lrn(node):
    # OpenVINO 2026.4 (frontend + CPU plugin, also via ov.convert_model alone) gets LRN wrong
    # for odd depth_radius (1, 3, 5 -- TF's default -- 7: errors ~1e-2 whenever the window
    # does not cover all channels) and right for even ones (0, 2, 4, 6, 8), measured on
    # 3/8/32/64 channels; tests/test_ops.py checks both.
    radius = node.attr["depth_radius"].i if "depth_radius" in node.attr else 5
    if radius % 2:
        return f"depth_radius={radius} (odd radii are computed wrongly by OpenVINO)"
    return None
declare("TopKV2", static_inputs=(1,), T=FLOATS | INDEX)


@capability("ResizeBilinear", "ResizeNearestNeighbor", static_inputs=(1,), T=FLOATS)
def _resize(node):
    return None

