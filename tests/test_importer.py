"""Importer tests: small TF graphs laid out as clusters, lowered with OpenVINO's frontend,
compiled on CPU at f32 and compared with TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
ov = pytest.importorskip("openvino")

from ovtf.importer import ImportFailure, import_cluster  # noqa: E402
from ovtf.importer.lowering import lower_graph as decompose_graph  # noqa: E402
from ovtf.ocm import TableSupport  # noqa: E402
from ovtf.ocm.fused_ops import decomposable  # noqa: E402

compile_time_inputs = TableSupport().policy().compile_time_inputs
from ovtf.spec import ClusterSpec  # noqa: E402


# --- helpers shared with test_backends.py / test_device.py -----------------------------------

def make_spec(fn, input_specs, variables=(), name="cluster"):
    """A ClusterSpec whose subgraph is `fn(*placeholders)` in the cluster layout.

    input_specs: [(tf dtype, static shape with None for unknown dims)]; variables: indices of
    inputs marked `_ovtf_variable`. `fn` returns a list of output tensors.
    """
    graph = tf.Graph()
    with graph.as_default():
        args = [tf.compat.v1.placeholder(dtype, shape, name=f"ovtf_arg_{i}")
                for i, (dtype, shape) in enumerate(input_specs)]
        results = fn(*args)
        for i, tensor in enumerate(results):
            tf.identity(tensor, name=f"ovtf_ret_{i}")
    graph_def = graph.as_graph_def()
    for node in graph_def.node:
        if node.name in {f"ovtf_arg_{i}" for i in variables}:
            node.attr["_ovtf_variable"].b = True
    return ClusterSpec.parse(name, graph_def.SerializeToString())


def run_tf(spec, inputs):
    """Reference: run the cluster subgraph with TensorFlow."""
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(spec.graph_def, name="")
    feeds = {f"{t.name}:0": value for t, value in zip(spec.inputs, inputs)}
    from ovtf import config
    enabled = config.settings.enabled
    config.update(enabled=False)  # the reference must be TensorFlow's own, not ovtf's
    try:
        with tf.compat.v1.Session(graph=graph) as session:
            return session.run([f"{t.name}:0" for t in spec.outputs], feeds)
    finally:
        config.update(enabled=enabled)


class ListSink:
    """Stand-in for the native kernel's output sink: allocates numpy arrays."""

    def __init__(self, spec):
        self.dtypes = [t.dtype for t in spec.outputs]
        self.arrays = [None] * len(self.dtypes)

    def allocate(self, index, shape):
        self.arrays[index] = np.empty(shape, dtype=self.dtypes[index])
        return self.arrays[index]


def compile_and_run(model, inputs):
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    request.infer(inputs)
    return [request.get_output_tensor(i).data.copy() for i in range(len(compiled.outputs))]


