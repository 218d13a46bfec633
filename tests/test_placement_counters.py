"""Graphs ovtf leaves alone are counted and explained: ovtf.stats() and the placement log cover
every graph ovtf is handed, with the reason a graph stayed unchanged (issue 13)."""

from __future__ import annotations

import logging
import os

import pytest
import tensorflow as tf

import ovtf
from ovtf import partitioner
from ovtf.cli import explain_arguments
from ovtf import placement_log

raw = tf.raw_ops


def _chain(x, count):
    """`count` supported compute ops: Sin, Mul, Sin, Mul, ..."""
    for i in range(count):
        x = tf.sin(x) if i % 2 == 0 else x * 1.5
    return x


def _seventeen(x):
    # 10 supported ops, Lgamma (no capability entry), 5 supported ops, Lgamma: 17 ops,
    # 15 supported, clusters of 10 and 5.
    y = _chain(x, 10)
    y = tf.math.lgamma(y)
    y = _chain(y, 5)
    return tf.math.lgamma(y)


def test_headline_for_clusters_below_the_minimum():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        tf.identity(_seventeen(x), name="out")
    report = partitioner.explain(graph.as_graph_def(), ["out"], min_cluster_size=16,
                                 **explain_arguments("CPU"))
    assert report.headline() == ("17 ops, 15 supported, clusters of 10 and 5 below minimum "
                                 "size 16: left in TensorFlow")
    assert report.left_alone_reason == "clusters below minimum size 16"
    assert not report.rewritten and report.small_clusters == [10, 5]
    assert report.format_summary().startswith("ovtf placement: 17 ops, 15 supported")


def test_rewrite_always_returns_a_report():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        tf.identity(_seventeen(x), name="out")
    graph_def = graph.as_graph_def()
    result = partitioner.rewrite(graph_def, ["out"], [], min_cluster_size=16,
                                 **explain_arguments("CPU"))
    assert result.graph_def is None and result.report.ops_total == 17
    result = partitioner.rewrite(graph_def, ["out"], [], min_cluster_size=5,
                                 **explain_arguments("CPU"))
    assert result.graph_def is not None and result.report.left_alone_reason is None
    again = partitioner.rewrite(result.graph_def, ["out"], [], min_cluster_size=5,
                                **explain_arguments("CPU"))
    assert again.graph_def is None and again.report.left_alone_reason == "already rewritten"


def test_left_alone_graph_counted_once_and_logged(caplog):
    ovtf.set_min_cluster_size(16)
    ovtf.start_logging_placement()
    function = tf.function(_seventeen)
    with caplog.at_level(logging.INFO, logger="ovtf"):
        function(tf.ones([2, 3]))
    stats = ovtf.stats()
    assert stats["graphs_rewritten"] == 0
    # TF's optimizer hands the graph over twice; it is one graph
    assert stats["graphs_left_alone"] == 1, stats
    assert stats["left_alone_reasons"] == {"below_min_cluster_size": 1}, stats
    assert stats["ops_total"] >= 15 and stats["ops_clustered"] == 0, stats
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "below minimum size 16: left in TensorFlow" in logged, logged
    assert "clusters of" in logged


def test_nothing_supported_is_a_reason():
    function = tf.function(lambda x: tf.math.lgamma(tf.math.lgamma(tf.math.lgamma(x))))
    function(tf.ones([3]) + 1.0)
    stats = ovtf.stats()
    assert stats["left_alone_reasons"].get("nothing_supported") == 1, stats
    assert stats["ops_total"] >= 3 and stats["ops_marked"] == 0


def test_disabled_graphs_are_counted_too():
    ovtf.disable()
    function = tf.function(lambda x: tf.sin(tf.cos(x) * 2.0) + 1.0)
    function(tf.ones([3]))
    stats = ovtf.stats()
    assert stats["left_alone_reasons"] == {"disabled": 1}, stats
    assert stats["graphs_left_alone"] == 1 and stats["ops_total"] >= 3
    assert stats["graphs_seen"] == 0 and stats["ops_clustered"] == 0


def test_rewritten_graph_counts_as_before():
    function = tf.function(lambda x: tf.sin(tf.cos(x) * 2.0) + 1.0)
    function(tf.ones([3]))
    stats = ovtf.stats()
    assert stats["graphs_rewritten"] == 1 and stats["graphs_left_alone"] == 0, stats
    assert stats["ops_clustered"] == stats["ops_total"] > 0


def test_placement_pictures_per_graph(tmp_path):
    directory = tmp_path / "pictures"
    ovtf.set_placement_html_dir(str(directory))
    try:
        tf.function(lambda x: tf.sin(tf.cos(x) * 2.0) + 1.0)(tf.ones([3]))
    finally:
        ovtf.set_placement_html_dir(None)
    pictures = sorted(os.listdir(directory))
    assert len(pictures) == 1 and pictures[0].endswith(".html"), pictures
    text = (directory / pictures[0]).read_text()
    assert "ovtf_cluster_0" in text and "<svg" in text


def test_bad_picture_dir_is_rejected(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        ovtf.set_placement_html_dir(str(path))


def test_placement_pictures_from_the_environment(tmp_path, fresh_process):

    directory = tmp_path / "env-pictures"
    result = fresh_process("""
        import json, os, tensorflow as tf, ovtf
        tf.function(lambda x: tf.sin(tf.cos(x) * 2.0) + 1.0)(tf.ones([3]))
        print(json.dumps(sorted(os.listdir(os.environ["OVTF_PLACEMENT_HTML_DIR"]))))
    """, env={"OVTF_PLACEMENT_HTML_DIR": str(directory)})
    assert len(result) == 1 and result[0].endswith(".html"), result
