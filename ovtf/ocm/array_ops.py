"""Capabilities of shape and data-movement ops: reshape, slice, concat, gather, pad, ..."""

from __future__ import annotations

from ovtf.ocm.registry import (ALL_DENSE, FLOATS, INDEX, NUMERIC, Lowered, NodeBuilder,
                               capability, check_data_format, const_value, declare, table)

_BEFORE = frozenset(table())


def _lower_multi_axis_reverse(node, nodes):
    """The frontend (2026.4) reverses along exactly one axis ("Check 'axes.size() == 1'
    failed at .../op/reverse.cpp"): a ReverseV2 whose axis Const has several entries becomes
    a chain of single-axis ReverseV2 nodes (reversing along several axes is reversing along
    each in turn); the last keeps the node's name."""
    import numpy as np
    from tensorflow.core.framework import attr_value_pb2, node_def_pb2, types_pb2
    from tensorflow.python.framework import tensor_util

    axis_node = nodes.get(node.input[1].split(":")[0]) if len(node.input) > 1 else None
    if axis_node is None or axis_node.op != "Const":
        return None
    axes = tensor_util.MakeNdarray(axis_node.attr["value"].tensor).reshape(-1)
    if axes.size <= 1:
        return None
    index_dtype = np.int64 if "Tidx" in node.attr and node.attr["Tidx"].type == types_pb2.DT_INT64 \
        else np.int32
    controls = [name for name in node.input if name.startswith("^")]
    current, new_nodes = node.input[0], []
    for index, axis in enumerate(int(a) for a in axes):
        last = index == axes.size - 1
        prefix = f"{node.name}/_ovtf_reverse_{index}"
        const = node_def_pb2.NodeDef(name=f"{prefix}_axis", op="Const", device=node.device)
        tensor = tensor_util.make_tensor_proto(np.array([axis], dtype=index_dtype))
        const.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=tensor))
        const.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=tensor.dtype))
        const.input.extend(controls)
        reverse = node_def_pb2.NodeDef()
        reverse.CopyFrom(node)
        reverse.name = node.name if last else prefix
        del reverse.input[:]
        reverse.input.extend([current, const.name] + controls)
        new_nodes += [const, reverse]
        current = reverse.name
    return Lowered(new_nodes)


def _lower_constant(node, nodes):
    """The frontend cannot read bf16 tensors ("Encountered unknown element type bf16"): a
    bf16 Const becomes an f32 Const (bf16 -> f32 is exact) and a Cast back to bf16 (exact for
    values that came from bf16)."""
    from tensorflow.core.framework import types_pb2
    if node.attr["dtype"].type != types_pb2.DT_BFLOAT16:
        return None
    value = const_value(node.name, {node.name: node})
    if value is None:
        return None
    build = NodeBuilder(node)
    build.const(value.astype("float32"), types_pb2.DT_BFLOAT16, name=node.name)
    return Lowered(build.nodes)


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


def _lower_split_v(node, nodes):
    """A SplitV whose size_splits is computed in the cluster (a concat gradient:
    Squeeze(Slice(Pack(shapes)))) gets them through a Reshape to [num_split]: the frontend
    (2026.4) takes the output count from their static shape, which it does not infer there,
    makes a one-output split and fails the import ("Check 'input_outputs_vector.size() >
    producer_port_idx'", TF's ConcatOpTest.testGradientsRandom). TF requires exactly
    num_split sizes, so the Reshape never changes a value."""
    from tensorflow.core.framework import node_def_pb2, types_pb2

    data = [name for name in node.input if not name.startswith("^")]
    if len(data) != 3 or const_value(data[1], nodes) is not None:
        return None
    build = NodeBuilder(node)
    shape = build.const([node.attr["num_split"].i], types_pb2.DT_INT32)
    sizes = build.add("Reshape", [data[1], shape], T=node.attr["Tlen"].type,
                      Tshape=types_pb2.DT_INT32)
    split = node_def_pb2.NodeDef()
    split.CopyFrom(node)
    split.input[1] = sizes
    return Lowered(build.nodes + [split])


declare("SplitV", static_inputs=(1, 2), lower=_lower_split_v, T=ALL_DENSE, Tlen=INDEX)
declare("Slice", static_inputs=(1, 2), T=ALL_DENSE, Index=INDEX)


def _is_scalar(name, nodes) -> bool:
    """Input `name` is rank 0: a Const (or a value the runtime bakes in) or a Placeholder
    whose recorded shape has no dims."""
    value = const_value(name, nodes)
    if value is not None:
        return value.ndim == 0
    node = nodes.get(name.split(":")[0])
    return (node is not None and node.op == "Placeholder" and "shape" in node.attr
            and not node.attr["shape"].shape.unknown_rank and not node.attr["shape"].shape.dim)


