"""oneDNN fused ops (grappler remapper output on CPU): their registry entries and the split
back into the public ops they were made of.

With oneDNN on (the default for x86 TensorFlow builds) grappler's remapper fuses patterns
such as Conv2D+BiasAdd+Relu into TF-internal ops (`_FusedConv2D`, `_FusedMatMul`,
`_FusedDepthwiseConv2dNative`, `_FusedBatchNormEx`, `_MklSwish`, `_MklLayerNorm`, ...); the
optimizer hook sees graphs after the remapper. OpenVINO's TensorFlow frontend (2026.4) has
no conversion rule for any of them (measured: "No conversion rule found for operations:
_FusedBatchNormEx, _FusedConv2D, _FusedDepthwiseConv2dNative, _FusedMatMul").

Rather than re-implementing Conv2D layouts, paddings and dilations as OpenVINO conversion
extensions, each entry's `lower` splits a fused node back into public ops (the remapper's
own definition of the fusion) before the frontend sees the graph; the frontend's
translators then do the lowering, and OpenVINO fuses the result again for its kernels.
Whether a node can be split depends on its `fused_ops` attribute, not only on its op type
(`decomposable(node)`), so each entry's check asks.
"""

from __future__ import annotations

import math

from ovtf.ocm.registry import (FLOATS, Lowered, capability, check_data_format, first_problem,
                               nan_keeping_relu, tf_runs_onednn, zero_keeping)

# op type -> the public op its "main" computation is, before the fused tail
_CONV_LIKE = {
    "_FusedConv2D": "Conv2D",
    "_FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
    "_FusedConv3D": "Conv3D",
    "_FusedMatMul": "MatMul",
    "_MklFusedBatchMatMulV2": "BatchMatMulV2",
}
# attrs copied from the fused node to the main op (only those the main op defines)
_MAIN_ATTRS = {
    "Conv2D": ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations",
               "use_cudnn_on_gpu"),
    "DepthwiseConv2dNative": ("T", "strides", "padding", "data_format", "dilations"),
    "Conv3D": ("T", "strides", "padding", "data_format", "dilations"),
    "MatMul": ("T", "transpose_a", "transpose_b"),
    "BatchMatMulV2": ("T",),
}
_ACTIVATIONS = {"Relu", "Relu6", "Elu", "LeakyRelu", "Tanh", "Sigmoid", "_MklSwish", "Swish",
                "GeluApproximate", "GeluExact", "Mish", "_MklFusedMish"}
_SIMPLE = {"_MklSwish", "_MklFusedMish", "_FusedBatchNormEx", "_MklLayerNorm"}

FUSED_OPS = frozenset(_CONV_LIKE) | frozenset(_SIMPLE)


def _fused_ops(node) -> list:
    return [item.decode() for item in node.attr["fused_ops"].list.s]


def _tail_is_supported(op: str, fused: list) -> bool:
    """The fused tail is a sequence of BiasAdd/FusedBatchNorm/Add/Mul + activations."""
    for item in fused:
        if item in _ACTIVATIONS or item in ("BiasAdd", "Add", "FusedBatchNorm"):
            continue
        if item == "Mul" and op == "_MklFusedBatchMatMulV2":
            continue
        return False
    return True


def decomposable(node) -> bool:
    """True when `node` (a NodeDef) is a fused op this module can split back."""
    if node.op in _SIMPLE:
        return True
    if node.op not in _CONV_LIKE:
        return False
    if node.op == "_FusedConv3D" and node.attr["padding"].s == b"EXPLICIT":
        return False
    if node.attr["num_host_args"].i if "num_host_args" in node.attr else 0:
        return False  # quantized variants carry host-side scales
    return _tail_is_supported(node.op, _fused_ops(node))


