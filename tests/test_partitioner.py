"""Table-driven partition tests: small graphs, expected clusters written out, same results.

Every case builds a TF1 graph, rewrites it, checks the clusters (as sets of member names)
and the reasons, then proves the rewrite is semantically right by inlining the clusters
again (tests/graphs/simulate.py) and comparing with the original graph in a TF Session.
The partitioner is handed a hand-written support (`graphs/mock_support.py`): every op but
`Lgamma` is supported, Reshape/ReverseV2 have static inputs; nothing depends on OpenVINO.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from ovtf import partitioner
from ovtf import spec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphs import simulate  # noqa: E402
from graphs.mock_support import MockSupport  # noqa: E402

SUPPORT = MockSupport()

raw = tf.raw_ops
rng = np.random.default_rng(0)


def _x(name="x", shape=(2, 3), dtype=tf.float32):
    return tf.compat.v1.placeholder(dtype, shape, name=name)


def _feeds(graph_def):
    feeds = {}
    for node in graph_def.node:
        if node.op == "Placeholder":
            shape = [d.size if d.size >= 0 else 2 for d in node.attr["shape"].shape.dim]
            dtype = tf.as_dtype(node.attr["dtype"].type)
            if dtype.is_floating:
                feeds[node.name] = rng.uniform(0.5, 1.5, shape).astype(dtype.as_numpy_dtype)
            elif dtype == tf.bool:
                feeds[node.name] = np.array(True)
            else:
                feeds[node.name] = np.array([3, 2], np.int32) if shape == [2] else np.array(3, np.int32)
    return feeds


def _graph(build):
    graph = tf.Graph()
    with graph.as_default():
        build()
    return graph.as_graph_def()


def _clusters(result):
    return {frozenset(c.members) for c in result.report.clusters}


def _rewrite(graph_def, fetch, min_size=1, preserve=(), **kwargs):
    # grappler's preserve list holds the fetches too (and feeds, init and keep ops)
    preserve = list(fetch) + list(preserve)
    return partitioner.rewrite(graph_def, fetch, preserve, support=SUPPORT, min_cluster_size=min_size,
                               disabled_ops=frozenset(kwargs.pop("disabled", ())), **kwargs)


def _same_results(graph_def, result, fetch, feeds=None):
    feeds = _feeds(graph_def) if feeds is None else feeds
    expected = simulate.run(graph_def, fetch, feeds)
    actual = simulate.run(simulate.inline_clusters(result.graph_def), fetch, feeds)
    for want, got in zip(expected, actual):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def _check_structure(result):
    """No dangling inputs, unique names, one OVTFCluster per cluster, parseable subgraphs."""
    names = [node.name for node in result.graph_def.node]
    assert len(names) == len(set(names))
    for node in result.graph_def.node:
        for text in node.input:
            assert text.lstrip("^").split(":")[0] in names, (node.name, text)
    clusters = [n for n in result.graph_def.node if n.op == spec.CLUSTER_OP]
    assert len(clusters) == len(result.report.clusters)
    for node in clusters:
        parsed = spec.ClusterSpec.parse(node.name, node.attr["cluster_graph"].s,
                                        node.attr["Tin"].list.type, node.attr["Tout"].list.type)
        assert parsed.name == node.attr["cluster_name"].s.decode() == node.name
        assert len([t for t in node.input if not t.startswith("^")]) == len(parsed.inputs)


# --- the cases ----------------------------------------------------------------------------

def chain():
    tf.identity(tf.exp(tf.sin(tf.nn.relu(_x(), name="a"), name="b"), name="c"), name="out")


def diamond():
    a = tf.nn.relu(_x(), name="a")
    tf.identity(tf.add(tf.sin(a, name="b"), tf.cos(a, name="c"), name="d"), name="out")


def cycle_through_unsupported():
    a = tf.nn.relu(_x(), name="a")
    u = raw.Lgamma(x=a, name="u")
    d = tf.add(a, u, name="d")
    tf.identity(tf.exp(d, name="e"), name="out")


def multi_output():
    first, second = tf.split(_x(shape=(2, 4)), 2, axis=1, name="split")
    tf.identity(tf.add(tf.nn.relu(first, name="r"), raw.Lgamma(x=second, name="u"), name="add"),
                name="out")


def unpack_outputs():
    a, b, c = tf.unstack(tf.nn.relu(_x(), name="a"), axis=1, name="unstack")
    tf.identity(tf.stack([tf.sin(a, name="s"), raw.Lgamma(x=b, name="u"), c], name="pack"),
                name="out")


def fetched_intermediate():
    b = tf.sin(tf.nn.relu(_x(), name="a"), name="b")
    tf.identity(tf.exp(tf.cos(b, name="c"), name="e"), name="out")


def control_edges():
    a = tf.nn.relu(_x(), name="a")
    u = raw.Lgamma(x=a, name="u")
    with tf.control_dependencies([u]):
        b = tf.sin(a, name="b")
    c = tf.exp(b, name="c")
    with tf.control_dependencies([c]):
        v = raw.Lgamma(x=u, name="v")
    tf.identity(tf.add(c, v, name="d"), name="out")


def static_inputs():
    x = _x()
    n = tf.compat.v1.placeholder(tf.int32, (2,), name="n")
    tf.identity(tf.reshape(tf.nn.relu(x, name="a"), [3, 2], name="r_const"), name="out1")
    xd = _x("xd", (None, 3))  # unknown batch: tf.shape is a real Shape op, not a Const
    shape = tf.shape(xd, name="xshape")
    tf.identity(tf.reshape(tf.sin(xd, name="b"), tf.reverse(shape, [0], name="rev"), name="r_shape"),
                name="out2")
    tf.identity(tf.reshape(tf.cos(x, name="c"), n, name="r_fed"), name="out3")


def disabled():
    tf.identity(tf.exp(tf.cos(tf.sin(tf.nn.relu(_x(), name="a"), name="b"), name="c"), name="e"),
                name="out")


CASES = [
    # (name, builder, fetch, expected clusters, extra kwargs)
    ("chain", chain, ["out"], [{"a", "b", "c"}], {}),
    ("diamond", diamond, ["out"], [{"a", "b", "c", "d"}], {}),
    ("cycle", cycle_through_unsupported, ["out"], [{"a"}, {"d", "e"}], {}),
    ("split", multi_output, ["out"], [{"split", "r"}, {"add"}], {}),
    ("unpack", unpack_outputs, ["out"], [{"a", "unstack", "s"}, {"pack"}], {}),
    ("fetched", fetched_intermediate, ["out", "b"], [{"a", "b", "c", "e"}], {}),
    ("fed", fetched_intermediate, ["out"], [{"a"}, {"c", "e"}], {"preserve": ["b"]}),
    ("control", control_edges, ["out"], [{"a"}, {"b", "c"}, {"d"}], {}),
    ("static", static_inputs, ["out1", "out2", "out3"],
     [{"a", "r_const"}, {"xshape", "rev", "b", "r_shape"}, {"c"}], {}),
    ("disabled", disabled, ["out"], [{"a"}, {"c", "e"}], {"disabled": {"Sin"}}),
    ("min_size", disabled, ["out"], [{"c", "e"}], {"disabled": {"Sin"}, "min_size": 2}),
]


@pytest.mark.parametrize("name,build,fetch,expected,kwargs", CASES, ids=[c[0] for c in CASES])
def test_partition_case(name, build, fetch, expected, kwargs):
    graph_def = _graph(build)
    result = _rewrite(graph_def, fetch, **dict(kwargs))
    assert result is not None
    assert _clusters(result) == {frozenset(c) for c in expected}
    _check_structure(result)
    _same_results(graph_def, result, fetch)
    # the optimizer runs twice per graph: the second call leaves the rewritten graph alone
    assert _rewrite(result.graph_def, fetch, **dict(kwargs)).graph_def is None


def test_cycle_edge_reason_and_summary():
    result = _rewrite(_graph(cycle_through_unsupported), ["out"])
    report = result.report
    assert report.edge_reasons[("a", "d")] == "CYCLE"
    assert report.placement["u"].reason == "UNSUPPORTED_OP"
    assert (report.ops_total, report.ops_marked, report.ops_clustered) == (4, 3, 3)
    assert sorted(report.cluster_sizes) == [1, 2]
    summary = report.format_summary(verbose=1)
    assert "ops total: 4" in summary
    assert "marked: 3 (75.0%)" in summary and "clustered: 3 (75.0%)" in summary
    assert "clusters: 2 sizes: 2, 1" in summary
    assert "Lgamma UNSUPPORTED_OP: 1" in summary
    assert "edges not merged: CYCLE 1" in summary
    assert "u [Lgamma] -> TF UNSUPPORTED_OP" not in summary
    verbose = report.format_summary(verbose=2)
    assert "u [Lgamma] -> TF UNSUPPORTED_OP" in verbose
    assert "d [AddV2] -> ovtf_cluster_" in verbose


def test_reasons_fetched_disabled_static_and_small():
    report = _rewrite(_graph(fetched_intermediate), ["out"], preserve=["b"]).report
    assert report.placement["b"].reason == "PRESERVED"   # e.g. fed: stays, feeds its consumers
    report = _rewrite(_graph(fetched_intermediate), ["out", "b"]).report
    assert report.placement["b"].cluster is not None     # fetched: clustered, name kept
    report = _rewrite(_graph(disabled), ["out"], disabled={"Sin"}, min_size=2).report
    assert report.placement["b"].reason == "DISABLED"
    assert report.placement["a"].reason == "CLUSTER_TOO_SMALL"
    assert report.left_in_tf[("Relu", "CLUSTER_TOO_SMALL")] == 1
    report = _rewrite(_graph(static_inputs), ["out1", "out2", "out3"]).report
    assert report.placement["r_fed"].reason == "STATIC_INPUT"
    assert report.edge_reasons[("c", "r_fed")] == "STATIC_INPUT"
    assert report.placement["r_const"].cluster is not None


def test_min_size_leaves_graph_unchanged_but_explains():
    graph_def = _graph(chain)
    assert _rewrite(graph_def, ["out"], min_size=4).graph_def is None
    report = partitioner.explain(graph_def, ["out"], [], support=SUPPORT, min_cluster_size=4)
    assert report.ops_clustered == 0 and report.reasons["CLUSTER_TOO_SMALL"] == 3


def test_cluster_node_contract():
    graph_def = _graph(static_inputs)
    for node in graph_def.node:  # the shapes TF knows, as grappler records them
        if node.name == "x":
            node.attr["_output_shapes"].list.shape.add().CopyFrom(tf.TensorShape([2, 3]).as_proto())
    result = _rewrite(graph_def, ["out1", "out2", "out3"])
    nodes = {n.name: n for n in result.graph_def.node}
    cluster = next(n for n in result.graph_def.node
                   if n.op == spec.CLUSTER_OP and "x" in n.input and len(n.attr["Tout"].list.type) == 1
                   and "r_const" in spec.ClusterSpec.parse(n.name, n.attr["cluster_graph"].s).op_types
                   or n.op == spec.CLUSTER_OP and _has(n, "r_const"))
    parsed = spec.ClusterSpec.parse(cluster.name, cluster.attr["cluster_graph"].s)
    assert parsed.inputs[0].shape == (2, 3) and parsed.inputs[0].tf_dtype == tf.float32.as_datatype_enum
    assert [o.tf_dtype for o in parsed.outputs] == [tf.float32.as_datatype_enum]
    inner = {n.name: n for n in parsed.graph_def.node}
    assert any(n.op == "Const" for n in inner.values())  # the shape Const was copied inside
    assert all(n.device == "" for n in inner.values())
    assert "r_const/shape" not in nodes  # ... and removed outside, nothing else read it
    assert nodes["out1"].input[0] == cluster.name


def _has(cluster_node, member):
    sub = spec.ClusterSpec.parse(cluster_node.name, cluster_node.attr["cluster_graph"].s)
    return any(n.name == member for n in sub.graph_def.node)


def test_variable_inputs_are_flagged():
    from tensorflow.core.framework import graph_pb2
    graph_def = graph_pb2.GraphDef()
    handle = graph_def.node.add(name="v", op="VarHandleOp")
    handle.attr["dtype"].type = tf.float32.as_datatype_enum
    handle.attr["shape"].shape.CopyFrom(tf.TensorShape([3, 3]).as_proto())
    read = graph_def.node.add(name="read", op="ReadVariableOp", input=["v"])
    read.attr["dtype"].type = tf.float32.as_datatype_enum
    x = graph_def.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = tf.float32.as_datatype_enum
    for name, op, inputs in (("mm", "MatMul", ["x", "read"]), ("r", "Relu", ["mm"]),
                             ("out", "Identity", ["r"])):
        node = graph_def.node.add(name=name, op=op, input=inputs)
        node.attr["T"].type = tf.float32.as_datatype_enum
    result = _rewrite(graph_def, ["out"])
    cluster = next(n for n in result.graph_def.node if n.op == spec.CLUSTER_OP)
    parsed = spec.ClusterSpec.parse(cluster.name, cluster.attr["cluster_graph"].s)
    assert list(cluster.input) == ["x", "read"]
    assert [i.is_variable for i in parsed.inputs] == [False, True]
    assert parsed.inputs[0].shape is None  # nothing recorded: unknown rank


def test_devices_never_mix():
    graph_def = _graph(chain)
    for node in graph_def.node:
        node.device = "/job:localhost/replica:0/task:0/device:CPU:0"
        if node.name == "c":
            node.device = "/job:localhost/replica:0/task:0/device:CPU:1"
        if node.name == "a":
            node.device = "/job:localhost/replica:0/task:0/device:GPU:0"
    result = _rewrite(graph_def, ["out"])
    assert _clusters(result) == {frozenset({"b"}), frozenset({"c"})}
    assert result.report.placement["a"].reason == "DEVICE"
    assert result.report.edge_reasons[("b", "c")] == "DEVICE"
    for node in result.graph_def.node:
        if node.op == spec.CLUSTER_OP:
            assert node.device.endswith("CPU:0") or node.device.endswith("CPU:1")


def test_already_rewritten_or_fallback_graph_is_left_alone():
    graph_def = _graph(chain)
    graph_def.node[1].attr[spec.FALLBACK_ATTR].b = True
    assert _rewrite(graph_def, ["out"]).graph_def is None


# --- control flow (TF1-style lowered frames, as grappler hands them to ovtf) ---------------

@pytest.fixture
def lowered_control_flow():
    from tensorflow.python.ops import control_flow_util
    saved = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        yield
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = saved


def test_while_loop(lowered_control_flow):
    def build():
        x = _x()
        pre = tf.nn.relu(x, name="pre")
        _, y = tf.compat.v1.while_loop(
            lambda i, v: i < 3,
            lambda i, v: (i + 1, tf.tanh(tf.sin(v) * 1.5 + 0.1)),
            [tf.constant(0), pre], name="loop")
        tf.identity(tf.exp(y, name="post"), name="out")

    graph_def = _graph(build)
    assert any(node.op == "Enter" for node in graph_def.node)
    result = _rewrite(graph_def, ["out"])
    report = result.report
    body = {name for name, p in report.placement.items()
            if name.startswith("loop/") and p.op in ("Sin", "Mul", "Tanh")} | {"loop/add_1"}
    assert body and len({report.cluster_of(name) for name in body}) == 1
    body_cluster = report.cluster_of(next(iter(body)))
    assert body_cluster not in (report.cluster_of("pre"), report.cluster_of("post"))
    for name in ("loop/Enter", "loop/Merge", "loop/Switch", "loop/Exit", "loop/NextIteration"):
        if name in report.placement:
            assert report.placement[name].reason == "CONTROL_FLOW"
    _check_structure(result)
    _same_results(graph_def, result, ["out"])


@pytest.mark.parametrize("flag", [True, False])
def test_cond(lowered_control_flow, flag):
    def build():
        x = _x()
        p = tf.compat.v1.placeholder(tf.bool, (), name="p")
        a = tf.nn.relu(x, name="a")
        y = tf.cond(p, lambda: tf.exp(tf.sin(a)), lambda: tf.cos(tf.tanh(a)), name="cond")
        tf.identity(tf.sqrt(y, name="post"), name="out")

    graph_def = _graph(build)
    assert any(node.op == "Switch" for node in graph_def.node)
    result = _rewrite(graph_def, ["out"])
    report = result.report
    true_ops = {report.cluster_of(n) for n, p in report.placement.items() if p.op in ("Exp", "Sin")}
    false_ops = {report.cluster_of(n) for n, p in report.placement.items() if p.op in ("Cos", "Tanh")}
    assert len(true_ops) == 1 and len(false_ops) == 1 and true_ops != false_ops
    assert None not in true_ops | false_ops
    assert report.cluster_of("a") not in true_ops | false_ops
    _check_structure(result)
    feeds = _feeds(graph_def)
    feeds["p"] = np.array(flag)
    _same_results(graph_def, result, ["out"], feeds)