def assert_close(actual, expected, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# --- tests ------------------------------------------------------------------------------------

def _dense(x, w, b):
    y = tf.matmul(x, w) + b
    _dangling = tf.nn.sigmoid(y) * 3.0  # noqa: F841  not an output: must not become one
    return [tf.nn.relu(y), y]


def test_outputs_are_exactly_the_cluster_outputs_in_order():
    spec = make_spec(_dense, [(tf.float32, (None, 4)), (tf.float32, (4, 5)), (tf.float32, (5,))])
    model = import_cluster(spec, [(3, 4), (4, 5), (5,)], {})
    assert len(model.outputs) == 2
    assert [p.get_friendly_name() for p in model.get_parameters()] == \
        ["ovtf_arg_0", "ovtf_arg_1", "ovtf_arg_2"]
    inputs = [rand(3, 4), rand(4, 5), rand(5)]
    for actual, expected in zip(compile_and_run(model, inputs), run_tf(spec, inputs)):
        assert_close(actual, expected)


def test_same_tensor_as_two_outputs_and_passthrough():
    spec = make_spec(lambda x, y: [x * 2.0, x * 2.0, y, tf.identity(x * 2.0)],
                     [(tf.float32, (2, 3)), (tf.float32, (4,))])
    model = import_cluster(spec, [(2, 3), (4,)], {})
    assert len(model.outputs) == 4
    inputs = [rand(2, 3), rand(4)]
    for actual, expected in zip(compile_and_run(model, inputs), run_tf(spec, inputs)):
        assert_close(actual, expected)


def test_constants_are_baked_and_not_parameters():
    spec = make_spec(_dense, [(tf.float32, (None, 4)), (tf.float32, (4, 5)), (tf.float32, (5,))],
                     variables=(1, 2))
    w, b = rand(4, 5), rand(5)
    model = import_cluster(spec, [(8, 4), (4, 5), (5,)], {1: w, 2: b})
    assert [p.get_friendly_name() for p in model.get_parameters()] == ["ovtf_arg_0"]
    x = rand(8, 4)
    for actual, expected in zip(compile_and_run(model, [x]), run_tf(spec, [x, w, b])):
        assert_close(actual, expected)


def test_unused_input_keeps_its_parameter():
    spec = make_spec(lambda x, unused: [x + 1.0], [(tf.float32, (2,)), (tf.int32, (3,))])
    model = import_cluster(spec, [(2,), (3,)], {})
    assert len(model.get_parameters()) == 2
    x = rand(2)
    assert_close(compile_and_run(model, [x, np.zeros(3, np.int32)])[0], x + 1.0)


def test_static_shapes_from_the_call():
    spec = make_spec(lambda x: [tf.reduce_sum(x, axis=1)], [(tf.float32, (None, None))])
    for shape in [(1, 7), (3, 2), (8, 5)]:
        model = import_cluster(spec, [shape], {})
        assert model.input(0).get_partial_shape().is_static
        assert tuple(model.input(0).get_shape()) == shape
        x = rand(*shape)
        assert_close(compile_and_run(model, [x])[0], x.sum(axis=1))


def test_compile_time_inputs_are_detected_and_baked():
    spec = make_spec(lambda x, s: [tf.reshape(x, s) * 2.0], [(tf.float32, (None,)), (tf.int32, (2,))])
    assert compile_time_inputs(spec) == {1}
    shape = np.array([2, 3], np.int32)
    model = import_cluster(spec, [(6,), (2,)], {1: shape})
    assert model.output(0).get_partial_shape().is_static
    x = rand(6)
    assert_close(compile_and_run(model, [x])[0], x.reshape(2, 3) * 2.0)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.float16, np.bool_])
def test_dtypes(dtype):
    tf_dtype = tf.as_dtype(dtype)
    if dtype == np.bool_:
        fn = lambda a, b: [tf.logical_and(a, b), tf.logical_not(a)]  # noqa: E731
        inputs = [RNG.random((2, 3)) > 0.5, RNG.random((2, 3)) > 0.5]
    else:
        fn = lambda a, b: [a + b, tf.maximum(a, b)]  # noqa: E731
        inputs = [(RNG.random((2, 3)) * 10).astype(dtype), (RNG.random((2, 3)) * 10).astype(dtype)]
    spec = make_spec(fn, [(tf_dtype, (2, 3)), (tf_dtype, (2, 3))])
    model = import_cluster(spec, [(2, 3), (2, 3)], {})
    for actual, expected in zip(compile_and_run(model, inputs), run_tf(spec, inputs)):
        np.testing.assert_allclose(actual.astype(np.float64), np.asarray(expected).astype(np.float64),
                                   rtol=1e-3 if dtype == np.float16 else 1e-6)


def test_unsupported_op_is_an_import_failure_naming_the_cluster():
    spec = make_spec(lambda s: [tf.strings.length(s)], [(tf.string, (2,))], name="strings")
    with pytest.raises(ImportFailure, match="strings"):
        import_cluster(spec, [(2,)], {})