class _Builder:
    """Appends new NodeDefs next to a fused node; the last one takes the fused node's name."""

    def __init__(self, node):
        self.node = node
        self.dtype = node.attr["T"].type
        self.count = 0
        self.nodes = []
        self.controls = [name for name in node.input if name.startswith("^")]
        self.device = node.device

    def add(self, op, inputs, attrs=None, dtype=True):
        from tensorflow.core.framework import node_def_pb2
        new = node_def_pb2.NodeDef()
        new.name = f"{self.node.name}/_ovtf_{self.count}_{op.strip('_')}"
        self.count += 1
        new.op = op
        new.device = self.device
        new.input.extend(inputs)
        if dtype:
            new.attr["T"].type = self.dtype
        for key, value in (attrs or {}).items():
            new.attr[key].CopyFrom(value)
        if not self.nodes:
            new.input.extend(self.controls)
        self.nodes.append(new)
        return new.name

    def const(self, value, dtype=None):
        from tensorflow.core.framework import attr_value_pb2
        from tensorflow.python.framework import tensor_util
        import numpy as np
        from tensorflow.python.framework import dtypes
        np_dtype = dtypes.as_dtype(dtype if dtype is not None else self.dtype).as_numpy_dtype
        tensor = tensor_util.make_tensor_proto(np.asarray(value, dtype=np_dtype))
        attrs = {"value": attr_value_pb2.AttrValue(tensor=tensor),
                 "dtype": attr_value_pb2.AttrValue(type=tensor.dtype)}
        return self.add("Const", [], attrs, dtype=False)

    def activation(self, kind, x):
        from tensorflow.core.framework import attr_value_pb2
        if kind in ("Relu", "Relu6") and tf_runs_onednn():
            # TF's oneDNN kernel applies them as a post-op that turns NaN into 0, as
            # OpenVINO's own Relu/Relu6 do (measured TF 2.21 on an AVX-512 BF16 EPYC)
            return self.add(kind, [x])
        if kind in ("Relu", "Relu6"):
            # their own registry lowering: nodes made by a split are not lowered again
            return nan_keeping_relu(lambda op, inputs, name: self.add(op, inputs), self.const, x,
                                    six=kind == "Relu6")
        if kind == "Elu":
            # as the registry's own Elu lowering
            return zero_keeping(lambda op, inputs, name: self.add(op, inputs), self.const, x,
                                self.add(kind, [x]))
        if kind in ("Tanh", "Sigmoid"):
            return self.add(kind, [x])
        if kind == "LeakyRelu":
            alpha = self.node.attr["leakyrelu_alpha"].f
            return self.add("LeakyRelu", [x], {"alpha": attr_value_pb2.AttrValue(f=alpha)})
        if kind in ("_MklSwish", "Swish"):
            return self.add("Mul", [x, self.add("Sigmoid", [x])])
        if kind in ("Mish", "_MklFusedMish"):
            return self.add("Mul", [x, self.add("Tanh", [self.add("Softplus", [x])])])
        if kind == "GeluExact":
            # 0.5 * x * (1 + erf(x / sqrt(2)))
            scaled = self.add("Mul", [x, self.const(1.0 / math.sqrt(2.0))])
            one_plus = self.add("AddV2", [self.add("Erf", [scaled]), self.const(1.0)])
            return self.add("Mul", [self.add("Mul", [x, self.const(0.5)]), one_plus])
        if kind == "GeluApproximate":
            # 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
            cube = self.add("Mul", [self.add("Mul", [x, x]), x])
            inner = self.add("AddV2", [x, self.add("Mul", [cube, self.const(0.044715)])])
            tanh = self.add("Tanh", [self.add("Mul", [inner, self.const(math.sqrt(2.0 / math.pi))])])
            one_plus = self.add("AddV2", [tanh, self.const(1.0)])
            return self.add("Mul", [self.add("Mul", [x, self.const(0.5)]), one_plus])
        raise ValueError(f"unsupported fused activation {kind!r} in {self.node.name}")


def _data_inputs(node) -> list:
    return [name for name in node.input if not name.startswith("^")]


