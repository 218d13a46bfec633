"""Capabilities of shape and data-movement ops: reshape, slice, concat, gather, pad, ..."""

from __future__ import annotations

from ovtf.ocm.registry import (ALL_DENSE, INDEX, NUMERIC, capability, check_data_format, declare)

# Pass-through ops: cheap, but keeping them inside a cluster avoids splitting it.
declare("Identity", "Snapshot", "StopGradient", "PreventGradient", T=ALL_DENSE)
declare("EnsureShape", T=ALL_DENSE)

# Shape queries: their value is known when the cluster is compiled for concrete shapes.
declare("Shape", "Size", T=ALL_DENSE, out_type=INDEX)
declare("ShapeN", T=ALL_DENSE, out_type=INDEX)
declare("Rank", T=ALL_DENSE)
declare("ZerosLike", "OnesLike", T=ALL_DENSE)

declare("Reshape", static_inputs=(1,), T=ALL_DENSE, Tshape=INDEX)
declare("Transpose", static_inputs=(1,), T=ALL_DENSE, Tperm=INDEX)
declare("ExpandDims", static_inputs=(1,), T=ALL_DENSE, Tdim=INDEX)
declare("Squeeze", T=ALL_DENSE)
declare("ConcatV2", static_inputs=(-1,), T=ALL_DENSE, Tidx=INDEX)
declare("Pack", "Unpack", T=ALL_DENSE)
declare("Split", static_inputs=(0,), T=ALL_DENSE)
declare("SplitV", static_inputs=(1, 2), T=ALL_DENSE, Tlen=INDEX)
declare("Slice", static_inputs=(1, 2), T=ALL_DENSE, Index=INDEX)
declare("StridedSlice", static_inputs=(1, 2, 3), T=ALL_DENSE, Index=INDEX)
declare("Tile", static_inputs=(1,), T=ALL_DENSE, Tmultiples=INDEX)
declare("Fill", static_inputs=(0,), T=ALL_DENSE, index_type=INDEX)
declare("BroadcastTo", static_inputs=(1,), T=ALL_DENSE, Tidx=INDEX)
declare("Pad", static_inputs=(1,), T=ALL_DENSE, Tpaddings=INDEX)
# PadV2: the frontend (2026.4) silently pads with 0 when constant_values is not a constant
# (measured: a runtime 7 gave zeros), so that value must be known at compile time too.
declare("PadV2", static_inputs=(1, 2), T=ALL_DENSE, Tpaddings=INDEX)
declare("MirrorPad", static_inputs=(1,), T=NUMERIC, Tpaddings=INDEX)
declare("ReverseV2", static_inputs=(1,), T=ALL_DENSE, Tidx=INDEX)
declare("GatherV2", static_inputs=(2,), Tparams=ALL_DENSE, Tindices=INDEX, Taxis=INDEX)
declare("GatherNd", Tparams=ALL_DENSE, Tindices=INDEX)
declare("OneHot", static_inputs=(1,), T=ALL_DENSE, TI=INDEX)
declare("SpaceToBatchND", "BatchToSpaceND", static_inputs=(1, 2), T=ALL_DENSE,
        Tblock_shape=INDEX, Tpaddings=INDEX, Tcrops=INDEX)


@capability("SpaceToDepth", "DepthToSpace", T=ALL_DENSE)
def _space_depth(node):
    return check_data_format(node, ("NHWC", "NCHW"))

# Constants are never clustered on their own: the partitioner copies each Const a cluster
# reads into that cluster (so frozen weights become constants of the compiled model).
declare("Const", dtype=ALL_DENSE)
