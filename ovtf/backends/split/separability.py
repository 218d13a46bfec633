"""Batch separability: may this cluster, for this input signature, run split by rows?

A SPLIT divides a batch along dim 0 only when that cannot change an answer: every data input
has the batch dim (dim 0, the same size B), every output depends on the inputs row by row,
and every op on the way is on an allow-list of row-wise ops whose attributes keep dim 0
alone (no reduction over axis 0, no reshape or transpose moving dim 0, no matmul or concat
across it, no op reading the batch size...). Anything the analysis does not know, or cannot
analyse, is "not separable": the batch then runs whole on one member.

How: the cluster's GraphDef is imported into a tf.Graph with dim 0 of the batched inputs
left unknown, so TensorFlow's shape inference gives every tensor's rank; each tensor is then
marked as carrying the batch rows ("B") or not ("C"), op by op in graph order.

This is graph analysis, not device work; it sits in the SPLIT package, its only user,
because backends may not import the partitioner (tests/test_import_graph.py).
"""

from __future__ import annotations

import numpy as np

__all__ = ["batch_separable", "ROW_WISE_OPS"]

_UNARY = frozenset("""Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Elu Erf Erfc Exp Expm1
Floor Identity IsFinite IsInf IsNan LeakyRelu Log Log1p LogicalNot Neg Reciprocal Inv Relu Relu6
Round Rint Rsqrt Selu Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Square Tan Tanh Cast
StopGradient Snapshot PreventGradient ZerosLike OnesLike Softmax LogSoftmax Invert""".split())
_ELEMENTWISE = frozenset("""Add AddV2 Sub Mul RealDiv Div DivNoNan FloorDiv FloorMod Mod Maximum
Minimum Pow SquaredDifference BiasAdd Greater GreaterEqual Less LessEqual Equal NotEqual
LogicalAnd LogicalOr SelectV2 AddN Atan2 Xdivy Xlogy MulNoNan ClipByValue""".split())
_SPATIAL = frozenset("""Conv2D Conv3D DepthwiseConv2dNative _FusedConv2D
_FusedDepthwiseConv2dNative MaxPool AvgPool MaxPool3D AvgPool3D FusedBatchNorm FusedBatchNormV2
FusedBatchNormV3 _FusedBatchNormEx LRN""".split())
_REDUCTIONS = frozenset("Sum Mean Max Min Prod All Any EuclideanNorm".split())
_MATMUL = frozenset({"MatMul", "_FusedMatMul"})
_BATCH_MATMUL = frozenset({"BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"})
_ROW_OPS = (_UNARY | _ELEMENTWISE | _SPATIAL | _REDUCTIONS | _MATMUL | _BATCH_MATMUL
            | {"Reshape", "Transpose", "ConcatV2", "ExpandDims", "Squeeze", "Pad", "PadV2",
               "MirrorPad", "ArgMax", "ArgMin"})
ROW_WISE_OPS = _ROW_OPS
"""Op types `batch_separable` may accept on batch-carrying tensors (with attribute checks)."""


class _NotSeparable(Exception):
    pass


def batch_separable(spec, input_shapes, constants):
    """(True, None, batched input indices) when the cluster may run split along dim 0 for
    this signature, else (False, reason, ())."""
    try:
        batched = _batched_inputs(spec, input_shapes, constants)
        _check_graph(spec, input_shapes, constants, batched)
        return True, None, tuple(batched)
    except _NotSeparable as error:
        return False, str(error), ()
    except Exception as error:  # the graph could not be analysed: do not split it
        return False, f"could not analyse the cluster graph ({type(error).__name__}: {error})", ()


def _batched_inputs(spec, input_shapes, constants):
    data = [i for i in range(len(spec.inputs))
            if i not in constants and not spec.inputs[i].is_variable]
    if not data:
        raise _NotSeparable("the cluster has no data inputs")
    sizes = {}
    for i in data:
        shape = tuple(input_shapes[i])
        if not shape:
            raise _NotSeparable(f"input {i} is a scalar (no batch dim)")
        sizes.setdefault(shape[0], []).append(i)
    if len(sizes) > 1:
        raise _NotSeparable("the data inputs disagree on dim 0 ("
                            + ", ".join(f"{size}: inputs {ids}" for size, ids in sizes.items())
                            + "), so not every input carries the batch")
    return data


def _check_graph(spec, input_shapes, constants, batched):
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2, tensor_shape_pb2
    from tensorflow.python.framework import tensor_util

    from ovtf.spec import arg_name, ret_name

    graph_def = graph_pb2.GraphDef()
    graph_def.CopyFrom(spec.graph_def)
    names = {arg_name(i): i for i in range(len(spec.inputs))}
    values = {}
    for node in graph_def.node:
        if node.name in names:
            i = names[node.name]
            shape = list(input_shapes[i])
            if i in batched:
                shape[0] = -1
            proto = tensor_shape_pb2.TensorShapeProto(
                dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape])
            node.attr["shape"].shape.CopyFrom(proto)
            if i in constants and constants[i] is not None:
                values[node.name + ":0"] = np.asarray(constants[i])
        elif node.op == "Const":
            values[node.name + ":0"] = tensor_util.MakeNdarray(node.attr["value"].tensor)
        node.ClearField("device")

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")

    state = {}                    # tensor name -> "B" (rows along dim 0) | "C" (no batch)
    batched_names = {arg_name(i) for i in batched}

    def value(tensor):
        if tensor.name not in values:
            raise _NotSeparable(f"{tensor.op.name} ({tensor.op.type}) needs a constant "
                                f"{tensor.name} to be known row-wise")
        return values[tensor.name]

    for op in graph.get_operations():
        if op.name in names:
            kind = "B" if op.name in batched_names else "C"
            for out in op.outputs:
                state[out.name] = kind
            continue
        ins = [state.get(t.name) for t in op.inputs]
        if None in ins:
            raise _NotSeparable(f"{op.name} ({op.type}) reads a tensor of unknown kind")
        if "B" not in ins:
            for out in op.outputs:
                state[out.name] = "C"
            continue
        if op.type not in _ROW_OPS:
            raise _NotSeparable(f"{op.name} ({op.type}) is not known to keep batch rows "
                                "apart")
        _check_op(op, ins, value)
        for position, out in enumerate(op.outputs):
            state[out.name] = "B" if position == 0 else None

    for i in range(len(spec.outputs)):
        op = graph.get_operation_by_name(ret_name(i))
        if state.get(op.outputs[0].name) != "B":
            raise _NotSeparable(f"output {i} does not carry the batch rows")


