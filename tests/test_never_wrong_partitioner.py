"""Issue 18 items 1-3: the partitioner never makes a rewrite that deadlocks, that TensorFlow
throws away, or that ignores a Session feed. Each repro runs through the real ovtf (OpenVINO,
minimum cluster size 1, fallback off) against stock TensorFlow with placement asserted, and
at partitioner level (hand-written support, tests/graphs/) where the cause is structural.

1. Loops: a cluster may not both feed a loop and read its result: the value goes round the
   loop's back edge (or the loop waits for all its Enters), and the cluster waits for itself;
   TF then returned empty tensors without an error.
2. `beta * x` in a loop body becomes `x` plus `^beta` (TF's arithmetic optimizer); the Const
   was deleted while the cluster kept `^beta`, TF discarded the whole rewrite and ran it stock
   while the clusters were counted. Every rewrite is now validated before it is handed back.
3. A fed Const was copied into the cluster, so the fed value was ignored.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

import ovtf
from ovtf import partitioner
from ovtf.partitioner import encapsulate, report as report_module
from ovtf.partitioner.graph import GraphView

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphs import capture, loops, simulate  # noqa: E402
from graphs.mock_support import MockSupport  # noqa: E402

SUPPORT = MockSupport()
RNG = np.random.default_rng(18)
X = RNG.uniform(-1.0, 1.0, (4, 8)).astype(np.float32)


@pytest.fixture
def device_only():
    ovtf.set_min_cluster_size(1)
    ovtf.disable_dynamic_fallback()


def _stock_and_ovtf(make_function, *args):
    """Run a fresh tf.function from `make_function()` with ovtf off, then on:
    -> (stock, ovtf, ovtf.stats() of the ovtf run)."""
    ovtf.disable()
    expected = make_function()(*args)
    ovtf.enable()
    ovtf.reset_stats()
    actual = make_function()(*args)
    return expected, actual, ovtf.stats()


def _assert_same(actual, expected):
    assert actual.shape == expected.shape
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-4, atol=1e-5)


# --- 1. loops ---------------------------------------------------------------------------------

def _map_fn_between_chains():
    @tf.function
    def fn(x):
        h = x
        for _ in range(8):
            h = tf.tanh(h) * 1.5 + 0.1
        m = tf.map_fn(lambda r: r * tf.reduce_max(r), h)
        y = h * m
        for _ in range(8):
            y = tf.tanh(y) * 1.5 + 0.1
        return y
    return fn


def test_code_before_and_after_a_loop_never_share_a_cluster(device_only):
    expected, actual, stats = _stock_and_ovtf(_map_fn_between_chains, X)
    _assert_same(actual, expected)   # was shape (0,), no error
    assert stats["fallbacks"] == 0 and stats["device_executions"] >= 3, stats
    assert stats["left_alone_reasons"] == {}, stats


def test_partitioner_separates_the_chains_around_map_fn():
    with capture.captured() as graphs:
        _map_fn_between_chains()(X)
    graph_def, fetch, preserve = capture.graph_with(graphs, "Tanh_15")
    result = partitioner.rewrite(graph_def, fetch, preserve, support=SUPPORT, min_cluster_size=1)
    assert result.graph_def is not None
    report = result.report
    assert report.cluster_of("Tanh") and report.cluster_of("Tanh_15")
    assert report.cluster_of("Tanh") != report.cluster_of("Tanh_15")
    assert "CYCLE" in report.edge_reason_counts
    assert not loops.self_reaching_clusters(result.graph_def)


def _node(graph_def, name, op, inputs=(), **attrs):
    node = graph_def.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        if isinstance(value, bytes):
            node.attr[key].s = value
        elif isinstance(value, bool):
            node.attr[key].b = value
        elif isinstance(value, tf.DType):
            node.attr[key].type = value.as_datatype_enum
        else:
            node.attr[key].tensor.CopyFrom(tf.make_tensor_proto(value))
    return node


def _loop_with_a_dead_end_enter():
    """x -> a = Tanh(x); a enters a loop whose body only reads it in a dead end (Cos);
    the loop counts s = x up by 1 until 3; y = Neg(Exit(s) * a). No path from `a` to the Exit,
    back edge or not: but the frame's first iteration waits for every Enter, so a cluster
    {a, y} would wait for itself once the loop outruns parallel_iterations."""
    f32 = tf.float32
    g = graph_pb2.GraphDef()
    _node(g, "x", "Placeholder", dtype=f32)
    _node(g, "a", "Tanh", ["x"], T=f32)
    _node(g, "enter_a", "Enter", ["a"], T=f32, frame_name=b"loop", is_constant=True)
    _node(g, "enter_s", "Enter", ["x"], T=f32, frame_name=b"loop", is_constant=False)
    merge = _node(g, "merge", "Merge", ["enter_s", "next"], T=f32)
    merge.attr["N"].i = 2
    _node(g, "limit", "Const", ["^merge"], dtype=f32, value=np.full((4, 8), 3.0, np.float32))
    _node(g, "less", "Less", ["merge", "limit"], T=f32)
    _node(g, "all", "All", ["less", "axes"], keep_dims=False)
    g.node[-1].attr["Tidx"].type = tf.int32.as_datatype_enum
    _node(g, "axes", "Const", ["^merge"], dtype=tf.int32, value=np.array([0, 1], np.int32))
    _node(g, "cond", "LoopCond", ["all"])
    _node(g, "switch", "Switch", ["merge", "cond"], T=f32)
    _node(g, "body_in", "Identity", ["switch:1"], T=f32)
    _node(g, "one", "Const", ["^body_in"], dtype=f32, value=np.float32(1.0))
    _node(g, "step", "AddV2", ["body_in", "one"], T=f32)
    _node(g, "dead_end", "Cos", ["enter_a"], T=f32)
    _node(g, "next", "NextIteration", ["step"], T=f32)
    _node(g, "exit", "Exit", ["switch"], T=f32)
    _node(g, "prod", "Mul", ["exit", "a"], T=f32)
    _node(g, "y", "Neg", ["prod"], T=f32)
    return g


def test_a_cluster_never_feeds_a_loop_and_reads_its_result():
    graph_def = _loop_with_a_dead_end_enter()
    result = partitioner.rewrite(graph_def, ["y"], ["y"], support=SUPPORT, min_cluster_size=1)
    report = result.report
    assert result.graph_def is not None and report.cluster_of("a") and report.cluster_of("y")
    assert report.cluster_of("a") != report.cluster_of("y")
    assert report.edge_reasons[("a", "prod")] == "CYCLE"
    assert report.cluster_of("prod") == report.cluster_of("y")
    assert not loops.self_reaching_clusters(result.graph_def)
    feeds = {"x": X}
    expected = simulate.run(graph_def, ["y"], feeds)
    actual = simulate.run(simulate.inline_clusters(result.graph_def), ["y"], feeds)
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-6)


# --- 2. every rewrite valid, every count true --------------------------------------------------

def _const_behind_a_control_edge():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (4, 8), name="x")
        c = tf.constant(0.5, name="c")
        with tf.control_dependencies([c.op]):
            s = tf.sigmoid(x, name="s")
        m = tf.multiply(s, c, name="m")
        tf.tanh(m, name="t")
    return graph.as_graph_def()


def test_a_control_input_on_a_removed_const_never_dangles():
    graph_def = _const_behind_a_control_edge()
    result = partitioner.rewrite(graph_def, ["t"], ["t"], support=SUPPORT, min_cluster_size=1)
    assert result.graph_def is not None
    assert {frozenset(c.members) for c in result.report.clusters} == {frozenset({"s", "m", "t"})}
    assert encapsulate.validate(result.graph_def) is None
    names = {node.name for node in result.graph_def.node}
    assert "c" not in names   # copied into the cluster, named by nothing left outside
    for node in result.graph_def.node:
        assert all(text.lstrip("^").split(":")[0] in names for text in node.input), node
    expected = simulate.run(graph_def, ["t"], {"x": X})
    actual = simulate.run(simulate.inline_clusters(result.graph_def), ["t"], {"x": X})
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-6)


def test_validate_names_what_is_wrong():
    graph_def = _const_behind_a_control_edge()
    assert encapsulate.validate(graph_def) is None
    dangling = graph_pb2.GraphDef()
    dangling.CopyFrom(graph_def)
    dangling.node[-1].input.append("^gone")
    assert "dangling input '^gone'" in encapsulate.validate(dangling)
    bad_port = graph_pb2.GraphDef()
    bad_port.CopyFrom(graph_def)
    bad_port.node[-1].input[0] = "m:1"
    assert "reads output 1 of 'm'" in encapsulate.validate(bad_port)
    # y = a * Exit feeding the loop's Enter: no cycle without back edges, but y waits for
    # the loop and the loop (its first iteration) for y
    looped = _loop_with_a_dead_end_enter()
    for node in looped.node:
        if node.name == "enter_a":
            node.input[0] = "y"
    assert "waits for itself through a loop" in encapsulate.validate(looped)


def _silu_one_hot_loop():
    @tf.function
    def fn(x):
        def body(i, h):
            for _ in range(3):
                h = tf.tanh(h) * 1.5 + 0.1
            h = tf.nn.silu(h) + tf.one_hot(tf.argmax(h, -1), 8)
            for _ in range(3):
                h = tf.tanh(h) * 1.5 + 0.1
            return i + 1, h
        return tf.while_loop(lambda i, h: i < 4, body, (0, x))[1]
    return fn


def test_loop_body_with_a_folded_constant_runs_on_the_device(device_only):
    """keras_hub MoE generate's pattern: silu + one_hot(argmax) in a while body. TF folds
    silu's `beta * x` (beta = 1) into `x` plus `^beta`; the rewrite must keep TF's answer,
    and run on the device (it used to be discarded by TF: 0 device runs)."""
    expected, actual, stats = _stock_and_ovtf(_silu_one_hot_loop, X)
    _assert_same(actual, expected)
    assert stats["fallbacks"] == 0 and stats["graphs_rewritten"] >= 1, stats
    assert stats["device_executions"] >= 4, stats   # at least one cluster per iteration
    assert "invalid_rewrite" not in stats["left_alone_reasons"], stats


def test_a_rewrite_that_does_not_validate_is_discarded_and_counted(device_only, monkeypatch,
                                                                     caplog):
    """Whatever goes wrong in encapsulation, TF never gets a graph it would throw away, and
    ovtf.stats() does not count clusters that would never run."""
    real = encapsulate.rewrite_graph

    def broken(view, built, keep):
        graph_def = real(view, built, keep)
        for node in graph_def.node:
            if node.op == "OVTFCluster":
                node.input.append("^no_such_node")
        return graph_def

    monkeypatch.setattr(encapsulate, "rewrite_graph", broken)
    with caplog.at_level("WARNING", logger="ovtf"):
        expected, actual, stats = _stock_and_ovtf(_silu_one_hot_loop, X)
    _assert_same(actual, expected)
    assert stats["graphs_rewritten"] == 0 and stats["clusters"] == 0, stats
    assert stats["cluster_executions"] == 0 and stats["ops_clustered"] == 0, stats
    assert stats["left_alone_reasons"].get("invalid_rewrite", 0) >= 1, stats
    assert "discarding an invalid rewrite" in caplog.text and "no_such_node" in caplog.text
    result = partitioner.rewrite(_const_behind_a_control_edge(), ["t"], ["t"], support=SUPPORT,
                                 min_cluster_size=1)
    assert result.graph_def is None
    assert result.report.left_alone_reason == report_module.INVALID_REWRITE
    assert "no_such_node" in result.report.left_alone_detail


# --- 3. Session feeds ----------------------------------------------------------------------------

def _session_runs(build, runs):
    """`build()` -> dict of named tensors; `runs`: [(fetch name, {name: fed value})]. Each run
    with ovtf off, then (a fresh graph and session) on -> (stock answers, ovtf answers, stats)."""
    answers = []
    for enabled in (False, True):
        (ovtf.enable if enabled else ovtf.disable)()
        ovtf.reset_stats()
        graph = tf.Graph()
        with graph.as_default():
            tensors = build()
            with tf.compat.v1.Session(graph=graph) as session:
                answers.append([session.run(tensors[fetch],
                                            {tensors[k]: v for k, v in feeds.items()})
                                for fetch, feeds in runs])
    return answers[0], answers[1], ovtf.stats()


def _const_chain():
    c = tf.constant(1.0, shape=[3], name="c")
    b = tf.add(c * 2.0, 1.0, name="b")
    return {"c": c, "b": b, "y": tf.reduce_sum(tf.nn.relu(b) - 1.0, name="y")}


def test_a_fed_constant_is_used(device_only):
    runs = [("y", {"c": np.array([1.0, 0.0, 0.0], np.float32)}), ("y", {})]
    expected, actual, stats = _session_runs(_const_chain, runs)
    assert [float(v) for v in expected] == [2.0, 6.0]
    assert [float(v) for v in actual] == [2.0, 6.0]   # the fed run gave 6.0
    # (TF folds the unfed run's graph to a constant: only the fed run has a cluster)
    assert stats["fallbacks"] == 0 and stats["device_executions"] >= 1, stats


def test_a_fed_intermediate_is_used(device_only):
    runs = [("y", {"b": np.array([-1.0, 3.0, 0.5], np.float32)})]
    expected, actual, stats = _session_runs(_const_chain, runs)
    assert float(expected[0]) == float(actual[0]) == 0.5
    assert stats["fallbacks"] == 0 and stats["device_executions"] >= 1, stats


def test_a_fed_constant_static_input_is_baked_per_value(device_only):
    """A fed integer Const in a static position (Reshape's shape): the cluster reads it as an
    input and the runtime compiles per value; never the Const's own value."""
    def build():
        x = tf.compat.v1.placeholder(tf.float32, (4, 6), name="x")
        shape = tf.constant([2, 12], name="shape")
        y = tf.tanh(tf.reshape(tf.sin(x) * 2.0, shape)) + 1.0
        return {"x": x, "shape": shape, "y": y}

    x = RNG.uniform(-1, 1, (4, 6)).astype(np.float32)
    runs = [("y", {"x": x, "shape": np.array([3, 8], np.int32)}), ("y", {"x": x})]
    expected, actual, stats = _session_runs(build, runs)
    assert [v.shape for v in expected] == [(3, 8), (2, 12)]
    for got, want in zip(actual, expected):
        _assert_same(got, want)
    assert stats["fallbacks"] == 0 and stats["device_executions"] >= 2, stats


def test_a_pinned_const_is_a_cluster_input():
    graph = tf.Graph()
    with graph.as_default():
        _const_chain()
    graph_def = graph.as_graph_def()
    result = partitioner.rewrite(graph_def, ["y"], ["c", "y"], support=SUPPORT,
                                 min_cluster_size=1)
    view = GraphView(result.graph_def)
    (cluster,) = [n for n in result.graph_def.node if n.op == "OVTFCluster"]
    assert "c" in view.nodes and "c" in [src for src, _ in view.data_inputs[cluster.name]]
    sub = graph_pb2.GraphDef.FromString(cluster.attr["cluster_graph"].s)
    assert "c" not in {node.name for node in sub.node}


def test_a_pinned_const_in_a_static_position_keeps_its_consumer_in_tf():
    """Without a runtime that bakes outside integers (the mock support), a Reshape whose
    shape Const may be fed cannot compile that shape in: it stays in TF."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (4, 6), name="x")
        shape = tf.constant([2, 12], name="shape")
        r = tf.reshape(tf.sin(x, name="s") * 2.0, shape, name="r")
        tf.tanh(r, name="t")
    graph_def = graph.as_graph_def()
    pinned = partitioner.explain(graph_def, ["t"], ["shape", "t"], support=SUPPORT,
                                 min_cluster_size=1)
    assert pinned.cluster_of("r") is None and pinned.placement["r"].reason == "STATIC_INPUT"
    unpinned = partitioner.explain(graph_def, ["t"], ["t"], support=SUPPORT, min_cluster_size=1)
    assert unpinned.cluster_of("r") == unpinned.cluster_of("s") == unpinned.cluster_of("t")