def test_wrong_number_of_shapes():
    spec = make_spec(lambda x: [x + 1.0], [(tf.float32, (2,))])
    with pytest.raises(ImportFailure):
        import_cluster(spec, [], {})


# --- TF-internal fused ops (grappler remapper with oneDNN) ------------------------------------

def _remapped_graph_def(fn, input_specs):
    """Run grappler (remapper on) over fn's graph laid out as a cluster, like the hook sees it."""
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, rewriter_config_pb2
    from tensorflow.python.grappler import tf_optimizer
    graph = tf.Graph()
    with graph.as_default():
        args = [tf.compat.v1.placeholder(dtype, shape, name=f"ovtf_arg_{i}")
                for i, (dtype, shape) in enumerate(input_specs)]
        outs = [tf.identity(t, name=f"ovtf_ret_{i}") for i, t in enumerate(fn(*args))]
    graph_def = graph.as_graph_def()
    for node in graph_def.node:
        node.device = "/job:localhost/replica:0/task:0/device:CPU:0"
    meta = tf.compat.v1.train.export_meta_graph(graph_def=graph_def, graph=graph)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend(t.name for t in outs)
    meta.collection_def["train_op"].CopyFrom(fetch)
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.ON
    from ovtf import config as ovtf_config
    enabled = ovtf_config.settings.enabled
    ovtf_config.update(enabled=False)  # ovtf's own grappler hook would cluster everything
    try:
        optimized = tf_optimizer.OptimizeGraph(config, meta)
    finally:
        ovtf_config.update(enabled=enabled)
    for node in optimized.node:
        node.device = ""
    return ClusterSpec.parse("fused", optimized.SerializeToString())


def _fused_model(x, w, b, dw, mw, mb, scale, lw):
    y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, 1, "SAME"), b))
    y = tf.nn.relu6(tf.nn.bias_add(tf.nn.depthwise_conv2d(y, dw, [1, 1, 1, 1], "SAME"), b))
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(y, scale, b, mean=b, variance=scale * scale + 1.0,
                                               is_training=False)
    y = tf.nn.relu(y)
    y = tf.nn.bias_add(tf.nn.conv2d(y, w, 1, "VALID", dilations=2), b)
    y = y * tf.sigmoid(y)
    y = tf.nn.elu(tf.nn.bias_add(tf.nn.conv2d(y, w, 2, "SAME"), b) + y[:, ::2, ::2, :])
    flat = tf.reshape(y, (2, -1))
    z1 = tf.nn.relu(tf.nn.bias_add(tf.matmul(flat, mw), mb))
    z2 = tf.nn.gelu(tf.nn.bias_add(tf.matmul(flat, mw), mb), approximate=False)
    z3 = tf.nn.gelu(tf.nn.bias_add(tf.matmul(flat, mw), mb), approximate=True)
    z4 = tf.nn.tanh(tf.nn.bias_add(tf.matmul(flat, mw, transpose_b=False), mb))
    z5 = tf.nn.leaky_relu(tf.nn.bias_add(tf.matmul(flat, mw), mb), alpha=0.1)
    z6 = tf.nn.sigmoid(tf.nn.bias_add(tf.matmul(lw, flat, transpose_a=True, transpose_b=True), mb[:2]))
    return [z1, z2, z3, z4, z5, z6]


FUSED_SPECS = [(tf.float32, (2, 12, 12, 8)), (tf.float32, (3, 3, 8, 8)), (tf.float32, (8,)),
               (tf.float32, (3, 3, 8, 1)), (tf.float32, (4 * 4 * 8, 16)), (tf.float32, (16,)),
               (tf.float32, (8,)), (tf.float32, (4 * 4 * 8, 1))]