def _rank(tensor):
    rank = tensor.shape.rank
    if rank is None:
        raise _NotSeparable(f"{tensor.name} has an unknown rank")
    return rank


def _axes(raw, rank):
    return {int(a) % rank if rank else int(a) for a in np.atleast_1d(raw).ravel()}


def _check_op(op, ins, value):
    t = op.type
    where = f"{op.name} ({t})"
    out = op.outputs[0]
    rank_out = _rank(out)
    if rank_out == 0:
        raise _NotSeparable(f"{where} has a scalar output")

    def broadcast_ok(tensors):
        for tensor, kind in tensors:
            rank = _rank(tensor)
            if kind == "B" and rank != rank_out:
                raise _NotSeparable(f"{where} broadcasts the batch dim away from dim 0")
            if kind == "C" and rank == rank_out:
                first = tensor.shape.as_list()[0]
                if first != 1:
                    raise _NotSeparable(f"{where} combines rows with a tensor of {first} rows")

    def only_first_batched():
        if ins[0] != "B" or "B" in ins[1:]:
            raise _NotSeparable(f"{where} combines batch tensors in more than its first input")

    if t in _UNARY:
        if t in ("Softmax", "LogSoftmax") and rank_out < 2:
            raise _NotSeparable(f"{where} normalises over the batch dim")
        return
    if t in _ELEMENTWISE:
        broadcast_ok(list(zip(op.inputs, ins)))
        return
    if t in _MATMUL:
        only_first_batched()
        if op.get_attr("transpose_a"):
            raise _NotSeparable(f"{where} transposes its batch input")
        return
    if t in _BATCH_MATMUL:
        if rank_out < 3:
            only_first_batched()
            if op.get_attr("adj_x"):
                raise _NotSeparable(f"{where} transposes its batch input")
            return
        broadcast_ok(list(zip(op.inputs[:2], ins[:2])))
        return
    if t in _SPATIAL:
        only_first_batched()
        for attr in ("ksize", "strides", "dilations"):
            try:
                entries = op.get_attr(attr)
            except ValueError:
                continue
            if entries and entries[0] != 1:
                raise _NotSeparable(f"{where} has {attr}[0] = {entries[0]} across the batch")
        try:
            if op.get_attr("is_training"):
                raise _NotSeparable(f"{where} computes batch statistics (is_training)")
        except ValueError:
            pass
        return
    if t in _REDUCTIONS or t in ("ArgMax", "ArgMin"):
        only_first_batched()
        if 0 in _axes(value(op.inputs[1]), _rank(op.inputs[0])):
            raise _NotSeparable(f"{where} reduces over the batch axis")
        return
    if t == "Reshape":
        only_first_batched()
        target = np.asarray(value(op.inputs[1])).ravel()
        source = op.inputs[0].shape.as_list()[1:]
        if (not target.size or target[0] != -1 or (target[1:] < 0).any()
                or None in source or int(np.prod(source)) != int(np.prod(target[1:]))):
            raise _NotSeparable(f"{where} reshapes across the batch dim (shape {target.tolist()})")
        return
    if t == "Transpose":
        only_first_batched()
        perm = np.asarray(value(op.inputs[1])).ravel()
        if not perm.size or int(perm[0]) % rank_out != 0:
            raise _NotSeparable(f"{where} moves the batch dim (perm {perm.tolist()})")
        return
    if t == "ConcatV2":
        if "C" in ins[:-1]:
            raise _NotSeparable(f"{where} concatenates a tensor without the batch dim")
        if ins[-1] != "C" or 0 in _axes(value(op.inputs[-1]), rank_out):
            raise _NotSeparable(f"{where} concatenates across the batch dim")
        return
    if t == "ExpandDims":
        only_first_batched()
        if 0 in _axes(value(op.inputs[1]), rank_out):
            raise _NotSeparable(f"{where} inserts a dim before the batch dim")
        return
    if t == "Squeeze":
        dims = op.get_attr("squeeze_dims")
        if not dims or 0 in _axes(dims, _rank(op.inputs[0])):
            raise _NotSeparable(f"{where} may squeeze the batch dim")
        return
    if t in ("Pad", "PadV2", "MirrorPad"):
        only_first_batched()
        paddings = np.asarray(value(op.inputs[1]))
        if paddings.ndim != 2 or paddings[0].any():
            raise _NotSeparable(f"{where} pads the batch dim")
        return
    raise _NotSeparable(f"{where} is not known to keep batch rows apart")