def _lower_scalar_strided_slice(node, nodes):
    """A StridedSlice of a rank-0 value (`c[None]`, `c[...]`) becomes a Reshape to one 1 per
    new axis: OpenVINO (2026.4) folds a StridedSlice over a rank-0 constant reading past the
    scalar (garbage int32, 0.0 float; TF's StridedSliceTest.test_basic_slice). On a rank-0
    input every slice entry is a new axis or the ellipsis (TF rejects anything else)."""
    from tensorflow.core.framework import types_pb2

    data = [name for name in node.input if not name.startswith("^")]
    if len(data) < 4 or not _is_scalar(data[0], nodes):
        return None
    begin = const_value(data[1], nodes)
    if begin is None:
        return None
    new_axis, ellipsis = node.attr["new_axis_mask"].i, node.attr["ellipsis_mask"].i
    entries = range(int(begin.size))
    if any(not (new_axis | ellipsis) >> i & 1 for i in entries):
        return None
    ones = [1 for i in entries if new_axis >> i & 1 and not ellipsis >> i & 1]
    build = NodeBuilder(node)
    shape = build.const(ones, types_pb2.DT_INT32)
    build.add("Reshape", [data[0], shape], name=node.name, T=node.attr["T"].type,
              Tshape=types_pb2.DT_INT32)
    return Lowered(build.nodes)


declare("StridedSlice", static_inputs=(1, 2, 3), lower=_lower_scalar_strided_slice,
        T=ALL_DENSE, Index=INDEX)


def _lower_tile(node, nodes):
    """Tile's input goes through a transpose barrier (`registry.TRANSPOSE_BARRIER`): OpenVINO's
    transpose sinking moves a Transpose feeding a Tile past it with the repeats permuted the
    wrong way (a Tile after a Transpose or an NHWC conv/pool got the wrong shape)."""
    from tensorflow.core.framework import node_def_pb2

    from ovtf.ocm.registry import transpose_barrier
    barrier = transpose_barrier(f"{node.name}/_ovtf_barrier_in", node.input[0], node.attr["T"].type,
                                node.device)
    tile = node_def_pb2.NodeDef()
    tile.CopyFrom(node)
    tile.input[0] = barrier.name
    return Lowered([barrier, tile])


declare("Tile", static_inputs=(1,), lower=_lower_tile, T=ALL_DENSE, Tmultiples=INDEX)
declare("Fill", static_inputs=(0,), T=ALL_DENSE, index_type=INDEX)
declare("BroadcastTo", static_inputs=(1,), T=ALL_DENSE, Tidx=INDEX)
declare("Pad", static_inputs=(1,), T=ALL_DENSE, Tpaddings=INDEX)
# PadV2: the frontend (2026.4) silently pads with 0 when constant_values is not a constant
# (measured: a runtime 7 gave zeros), so that value must be known at compile time too.
declare("PadV2", static_inputs=(1, 2), T=ALL_DENSE, Tpaddings=INDEX)
declare("MirrorPad", static_inputs=(1,), T=NUMERIC, Tpaddings=INDEX)
declare("ReverseV2", static_inputs=(1,), lower=_lower_multi_axis_reverse, T=ALL_DENSE, Tidx=INDEX)
def _lower_gather(node, nodes):
    """A Gather's output goes through a transpose barrier (`registry.TRANSPOSE_BARRIER`):
    OpenVINO's transpose sinking moved a Transpose reading a Gather that keeps a dim of 1
    (indices [0] on a dim of 1) past it with the wrong order (tf.transpose(tf.gather(x, [0],
    axis=1), [1, 2, 0]) of (4, 1, 1) came out (1, 4, 1); the fuzzer's seed 101134), and a
    Gather feeding a conv or pool was misshaped the same way."""
    from tensorflow.core.framework import node_def_pb2

    from ovtf.ocm.registry import transpose_barrier
    gather = node_def_pb2.NodeDef()
    gather.CopyFrom(node)
    gather.name = f"{node.name}/_ovtf_gather"
    barrier = transpose_barrier(node.name, gather.name, node.attr["Tparams"].type, node.device)
    return Lowered([gather, barrier])


declare("GatherV2", static_inputs=(2,), lower=_lower_gather, Tparams=ALL_DENSE, Tindices=INDEX,
        Taxis=INDEX)
declare("GatherNd", Tparams=ALL_DENSE, Tindices=INDEX)
declare("OneHot", static_inputs=(1,), T=ALL_DENSE, TI=INDEX)
def _lower_block_arguments_to_int64(node, nodes):
    """OpenVINO 2026.4 hangs compiling (or dies: std::bad_alloc "padded shape size
    overflows", SIGFPE) a SpaceToBatchND/BatchToSpaceND of a constant input whose block
    shape and paddings/crops are int32 (`tf.nn.convolution` with dilations, constant folding
    off: issue 18 item 8); with int64 ones it folds right. So int32 block arguments are cast
    to int64 first (exact)."""
    from tensorflow.core.framework import types_pb2
    attrs = ("Tblock_shape", "Tpaddings" if node.op == "SpaceToBatchND" else "Tcrops")
    if all(a in node.attr and node.attr[a].type == types_pb2.DT_INT64 for a in attrs):
        return None
    data = [name for name in node.input if not name.startswith("^")]
    build = NodeBuilder(node)
    wide = [build.add("Cast", [data[i]], SrcT=node.attr[attr].type if attr in node.attr
                      else types_pb2.DT_INT32, DstT=types_pb2.DT_INT64)
            for i, attr in ((1, attrs[0]), (2, attrs[1]))]
    build.add(node.op, [data[0]] + wide, name=node.name)
    for key, value in node.attr.items():
        build.nodes[-1].attr[key].CopyFrom(value)
    for attr in attrs:
        build.nodes[-1].attr[attr].type = types_pb2.DT_INT64
    return Lowered(build.nodes)