def test_remapper_fused_ops_are_lowered():
    spec = _remapped_graph_def(_fused_model, FUSED_SPECS)
    fused = {op for op in spec.op_types if op.startswith("_")}
    assert {"_FusedConv2D", "_FusedMatMul"} <= fused, spec.op_types  # the remapper did fuse
    assert all(decomposable(node) for node in spec.graph_def.node if node.op.startswith("_"))
    assert not any(node.op.startswith("_") for node in decompose_graph(spec.graph_def).node)
    inputs = [rand(*shape) * 0.5 for _, shape in FUSED_SPECS]
    model = import_cluster(spec, [shape for _, shape in FUSED_SPECS], {})
    for actual, expected in zip(compile_and_run(model, inputs), run_tf(spec, inputs)):
        assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def test_layer_norm_and_swish_decomposition():
    from tensorflow.core.framework import node_def_pb2, graph_pb2
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (2, 5), name="ovtf_arg_0")
        s = tf.compat.v1.placeholder(tf.float32, (5,), name="ovtf_arg_1")
        o = tf.compat.v1.placeholder(tf.float32, (5,), name="ovtf_arg_2")
        tf.identity(x, name="ln")
        tf.identity(x, name="sw")
        tf.identity(x, name="ovtf_ret_0")
        tf.identity(x, name="ovtf_ret_1")
    graph_def = graph.as_graph_def()
    nodes = graph_pb2.GraphDef()
    for node in graph_def.node:
        if node.name == "ln":
            new = node_def_pb2.NodeDef(name="ln", op="_MklLayerNorm", input=["ovtf_arg_0", "ovtf_arg_1", "ovtf_arg_2"])
            new.attr["T"].type = 1
            new.attr["epsilon"].f = 1e-3
            node = new
        elif node.name == "sw":
            new = node_def_pb2.NodeDef(name="sw", op="_MklSwish", input=["ln"])
            new.attr["T"].type = 1
            node = new
        elif node.name == "ovtf_ret_0":
            node.input[0] = "ln"
        elif node.name == "ovtf_ret_1":
            node.input[0] = "sw"
        nodes.node.append(node)
    spec = ClusterSpec.parse("mkl", nodes.SerializeToString())
    xv, sv, ov_ = rand(2, 5), rand(5), rand(5)
    mean = xv.mean(-1, keepdims=True)
    var = ((xv - mean) ** 2).mean(-1, keepdims=True)
    ln = (xv - mean) / np.sqrt(var + 1e-3) * sv + ov_
    sw = ln / (1 + np.exp(-ln))
    model = import_cluster(spec, [(2, 5), (5,), (5,)], {})
    actual = compile_and_run(model, [xv, sv, ov_])
    assert_close(actual[0], ln)
    assert_close(actual[1], sw)


def _fused_node_spec(op, fused_ops, inputs, attrs):
    """A cluster with one hand-built fused node `op` over placeholders of `inputs` shapes."""
    from tensorflow.core.framework import graph_pb2, node_def_pb2
    graph = tf.Graph()
    with graph.as_default():
        for i, shape in enumerate(inputs):
            tf.compat.v1.placeholder(tf.float32, shape, name=f"ovtf_arg_{i}")
    graph_def = graph_pb2.GraphDef()
    graph_def.CopyFrom(graph.as_graph_def())
    node = node_def_pb2.NodeDef(name="fused", op=op, input=[f"ovtf_arg_{i}" for i in range(len(inputs))])
    node.attr["T"].type = 1
    node.attr["num_args"].i = len(inputs) - 2
    node.attr["fused_ops"].list.s.extend(item.encode() for item in fused_ops)
    node.attr["epsilon"].f = 1e-3
    node.attr["leakyrelu_alpha"].f = 0.3
    for key, value in attrs.items():
        if isinstance(value, bytes):
            node.attr[key].s = value
        elif isinstance(value, bool):
            node.attr[key].b = value
        else:
            node.attr[key].list.i.extend(value)
    graph_def.node.append(node)
    ret = graph_def.node.add(name="ovtf_ret_0", op="Identity", input=["fused"])
    ret.attr["T"].type = 1
    return ClusterSpec.parse("fused", graph_def.SerializeToString())


