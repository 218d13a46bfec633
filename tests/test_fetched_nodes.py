"""Fetched nodes run on the device: a TF1 Session fetching a compute node, a fetched
intermediate, multi-output nodes and `:1` fetches, and a fed intermediate (which keeps the
fed value), each equal to stock TensorFlow with placement asserted."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import ovtf

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def small_clusters():
    ovtf.set_min_cluster_size(1)
    ovtf.disable_dynamic_fallback()
    yield


def _run(build, fetch_names, feeds_of):
    """Run the graph `build()` makes with ovtf on and off; -> (ovtf results, stock, stats)."""
    results = []
    for enabled in (False, True):
        (ovtf.enable if enabled else ovtf.disable)()
        ovtf.reset_stats()
        graph = tf.Graph()
        with graph.as_default():
            tensors = build()
            with tf.compat.v1.Session(graph=graph) as session:
                feeds = {tensors[name]: value for name, value in feeds_of.items()}
                results.append(session.run([tensors[name] for name in fetch_names], feeds))
    return results[1], results[0], ovtf.stats()


def _assert_same(actual, expected):
    for got, want in zip(actual, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


X = RNG.uniform(0.5, 1.5, (3, 4)).astype(np.float32)


def test_single_fetched_op_runs_on_the_device():
    """`sess.run(tf.abs(x))`: the fetched node is the compute node. (TF's grappler skips
    graphs under 4 nodes altogether, so the graph carries two more placeholders.)"""
    def build():
        x = tf.compat.v1.placeholder(tf.float32, (3, 4), name="x")
        tf.compat.v1.placeholder(tf.float32, (3, 4), name="unused_1")
        tf.compat.v1.placeholder(tf.float32, (3, 4), name="unused_2")
        return {"x": x, "y": tf.abs(x, name="y")}

    actual, expected, stats = _run(build, ["y"], {"x": -X})
    _assert_same(actual, expected)
    assert stats["ops_clustered"] == stats["ops_total"] == 1, stats
    assert stats["device_executions"] == 1, stats


def test_fetched_intermediate_leaves_one_cluster():
    def build():
        x = tf.compat.v1.placeholder(tf.float32, (3, 4), name="x")
        a = tf.sin(x, name="a")
        b = tf.multiply(a, 2.0, name="b")
        c = tf.exp(b, name="c")
        return {"x": x, "b": b, "c": c}

    actual, expected, stats = _run(build, ["b", "c"], {"x": X})
    _assert_same(actual, expected)
    assert stats["clusters"] == 1 and stats["ops_clustered"] == stats["ops_total"] == 3, stats
    assert stats["device_executions"] == 1


def test_multi_output_fetch_and_port_one():
    def build():
        x = tf.compat.v1.placeholder(tf.float32, (3, 4), name="x")
        first, second = tf.split(tf.nn.relu(x), 2, axis=1, name="split")
        values, indices = tf.math.top_k(x * 3.0, k=2, name="topk")
        return {"x": x, "first": first, "second": second, "values": values,
                "indices": indices}

    actual, expected, stats = _run(build, ["second", "first", "indices"], {"x": X})
    _assert_same(actual, expected)
    assert stats["ops_clustered"] == stats["ops_total"], stats
    assert stats["fallbacks"] == 0 and stats["device_executions"] >= 1


def test_fed_intermediate_takes_the_fed_value():
    fed = RNG.uniform(-1, 1, (3, 4)).astype(np.float32)

    def build():
        x = tf.compat.v1.placeholder(tf.float32, (3, 4), name="x")
        a = tf.sin(x, name="a")
        b = tf.multiply(a, 2.0, name="b")
        c = tf.exp(tf.cos(b, name="cos"), name="c")
        return {"x": x, "a": a, "b": b, "c": c}

    actual, expected, stats = _run(build, ["c"], {"x": X, "b": fed})
    _assert_same(actual, expected)
    np.testing.assert_allclose(actual[0], np.exp(np.cos(fed)), rtol=1e-5)
    assert stats["ops_clustered"] >= 2 and stats["device_executions"] >= 1, stats


def test_clusters_of_two_runs_in_one_session_never_share_a_kernel():
    """A TF1 Session keeps one kernel per stateful node name across the graphs of its
    runs; two different clusters that were both named ovtf_cluster_0 once answered the
    second run with the first cluster's result (found by OVTF's own conv3d test)."""
    from tensorflow.core.protobuf import rewriter_config_pb2

    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.constant_folding = rewriter_config_pb2.RewriterConfig.OFF
    config.graph_options.rewrite_options.min_graph_nodes = -1
    x1 = np.arange(1, 181, dtype=np.float32).reshape(10, 2, 3, 1, 3)
    w = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 1, 3, 3)
    graph = tf.Graph()
    with graph.as_default():
        conv1 = tf.nn.conv3d(x1, w, strides=[1] * 5, padding="VALID")
        conv2 = tf.nn.conv3d(x1.reshape(2, 5, 2, 3, 1, 3), w, strides=[1] * 5, padding="VALID")
        with tf.compat.v1.Session(graph=graph, config=config) as session:
            first, second = session.run(conv1), session.run(conv2)
    assert first.shape == (10, 2, 3, 1, 3) and second.shape == (2, 5, 2, 3, 1, 3)
    np.testing.assert_allclose(second.reshape(first.shape), first, rtol=1e-6)
    assert ovtf.stats()["clusters"] == 2 and ovtf.stats()["device_executions"] == 2
