"""Property test: random DAGs of supported and unsupported ops partition correctly.

For each random graph: the rewritten graph is acyclic (TF imports and runs it), every
marked node is in at most one cluster, clusters never contain unmarked nodes, and running
it (clusters inlined again, tests/graphs/simulate.py) gives the same outputs as the original.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st

from ovtf import partitioner
from ovtf.partitioner.graph import GraphView
from ovtf import spec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphs import simulate  # noqa: E402
from graphs.mock_support import MockSupport  # noqa: E402

SUPPORT = MockSupport(unsupported=("Lgamma", "Atan2"))

SUPPORTED_UNARY = ("Relu", "Sin", "Tanh", "Neg")
UNSUPPORTED_UNARY = ("Lgamma",)


@st.composite
def dags(draw):
    size = draw(st.integers(min_value=2, max_value=14))
    nodes = []
    for i in range(size):
        binary = i >= 1 and draw(st.booleans())
        supported = draw(st.integers(0, 3)) > 0
        first = draw(st.integers(-1, i - 1))
        second = draw(st.integers(-1, i - 1)) if binary else None
        control = draw(st.integers(-1, i - 1)) if i and draw(st.integers(0, 5)) == 0 else None
        op = ("AddV2" if supported else "Atan2") if binary else draw(
            st.sampled_from(SUPPORTED_UNARY if supported else UNSUPPORTED_UNARY))
        nodes.append((op, first, second, control))
    fetch = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3, unique=True))
    min_size = draw(st.integers(1, 3))
    return nodes, fetch, min_size


def _build(nodes):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (2, 3), name="x")
        made = []
        for i, (op, first, second, control) in enumerate(nodes):
            a = x if first < 0 else made[first]
            deps = [made[control].op] if control is not None and control >= 0 else []
            with tf.control_dependencies(deps):
                if second is None:
                    made.append(getattr(tf.raw_ops, op)(x=a, name=f"n{i}") if op != "Relu"
                                else tf.raw_ops.Relu(features=a, name=f"n{i}"))
                else:
                    b = x if second < 0 else made[second]
                    made.append(getattr(tf.raw_ops, op)(x=a, y=b, name=f"n{i}"))
    return graph.as_graph_def()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_random_dags(case):
    nodes, fetch_ids, min_size = case
    graph_def = _build(nodes)
    fetch = [f"n{i}" for i in fetch_ids]
    result = partitioner.rewrite(graph_def, fetch, [], support=SUPPORT, min_cluster_size=min_size)
    if result.graph_def is None:
        return
    report = result.report
    marked = {n.name for n in graph_def.node if n.op in ("Relu", "Sin", "Tanh", "Neg", "AddV2")}
    seen = set()
    for cluster in report.clusters:
        members = set(cluster.members)
        assert members <= marked                      # only marked nodes
        assert not members & seen                     # at most one cluster each
        assert cluster.size >= min_size
        seen |= members
    view = GraphView(result.graph_def)
    assert view.topological_order() is not None      # acyclic, no dangling inputs
    assert set(fetch) <= set(view.nodes)              # fetched names still answer
    assert sum(n.op == spec.CLUSTER_OP for n in result.graph_def.node) == len(report.clusters)
    assert report.ops_clustered == len(seen)
    feeds = {"x": np.random.default_rng(len(nodes)).uniform(0.5, 1.5, (2, 3)).astype(np.float32)}
    expected = simulate.run(graph_def, fetch, feeds)
    actual = simulate.run(simulate.inline_clusters(result.graph_def), fetch, feeds)
    for want, got in zip(expected, actual):
        np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    assert partitioner.rewrite(result.graph_def, fetch, [], support=SUPPORT,
                               min_cluster_size=min_size).graph_def is None