declare("SpaceToBatchND", "BatchToSpaceND", static_inputs=(1, 2),
        lower=_lower_block_arguments_to_int64, T=ALL_DENSE,
        Tblock_shape=INDEX, Tpaddings=INDEX, Tcrops=INDEX)


@capability("SpaceToDepth", "DepthToSpace", T=ALL_DENSE)
def _space_depth(node):
    return check_data_format(node, ("NHWC", "NCHW"))

# Constants are never clustered on their own: the partitioner copies each Const a cluster
# reads into that cluster (so frozen weights become constants of the compiled model).
declare("Const", lower=_lower_constant, dtype=ALL_DENSE)


# --- issue 12: more data movement, each checked against TF in tests/test_ops.py -------------

declare("Concat", static_inputs=(0,), T=ALL_DENSE)          # ConcatV2's predecessor: axis first
declare("Gather", lower=_lower_gather, Tparams=ALL_DENSE, Tindices=INDEX)
declare("Reverse", static_inputs=(1,), T=ALL_DENSE)         # dims: one bool per axis
declare("ReverseSequence", T=ALL_DENSE, Tlen=INDEX)
declare("Roll", static_inputs=(1, 2), T=ALL_DENSE, Tshift=INDEX, Taxis=INDEX)
declare("ConjugateTranspose", static_inputs=(1,), T=ALL_DENSE, Tperm=INDEX)
declare("InvertPermutation", T=INDEX)
declare("BroadcastArgs", T=INDEX)
declare("IdentityN", T=ALL_DENSE)
declare("SparseToDense", static_inputs=(1,), T=ALL_DENSE, Tindices=INDEX)
declare("TensorScatterUpdate", "TensorScatterAdd", T=NUMERIC, Tindices=INDEX)
declare("DynamicStitch", T=ALL_DENSE)
# Data-dependent output shapes: OpenVINO computes them at run time.
declare("Where", T=ALL_DENSE)
@capability("Unique", T=NUMERIC, out_idx=INDEX)
def _unique(node):
    # float values come back as zeros after the first (measured 2026.4: [0.5, -1, 0.5, 2] ->
    # [0.5, 0, 0]); integer ones are right
    if node.attr["T"].type in FLOATS:
        return "float Unique returns wrong values in OpenVINO"
    return None



# ListDiff (tf.setdiff1d) has no entry: [1..6] minus [1, 3, 5, 9] gave 6 values on an AVX2
# EPYC (TF: 3), int32 and f32 alike (OpenVINO 2026.4.1).
declare("DynamicPartition", T=ALL_DENSE)


def _lower_scatter_nd(node, nodes):
    """ScatterNd adds the updates of repeated indices (TF), the frontend's ScatterNDUpdate
    keeps one of them (measured: 0.18 error with a repeated index); TensorScatterAdd into
    zeros is TF's definition and converts exactly."""
    import numpy as np
    from tensorflow.core.framework import attr_value_pb2, node_def_pb2
    from tensorflow.python.framework import dtypes, tensor_util

    data = [name for name in node.input if not name.startswith("^")]
    controls = [name for name in node.input if name.startswith("^")]
    indices, updates, shape = data
    dtype = node.attr["T"].type
    zero = node_def_pb2.NodeDef(name=f"{node.name}/_ovtf_zero", op="Const", device=node.device)
    zero.attr["dtype"].type = dtype
    zero.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=tensor_util.make_tensor_proto(
        np.zeros((), dtypes.as_dtype(dtype).as_numpy_dtype))))
    zero.input.extend(controls)
    fill = node_def_pb2.NodeDef(name=f"{node.name}/_ovtf_zeros", op="Fill", device=node.device)
    fill.input.extend([shape, zero.name] + controls)
    fill.attr["T"].type = dtype
    fill.attr["index_type"].type = node.attr["Tindices"].type
    scatter = node_def_pb2.NodeDef(name=node.name, op="TensorScatterAdd", device=node.device)
    scatter.input.extend([fill.name, indices, updates] + controls)
    scatter.attr["T"].type = dtype
    scatter.attr["Tindices"].type = node.attr["Tindices"].type
    return Lowered([zero, fill, scatter])


declare("ScatterNd", static_inputs=(2,), lower=_lower_scatter_nd, T=NUMERIC, Tindices=INDEX)

# the op types this module registered (for docs/ops.md)
OPS = frozenset(table()) - _BEFORE