_ACTIVATION_REFERENCE = {
    "Relu": tf.nn.relu, "Relu6": tf.nn.relu6, "Elu": tf.nn.elu, "Tanh": tf.tanh,
    "Sigmoid": tf.sigmoid, "LeakyRelu": lambda v: tf.nn.leaky_relu(v, 0.3),
    "_MklSwish": lambda v: v * tf.sigmoid(v),
    "GeluExact": lambda v: tf.nn.gelu(v, approximate=False),
    "GeluApproximate": lambda v: tf.nn.gelu(v, approximate=True),
}


@pytest.mark.parametrize("fused_ops", [["BiasAdd"], ["BiasAdd", "Add"]] +
                         [["BiasAdd", name] for name in _ACTIVATION_REFERENCE] +
                         [["BiasAdd", "Add", "Relu"]])
def test_fused_matmul_variants(fused_ops):
    shapes = [(3, 6), (6, 4), (4,)] + ([(3, 4)] if "Add" in fused_ops else [])
    spec = _fused_node_spec("_FusedMatMul", fused_ops, shapes, {"transpose_a": False, "transpose_b": False})
    values = [rand(*shape) for shape in shapes]
    expected = tf.matmul(values[0], values[1]) + values[2]
    if "Add" in fused_ops:
        expected = expected + values[3]
    if fused_ops[-1] in _ACTIVATION_REFERENCE:
        expected = _ACTIVATION_REFERENCE[fused_ops[-1]](expected)
    model = import_cluster(spec, shapes, {})
    assert_close(compile_and_run(model, values)[0], expected.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fused_ops", [["BiasAdd", "Relu"], ["FusedBatchNorm"], ["FusedBatchNorm", "Relu6"],
                                       ["BiasAdd", "Add", "Elu"]])
def test_fused_conv2d_variants(fused_ops):
    if fused_ops[0] == "FusedBatchNorm":
        args = [(4,)] * 4
    else:
        args = [(4,)] + ([(1, 5, 5, 4)] if "Add" in fused_ops else [])
    shapes = [(1, 5, 5, 3), (3, 3, 3, 4)] + args
    spec = _fused_node_spec("_FusedConv2D", fused_ops, shapes,
                            {"strides": [1, 1, 1, 1], "padding": b"SAME", "data_format": b"NHWC",
                             "dilations": [1, 1, 1, 1]})
    values = [rand(*shape) for shape in shapes]
    if fused_ops[0] == "FusedBatchNorm":
        values[5] = np.abs(values[5]) + 0.5  # variance
    conv = tf.nn.conv2d(values[0], values[1], 1, "SAME")
    if fused_ops[0] == "FusedBatchNorm":
        expected = (conv - values[4]) / tf.sqrt(values[5] + 1e-3) * values[2] + values[3]
    else:
        expected = conv + values[2]
        if "Add" in fused_ops:
            expected = expected + values[3]
    activation = fused_ops[-1]
    if activation in _ACTIVATION_REFERENCE:
        expected = _ACTIVATION_REFERENCE[activation](expected)
    assert decomposable(spec.graph_def.node[-2])
    model = import_cluster(spec, shapes, {})
    assert_close(compile_and_run(model, values)[0], expected.numpy(), rtol=1e-4, atol=1e-4)


def test_unknown_fused_variant_is_not_decomposable():
    spec = _fused_node_spec("_FusedMatMul", ["BiasAdd", "Softplus9"], [(2, 2), (2, 2), (2,)],
                            {"transpose_a": False, "transpose_b": False})
    assert not decomposable(spec.graph_def.node[-2])
    with pytest.raises(ImportFailure, match="fused"):
        import_cluster(spec, [(2, 2), (2, 2), (2,)], {})
