"""A minimal TensorFlow graph for every op type in the capability table.

`build(op)` returns a GraphDef with one `x` Placeholder (or several), the op under test, and
constants for its static inputs, plus the names of its outputs. `tests/test_ocm_convert.py`
converts each with OpenVINO's TensorFlow frontend.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

raw = tf.raw_ops
f32 = tf.float32


def _x(shape=(2, 3), dtype=f32, name="x"):
    return tf.compat.v1.placeholder(dtype, shape, name=name)


def _img(c=4):
    return _x((1, 6, 6, c))


def _vol():
    return _x((1, 4, 4, 4, 2))


def _c(value, dtype=None):
    array = np.asarray(value)
    if dtype is None and array.dtype.kind == "i":
        array = array.astype(np.int32)  # TF's index inputs default to int32
    return tf.constant(array, dtype=dtype)


UNARY_FLOAT = ("Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Erfc",
               "Exp", "Floor", "Log", "Log1p", "Reciprocal", "Round", "Rsqrt", "Sigmoid", "Sin",
               "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", "Abs", "Neg", "Sign",
               "Square", "IsFinite", "IsInf", "IsNan", "Relu", "Relu6", "Elu", "Selu",
               "Softmax", "LogSoftmax", "LeakyRelu", "Identity", "Snapshot", "StopGradient",
               "PreventGradient", "ZerosLike", "OnesLike", "Shape", "Size", "Rank")
BINARY = ("Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "SquaredDifference",
          "FloorDiv", "FloorMod", "Pow", "DivNoNan", "Equal", "NotEqual", "Greater",
          "GreaterEqual", "Less", "LessEqual")
REDUCE = ("Sum", "Mean", "Max", "Min", "Prod")

_FN = {}


def example(*ops):
    def register(fn):
        for op in ops:
            _FN[op] = fn
        return fn
    return register


_ARG_NAME = {"Softmax": "logits", "LogSoftmax": "logits", "Relu": "features", "Relu6": "features",
             "Softplus": "features", "Softsign": "features",
             "Elu": "features", "Selu": "features", "LeakyRelu": "features"}
for _op in ("Identity", "Snapshot", "StopGradient", "PreventGradient", "Shape", "Size", "Rank"):
    _ARG_NAME[_op] = "input"


def _example(op):
    if op in UNARY_FLOAT:
        return getattr(raw, op)(**{_ARG_NAME.get(op, "x"): _x()})
    if op in BINARY:
        return getattr(raw, op)(x=_x(), y=_x(name="y"))
    if op in REDUCE:
        return getattr(raw, op)(input=_x(), axis=_c([1]), keep_dims=False)
    return _FN[op]()


example("Const")(lambda: raw.AddV2(x=_x(), y=tf.constant(np.ones((2, 3), np.float32))))
example("LogicalNot")(lambda: raw.LogicalNot(x=_x(dtype=tf.bool)))
example("LogicalAnd")(lambda: raw.LogicalAnd(x=_x(dtype=tf.bool), y=_x(dtype=tf.bool, name="y")))
example("LogicalOr")(lambda: raw.LogicalOr(x=_x(dtype=tf.bool), y=_x(dtype=tf.bool, name="y")))
example("AddN")(lambda: raw.AddN(inputs=[_x(), _x(name="y")]))
example("ClipByValue")(lambda: raw.ClipByValue(t=_x(), clip_value_min=_c(-1.0, f32), clip_value_max=_c(1.0, f32)))
example("Select")(lambda: raw.Select(condition=_x(dtype=tf.bool, name="c"), x=_x(), y=_x(name="y")))
example("SelectV2")(lambda: raw.SelectV2(condition=_x(dtype=tf.bool, name="c"), t=_x(), e=_x(name="y")))
example("Cast")(lambda: raw.Cast(x=_x(), DstT=tf.int32))
example("All")(lambda: raw.All(input=_x(dtype=tf.bool), axis=_c([1])))
example("Any")(lambda: raw.Any(input=_x(dtype=tf.bool), axis=_c([1])))
example("ArgMax")(lambda: raw.ArgMax(input=_x(), dimension=_c(1)))
example("ArgMin")(lambda: raw.ArgMin(input=_x(), dimension=_c(1)))
example("Cumsum")(lambda: raw.Cumsum(x=_x(), axis=_c(1)))
example("MatMul")(lambda: raw.MatMul(a=_x(), b=_x((3, 4), name="y")))
example("BatchMatMul")(lambda: raw.BatchMatMul(x=_x((2, 2, 3)), y=_x((2, 3, 4), name="y")))
example("BatchMatMulV2")(lambda: raw.BatchMatMulV2(x=_x((2, 2, 3)), y=_x((3, 4), name="y")))
example("BatchMatMulV3")(lambda: raw.BatchMatMulV3(x=_x((2, 2, 3)), y=_x((3, 4), name="y"), Tout=f32))
example("Einsum")(lambda: raw.Einsum(inputs=[_x((2, 3)), _x((3, 4), name="y")], equation="ij,jk->ik"))
example("Range")(lambda: raw.Range(start=_x((), tf.int32), limit=_c(10), delta=_c(2)))
example("BiasAdd")(lambda: raw.BiasAdd(value=_img(), bias=_c(np.ones(4, np.float32))))
example("Conv2D")(lambda: raw.Conv2D(input=_img(), filter=_c(np.ones((3, 3, 4, 5), np.float32)),
                                     strides=[1, 1, 1, 1], padding="SAME"))
example("DepthwiseConv2dNative")(lambda: raw.DepthwiseConv2dNative(
    input=_img(), filter=_c(np.ones((3, 3, 4, 1), np.float32)), strides=[1, 1, 1, 1], padding="VALID"))
example("Conv2DBackpropInput")(lambda: raw.Conv2DBackpropInput(
    input_sizes=_c([1, 6, 6, 4]), filter=_c(np.ones((3, 3, 4, 5), np.float32)),
    out_backprop=_x((1, 6, 6, 5)), strides=[1, 1, 1, 1], padding="SAME"))
example("Conv3D")(lambda: raw.Conv3D(input=_vol(), filter=_c(np.ones((2, 2, 2, 2, 3), np.float32)),
                                     strides=[1, 1, 1, 1, 1], padding="SAME"))
example("MaxPool")(lambda: raw.MaxPool(input=_img(), ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID"))
example("AvgPool")(lambda: raw.AvgPool(value=_img(), ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME"))
example("MaxPool3D")(lambda: raw.MaxPool3D(input=_vol(), ksize=[1, 2, 2, 2, 1], strides=[1, 2, 2, 2, 1], padding="VALID"))
example("AvgPool3D")(lambda: raw.AvgPool3D(input=_vol(), ksize=[1, 2, 2, 2, 1], strides=[1, 2, 2, 2, 1], padding="VALID"))


def _bn(op):
    def build():
        ones = _c(np.ones(4, np.float32))
        return getattr(raw, op)(x=_img(), scale=ones, offset=ones, mean=ones, variance=ones,
                                is_training=False)[0]
    return build


for _op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
    example(_op)(_bn(_op))
example("LRN")(lambda: raw.LRN(input=_img()))
example("TopKV2")(lambda: raw.TopKV2(input=_x(), k=_c(2))[0])
example("ResizeBilinear")(lambda: raw.ResizeBilinear(images=_img(), size=_c([12, 12])))
example("ResizeNearestNeighbor")(lambda: raw.ResizeNearestNeighbor(images=_img(), size=_c([12, 12])))
example("EnsureShape")(lambda: raw.EnsureShape(input=_x(), shape=[2, 3]))
example("ShapeN")(lambda: raw.ShapeN(input=[_x(), _x(name="y")])[1])
example("Reshape")(lambda: raw.Reshape(tensor=_x(), shape=_c([3, 2])))
example("Transpose")(lambda: raw.Transpose(x=_x(), perm=_c([1, 0])))
example("ExpandDims")(lambda: raw.ExpandDims(input=_x(), axis=_c(0)))
example("Squeeze")(lambda: raw.Squeeze(input=_x((2, 1, 3)), axis=[1]))
example("ConcatV2")(lambda: raw.ConcatV2(values=[_x(), _x(name="y")], axis=_c(1)))
example("Pack")(lambda: raw.Pack(values=[_x(), _x(name="y")], axis=1))
example("Unpack")(lambda: raw.Unpack(value=_x(), num=3, axis=1)[2])
example("Split")(lambda: raw.Split(axis=_c(1), value=_x((2, 4)), num_split=2)[1])
example("SplitV")(lambda: raw.SplitV(value=_x((2, 5)), size_splits=_c([2, 3]), axis=_c(1), num_split=2)[1])
example("Slice")(lambda: raw.Slice(input=_x(), begin=_c([0, 1]), size=_c([2, 2])))
example("StridedSlice")(lambda: raw.StridedSlice(input=_x(), begin=_c([0, 1]), end=_c([2, 3]),
                                                 strides=_c([1, 1]), shrink_axis_mask=1))
example("Tile")(lambda: raw.Tile(input=_x(), multiples=_c([2, 1])))
example("Fill")(lambda: raw.Fill(dims=_c([2, 3]), value=_x(())))
example("BroadcastTo")(lambda: raw.BroadcastTo(input=_x((1, 3)), shape=_c([2, 3])))
example("Pad")(lambda: raw.Pad(input=_x(), paddings=_c([[1, 1], [0, 2]])))
example("PadV2")(lambda: raw.PadV2(input=_x(), paddings=_c([[1, 1], [0, 2]]), constant_values=_c(1.0, f32)))
example("MirrorPad")(lambda: raw.MirrorPad(input=_x(), paddings=_c([[1, 1], [0, 2]]), mode="REFLECT"))
example("ReverseV2")(lambda: raw.ReverseV2(tensor=_x(), axis=_c([1])))
example("GatherV2")(lambda: raw.GatherV2(params=_x(), indices=_x((4,), tf.int32, "i"), axis=_c(1)))
example("GatherNd")(lambda: raw.GatherNd(params=_x(), indices=_x((4, 2), tf.int32, "i")))
example("OneHot")(lambda: raw.OneHot(indices=_x((4,), tf.int32), depth=_c(5), on_value=_c(1.0, f32), off_value=_c(0.0, f32)))
example("SpaceToBatchND")(lambda: raw.SpaceToBatchND(input=_img(), block_shape=_c([2, 2]), paddings=_c([[0, 0], [0, 0]])))
example("BatchToSpaceND")(lambda: raw.BatchToSpaceND(input=_x((4, 3, 3, 1)), block_shape=_c([2, 2]), crops=_c([[0, 0], [0, 0]])))
example("SpaceToDepth")(lambda: raw.SpaceToDepth(input=_img(), block_size=2))
example("DepthToSpace")(lambda: raw.DepthToSpace(input=_img(), block_size=2))


# --- issue 12 additions ---------------------------------------------------------------------

def _i(shape=(4,), name="i", dtype=tf.int32):
    return _x(shape, dtype, name)


for _op in ("Expm1", "Rint", "Inv"):
    example(_op)(lambda _op=_op: getattr(raw, _op)(x=_x()))
for _op in ("Xlogy", "Xdivy", "Xlog1py", "MulNoNan", "Div", "Mod", "TruncateMod"):
    example(_op)(lambda _op=_op: getattr(raw, _op)(x=_x(), y=_x(name="y")))
example("Atan2")(lambda: raw.Atan2(y=_x(), x=_x(name="y")))
example("TruncateDiv")(lambda: raw.TruncateDiv(x=_i(), y=_i(name="j")))
for _op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor", "LeftShift", "RightShift"):
    example(_op)(lambda _op=_op: getattr(raw, _op)(x=_i(), y=_i(name="j")))
example("Invert")(lambda: raw.Invert(x=_i()))
example("ApproximateEqual")(lambda: raw.ApproximateEqual(x=_x(), y=_x(name="y"), tolerance=0.1))
example("EuclideanNorm")(lambda: raw.EuclideanNorm(input=_x(), axis=_c([1])))
example("L2Loss")(lambda: raw.L2Loss(t=_x()))
example("SegmentSum")(lambda: raw.SegmentSum(data=_x((4, 3)), segment_ids=_c([0, 0, 1, 2])))
example("SegmentMax")(lambda: raw.SegmentMax(data=_x((4, 3)), segment_ids=_c([0, 0, 1, 2])))
for _op in ("UnsortedSegmentSum", "UnsortedSegmentMax"):
    example(_op)(lambda _op=_op: getattr(raw, _op)(data=_x((4, 3)), segment_ids=_c([2, 0, 1, 2]), num_segments=_c(3)))
for _op in ("SparseSegmentMean", "SparseSegmentSqrtN"):
    example(_op)(lambda _op=_op: getattr(raw, _op)(data=_x((4, 3)), indices=_c([0, 2, 3]), segment_ids=_c([0, 0, 1])))
example("MatrixBandPart")(lambda: raw.MatrixBandPart(input=_x((3, 3)), num_lower=_c(1), num_upper=_c(0)))
example("MatrixDiag")(lambda: raw.MatrixDiag(diagonal=_x()))
example("MatrixInverse")(lambda: raw.MatrixInverse(input=_x((2, 3, 3))))
example("LinSpace")(lambda: raw.LinSpace(start=_x(()), stop=_c(1.0, f32), num=_c(5)))
example("Concat")(lambda: raw.Concat(concat_dim=_c(1), values=[_x(), _x(name="y")]))
example("Gather")(lambda: raw.Gather(params=_x(), indices=_i()))
example("Reverse")(lambda: raw.Reverse(tensor=_x(), dims=tf.constant([False, True])))
example("ReverseSequence")(lambda: raw.ReverseSequence(input=_x(), seq_lengths=_c([1, 3]), seq_dim=1, batch_dim=0))
example("Roll")(lambda: raw.Roll(input=_x(), shift=_c([1]), axis=_c([1])))
example("ConjugateTranspose")(lambda: raw.ConjugateTranspose(x=_x(), perm=_c([1, 0])))
example("InvertPermutation")(lambda: raw.InvertPermutation(x=_i()))
example("BroadcastArgs")(lambda: raw.BroadcastArgs(s0=_i((2,)), s1=_i((2,), "j")))
example("IdentityN")(lambda: raw.IdentityN(input=[_x(), _i()])[0])
example("SparseToDense")(lambda: raw.SparseToDense(sparse_indices=_i((2, 2)), output_shape=_c([4, 5]),
                                                   sparse_values=_x((2,)), default_value=_c(0.0, f32)))
for _op in ("TensorScatterUpdate", "TensorScatterAdd"):
    example(_op)(lambda _op=_op: getattr(raw, _op)(tensor=_x((4, 3)), indices=_i((2, 1)), updates=_x((2, 3), name="u")))
example("ScatterNd")(lambda: raw.ScatterNd(indices=_i((2, 1)), updates=_x((2, 3)), shape=_c([4, 3])))
example("DynamicStitch")(lambda: raw.DynamicStitch(indices=[_c([0, 2]), _c([1])], data=[_x((2, 3)), _x((1, 3), name="y")]))
example("Where")(lambda: raw.Where(condition=_x(dtype=tf.bool)))
example("Unique")(lambda: raw.Unique(x=_i())[0])
example("ListDiff")(lambda: raw.ListDiff(x=_i(), y=_i((2,), "j"))[0])
example("DynamicPartition")(lambda: raw.DynamicPartition(data=_x((4, 3)), partitions=_c([0, 1, 1, 0]), num_partitions=2)[1])
example("MaxPoolV2")(lambda: raw.MaxPoolV2(input=_img(), ksize=_c([1, 2, 2, 1]), strides=_c([1, 2, 2, 1]), padding="VALID"))
example("MaxPoolWithArgmax")(lambda: raw.MaxPoolWithArgmax(input=_img(), ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")[1])
example("ExtractImagePatches")(lambda: raw.ExtractImagePatches(images=_img(), ksizes=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                                               rates=[1, 1, 1, 1], padding="VALID"))
example("Conv3DBackpropInputV2")(lambda: raw.Conv3DBackpropInputV2(
    input_sizes=_c([1, 4, 4, 4, 2]), filter=_c(np.ones((2, 2, 2, 2, 3), np.float32)), out_backprop=_x((1, 4, 4, 4, 3)),
    strides=[1, 1, 1, 1, 1], padding="SAME"))
example("FakeQuantWithMinMaxArgs")(lambda: raw.FakeQuantWithMinMaxArgs(inputs=_x()))
example("FakeQuantWithMinMaxVars")(lambda: raw.FakeQuantWithMinMaxVars(inputs=_x(), min=_c(-1.0, f32), max=_c(1.0, f32)))
example("FakeQuantWithMinMaxVarsPerChannel")(lambda: raw.FakeQuantWithMinMaxVarsPerChannel(
    inputs=_x(), min=_c([-1.0, -1.0, -1.0], f32), max=_c([1.0, 1.0, 1.0], f32)))


def _nms(op):
    def build():
        boxes, scores = _x((5, 4)), _x((5,), name="s")
        extra = {"score_threshold": _c(0.0, f32)} if op != "NonMaxSuppressionV2" else {}
        if op == "NonMaxSuppressionV5":
            extra["soft_nms_sigma"] = _c(0.0, f32)
        result = getattr(raw, op)(boxes=boxes, scores=scores, max_output_size=_c(3), iou_threshold=_c(0.5, f32), **extra)
        return result if op in ("NonMaxSuppressionV2", "NonMaxSuppressionV3") else result[0]
    return build


for _op in ("NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5"):
    example(_op)(_nms(_op))
example("CropAndResize")(lambda: raw.CropAndResize(image=_img(3), boxes=_x((2, 4), name="b"), box_ind=_c([0, 0]),
                                                   crop_size=_c([3, 3])))
example("AdjustContrastv2")(lambda: raw.AdjustContrastv2(images=_img(3), contrast_factor=_c(1.5, f32)))
example("AdjustSaturation")(lambda: raw.AdjustSaturation(images=_img(3), scale=_c(0.5, f32)))
example("AdjustHue")(lambda: raw.AdjustHue(images=_img(3), delta=_c(0.1, f32)))
example("RGBToHSV")(lambda: raw.RGBToHSV(images=_img(3)))
example("HSVToRGB")(lambda: raw.HSVToRGB(images=_img(3)))

def build(op: str):
    """(GraphDef, [output tensor names]) with the op under test named `out`."""
    graph = tf.Graph()
    with graph.as_default():
        result = _example(op)
        tf.identity(result, name="out")
    return graph.as_graph_def(), ["out"]


def has_example(op: str) -> bool:
    return op in _FN or op in UNARY_FLOAT or op in BINARY or op in REDUCE


# --- oneDNN fused ops: no tf.raw_ops wrapper, so the NodeDef is written by hand -------------

def _node(graph_def, name, op, inputs, **attrs):
    from tensorflow.core.framework import attr_value_pb2
    node = graph_def.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        attr = node.attr[key]
        if isinstance(value, attr_value_pb2.AttrValue):
            attr.CopyFrom(value)
        elif isinstance(value, bool):
            attr.b = value
        elif isinstance(value, float):
            attr.f = value
        elif isinstance(value, int):
            attr.i = value
        elif isinstance(value, bytes):
            attr.s = value
        elif value and isinstance(value[0], bytes):
            attr.list.s.extend(value)
        else:
            attr.list.i.extend(value)
    return node


def _type_attr(dtype=tf.float32, count=None):
    from tensorflow.core.framework import attr_value_pb2
    if count is None:
        return attr_value_pb2.AttrValue(type=dtype.as_datatype_enum)
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(type=[dtype.as_datatype_enum] * count))


def fused_example(op: str, fused_ops=(b"BiasAdd",)):
    """(GraphDef, outputs) with one hand-written fused node `out` fed by Placeholder `x`."""
    graph = tf.Graph()
    with graph.as_default():
        if op in ("_FusedConv2D", "_FusedDepthwiseConv2dNative", "_FusedBatchNormEx", "_MklSwish",
                  "_MklFusedMish"):
            _x((1, 6, 6, 4))
        elif op == "_FusedConv3D":
            _x((1, 4, 4, 4, 4))
        elif op == "_MklFusedBatchMatMulV2":
            _x((2, 3, 4))
        else:
            _x((2, 4))
        tf.constant(np.linspace(-1, 1, 4).astype(np.float32), name="vec4")
        tf.constant(np.linspace(-1, 1, 4 * 4 * 9).reshape(3, 3, 4, 4).astype(np.float32), name="w2d")
        tf.constant(np.linspace(-1, 1, 4 * 9).reshape(3, 3, 4, 1).astype(np.float32), name="wdw")
        tf.constant(np.linspace(-1, 1, 4 * 4 * 8).reshape(2, 2, 2, 4, 4).astype(np.float32), name="w3d")
        tf.constant(np.linspace(-1, 1, 16).reshape(4, 4).astype(np.float32), name="wmm")
        tf.constant(np.linspace(-1, 1, 16).reshape(1, 4, 4).astype(np.float32), name="wbmm")
    graph_def = graph.as_graph_def()
    common = dict(T=_type_attr(), fused_ops=list(fused_ops), epsilon=0.001, leakyrelu_alpha=0.2)
    if op in ("_FusedConv2D", "_FusedDepthwiseConv2dNative", "_FusedConv3D"):
        rank = 5 if op == "_FusedConv3D" else 4
        weights = {"_FusedConv2D": "w2d", "_FusedDepthwiseConv2dNative": "wdw", "_FusedConv3D": "w3d"}[op]
        _node(graph_def, "out", op, ["x", weights, "vec4"], num_args=1, TArgs=_type_attr(count=1),
              strides=[1] * rank, dilations=[1] * rank, padding=b"SAME",
              data_format=b"NHWC" if rank == 4 else b"NDHWC", **common)
    elif op == "_FusedMatMul":
        _node(graph_def, "out", op, ["x", "wmm", "vec4"], num_args=1, transpose_a=False,
              transpose_b=False, **common)
    elif op == "_MklFusedBatchMatMulV2":
        _node(graph_def, "out", op, ["x", "wbmm", "vec4"], num_args=1, adj_x=False, adj_y=False,
              T=_type_attr(), fused_ops=[b"Add"])
    elif op == "_FusedBatchNormEx":
        _node(graph_def, "out", op, ["x", "vec4", "vec4", "vec4", "vec4"], T=_type_attr(),
              U=_type_attr(), num_side_inputs=0, epsilon=0.001, exponential_avg_factor=1.0,
              data_format=b"NHWC", is_training=False, activation_mode=b"Relu")
    elif op == "_MklLayerNorm":
        _node(graph_def, "out", op, ["x", "vec4", "vec4"], T=_type_attr(), epsilon=0.001)
    elif op == "_UnaryOpsComposition":
        _node(graph_def, "out", op, ["x"], T=_type_attr(), op_names=[b"Tanh", b"Sigmoid", b"Abs"])
    else:  # _MklSwish, _MklFusedMish
        _node(graph_def, "out", op, ["x"], T=_type_attr())
    return graph_def, ["out"]