def _decompose_conv_like(builder: _Builder, node) -> dict:
    from tensorflow.core.framework import attr_value_pb2
    main_op = _CONV_LIKE[node.op]
    inputs = _data_inputs(node)
    num_args = node.attr["num_args"].i
    main_inputs, args = inputs[:2], inputs[2:2 + num_args]
    attrs = {key: node.attr[key] for key in _MAIN_ATTRS[main_op] if key in node.attr and key != "T"}
    if main_op == "BatchMatMulV2":
        attrs = {"adj_x": node.attr["adj_x"], "adj_y": node.attr["adj_y"]}
    current = builder.add(main_op, main_inputs, attrs)
    arg = 0
    for item in _fused_ops(node):
        if item == "BiasAdd":
            bias_attrs = {}
            if "data_format" in node.attr and main_op in ("Conv2D", "DepthwiseConv2dNative"):
                bias_attrs["data_format"] = node.attr["data_format"]
            if main_op == "Conv3D":
                # BiasAdd only knows NHWC/NCHW; NDHWC keeps channels last like NHWC
                fmt = node.attr["data_format"].s
                bias_attrs["data_format"] = attr_value_pb2.AttrValue(
                    s=b"NCHW" if fmt.startswith(b"NC") else b"NHWC")
            current = builder.add("BiasAdd", [current, args[arg]], bias_attrs)
            arg += 1
        elif item == "FusedBatchNorm":
            bn_attrs = {
                "U": attr_value_pb2.AttrValue(type=builder.dtype),
                "epsilon": node.attr["epsilon"],
                "is_training": attr_value_pb2.AttrValue(b=False),
            }
            if "data_format" in node.attr:
                bn_attrs["data_format"] = node.attr["data_format"]
            current = builder.add("FusedBatchNormV3", [current] + args[arg:arg + 4], bn_attrs)
            arg += 4
        elif item == "Add":
            current = builder.add("AddV2", [current, args[arg]])
            arg += 1
        elif item == "Mul":
            current = builder.add("Mul", [current, args[arg]])
            arg += 1
        else:
            current = builder.activation(item, current)
    return {}


def _decompose_batch_norm_ex(builder: _Builder, node) -> dict:
    from tensorflow.core.framework import attr_value_pb2
    inputs = _data_inputs(node)
    attrs = {key: node.attr[key] for key in
             ("U", "epsilon", "exponential_avg_factor", "data_format", "is_training") if key in node.attr}
    bn = builder.add("FusedBatchNormV3", inputs[:5], attrs)
    current = bn
    for side in inputs[5:5 + node.attr["num_side_inputs"].i]:
        current = builder.add("AddV2", [current, side])
    mode = node.attr["activation_mode"].s.decode() if "activation_mode" in node.attr else "Identity"
    if mode != "Identity":
        current = builder.activation(mode, current)
    if current == bn:
        current = builder.add("Identity", [bn])
    # outputs 1..5 (batch statistics) come from the batch norm itself
    return {index: f"{bn}:{index}" for index in range(1, 6)}


def _decompose_layer_norm(builder: _Builder, node) -> dict:
    from tensorflow.core.framework import attr_value_pb2
    x, scale, offset = _data_inputs(node)[:3]
    keep = {"keep_dims": attr_value_pb2.AttrValue(b=True),
            "Tidx": attr_value_pb2.AttrValue(type=3)}  # DT_INT32
    axis = builder.const([-1], dtype="int32")
    mean = builder.add("Mean", [x, axis], keep)
    variance = builder.add("Mean", [builder.add("SquaredDifference", [x, mean]), axis], keep)
    epsilon = builder.const(node.attr["epsilon"].f)
    inv = builder.add("Rsqrt", [builder.add("AddV2", [variance, epsilon])])
    normed = builder.add("Mul", [builder.add("Sub", [x, mean]), inv])
    builder.add("AddV2", [builder.add("Mul", [normed, scale]), offset])
    return {}


def _decompose(node):
    builder = _Builder(node)
    if node.op in _CONV_LIKE:
        extra_outputs = _decompose_conv_like(builder, node)
    elif node.op == "_FusedBatchNormEx":
        extra_outputs = _decompose_batch_norm_ex(builder, node)
    elif node.op == "_MklLayerNorm":
        extra_outputs = _decompose_layer_norm(builder, node)
    else:  # _MklSwish, _MklFusedMish
        builder.activation(node.op, _data_inputs(node)[0])
        extra_outputs = {}
    builder.nodes[-1].name = node.name  # consumers keep reading `name:0`
    return Lowered(builder.nodes, extra_outputs)


def lower_fused(node, nodes) -> Lowered:
    """The registry's `lower` for every fused op: its public-op equivalent."""
    if not decomposable(node):
        raise ValueError(
            f"node {node.name!r}: fused op {node.op} with fused_ops={_fused_ops(node)} "
            "cannot be lowered to OpenVINO")
    return _decompose(node)


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


for _op in sorted(FUSED_OPS):
    _dtypes = {"T": FLOATS}
    if _op == "_FusedBatchNormEx":
        _dtypes["U"] = FLOATS
    capability(_op, lower=lower_fused, **_dtypes)(_make_check(_op))
