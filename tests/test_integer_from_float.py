"""Integer results of float math, and large additive masks: exactly TF's answers (issue 12).

A keras_hub T5Backbone differed from stock TF by 5.6e-4 relative. The suspected cause, the
relative-position buckets (an integer computed from log / divide / multiply and a cast), is
exact in OpenVINO: `test_relative_position_buckets_exact` checks every bucket for thousands
of relative positions, computed at run time and constant-folded. The actual cause is the
CPU plugin's linear-op fusion folding an attention mask's -1e9 into the (constant) position
bias (`ovtf.ocm.linear_fusion` explains it); `test_t5_attention_with_mask_matches_tf` is the
T5-style block, `test_openvino_alone_still_folds_the_mask` notices when OpenVINO stops
doing that (then the barrier can go). The same barrier keeps any constant chain in TF's
order: `test_constant_chain_rounds_as_tf_computes_it` is TF's own gradient check of
`1.1 * (x * y)` (`cwise_ops_binary_test.testFloatBasic`).
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_ops import Case, check_case, grappler_options, reports  # noqa: E402,F401
from test_never_wrong_ops import _TF1_SESSION  # noqa: E402

raw = tf.raw_ops
RNG = np.random.default_rng(12)


def relative_position_bucket(relative, bidirectional, num_buckets=32, max_distance=128):
    """T5's bucketing, written from its definition: exact buckets for small distances, then
    logarithmically wider ones up to max_distance; an int32 tensor in [0, num_buckets)."""
    result = tf.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        result += tf.cast(relative > 0, tf.int32) * num_buckets
        distance = tf.abs(relative)
    else:
        distance = -tf.minimum(relative, 0)
    exact = num_buckets // 2
    log_ratio = tf.math.log(tf.cast(distance, tf.float32) / tf.cast(exact, tf.float32))
    scale = tf.cast(tf.math.log(float(max_distance) / exact), tf.float32)
    wide = exact + tf.cast(log_ratio / scale * float(num_buckets - exact), tf.int32)
    wide = tf.minimum(wide, num_buckets - 1)
    return result + tf.where(distance < exact, distance, wide)


@pytest.mark.parametrize("bidirectional,num_buckets,max_distance",
                         [(True, 32, 128), (False, 32, 128), (True, 64, 300), (False, 16, 50)])
def test_relative_position_buckets_exact(bidirectional, num_buckets, max_distance, reports,
                                         grappler_options):
    """Runtime positions: every bucket for relative positions -1100..1099 equals TF's."""
    def buckets(relative):
        return relative_position_bucket(relative, bidirectional, num_buckets, max_distance)

    relative = np.arange(-1100, 1100, dtype=np.int32)
    check_case(Case("Log", buckets, (relative,), "buckets"), reports, grappler_options)
    for op in ("Cast", "RealDiv", "Mul", "Minimum"):
        inside, outside = reports.clustered(op)
        assert inside >= 1 and outside == 0, (op, inside, outside)
    # the buckets' int32 selects stay in TF (integer Select/SelectV2: ovtf/ocm/math_ops.py)
    inside, outside = reports.clustered("SelectV2")
    assert inside == 0 and outside >= 1, ("SelectV2", inside, outside)


def test_relative_position_buckets_from_shapes_exact(reports, grappler_options):
    """Positions from the shape (as T5 computes them): OpenVINO constant-folds the buckets."""
    def bias(x, table):
        length = tf.shape(x)[1]
        positions = raw.Range(start=0, limit=length, delta=1)
        relative = positions[None, :] - positions[:, None]
        index = relative_position_bucket(relative, bidirectional=True)
        return raw.GatherV2(params=table, indices=index, axis=0) + x[0, :, :, None]

    table = np.arange(32 * 2, dtype=np.float32).reshape(32, 2)  # bucket b -> 2b, 2b+1
    check_case(Case("Log", bias, (np.zeros((1, 300, 300), np.float32), table), "from_shape"),
               reports, grappler_options)
    _gather_stays_in_tf(reports)


def _gather_stays_in_tf(reports):
    """Bucket indices come from a float -> int cast: not provably within the table, so the
    gather runs in TF, which raises for a bad index (`ovtf.ocm.ranges`, issue 18)."""
    inside, outside = reports.clustered("GatherV2")
    assert inside == 0 and outside >= 1, (inside, outside)
    assert {reason for reason, _ in reports.outside_reasons("GatherV2")} == {"RANGE"}


def _t5_attention(bidirectional, table):
    """Scores + relative-position bias + padding mask, softmax, values (T5's self-attention
    without the projections). `table` is a constant, as a model's weights are to OpenVINO."""
    def block(query, key, value, mask):
        length = tf.shape(query)[2]
        positions = tf.range(length)
        relative = positions[None, :] - positions[:, None]
        index = relative_position_bucket(relative, bidirectional)
        bias = tf.transpose(tf.gather(tf.constant(table), index), [2, 0, 1])[None]  # (1, h, q, k)
        bias = bias + (1.0 - tf.cast(mask[:, None, None, :], tf.float32)) * -1e9
        scores = tf.einsum("bhqd,bhkd->bhqk", query, key) + bias
        return tf.einsum("bhqk,bhkd->bhqd", tf.nn.softmax(scores, -1), value)
    return block


def _attention_inputs(length=40, heads=4, depth=8):
    mask = np.ones((2, length), np.int32)
    mask[1, -7:] = 0
    return (RNG.normal(size=(2, heads, length, depth)).astype(np.float32),
            RNG.normal(size=(2, heads, length, depth)).astype(np.float32),
            RNG.normal(size=(2, heads, length, depth)).astype(np.float32), mask)


@pytest.mark.parametrize("bidirectional", [True, False], ids=["encoder", "decoder"])
def test_t5_attention_with_mask_matches_tf(bidirectional, reports, grappler_options):
    table = RNG.normal(0, 1.0, (32, 4)).astype(np.float32)
    stats = check_case(Case("Mul", _t5_attention(bidirectional, table), _attention_inputs(), "t5"),
                       reports, grappler_options)
    for op in ("Log", "Cast", "Softmax", "Einsum", "Sub"):
        inside, outside = reports.clustered(op)
        assert inside >= 1 and outside == 0, (op, inside, outside, stats)
    _gather_stays_in_tf(reports)


@pytest.mark.parametrize("spelling", ["one_minus_mask_times", "mask_times_minus"])
def test_mask_pattern_small_graph_matches_tf(spelling, reports, grappler_options):
    """The pattern alone: softmax(scores + (constant + (1 - mask) * -1e9)), and the
    mask * 1e9 - 1e9 spelling (softmax: the comparison is not dominated by the -1e9s)."""
    bias = RNG.normal(size=(1, 4, 6, 6)).astype(np.float32)

    def masked(scores, mask):
        open_ = tf.cast(mask, tf.float32)
        if spelling == "one_minus_mask_times":
            offset = raw.Mul(x=raw.Sub(x=1.0, y=open_), y=-1e9)
        else:
            offset = raw.Sub(x=raw.Mul(x=open_, y=1e9), y=1e9)
        return raw.Softmax(logits=scores + (tf.constant(bias) + offset))

    mask = np.ones((2, 1, 1, 6), np.int32)
    mask[0, ..., -2:] = 0
    op = "Mul" if spelling == "one_minus_mask_times" else "Sub"
    check_case(Case(op, masked, (RNG.normal(size=(2, 4, 6, 6)).astype(np.float32), mask), spelling),
               reports, grappler_options)


def test_barrier_only_where_a_fusion_would_regroup_constants():
    from ovtf.ocm import linear_fusion
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [3], name="x")
        raw.Mul(x=raw.Sub(x=1.0, y=x), y=-1e9, name="mask")
        raw.Mul(x=raw.Sub(x=1.0, y=x), y=-0.5, name="small_factor")
        raw.Mul(x=x, y=-1e9, name="no_offset")
        raw.AddV2(x=x, y=-1e4, name="big_offset")
        raw.AddV2(x=x, y=tf.constant([0.0, -1e9, 0.0]), name="mixed_offsets")
        raw.Mul(x=tf.cast(x, tf.int32) - 1, y=100000, name="integer")
        raw.Mul(x=1.1, y=raw.Mul(x=x, y=tf.constant([2.0, 3.0, 4.0])), name="chain")
        raw.AddV2(x=raw.Mul(x=x, y=2.0), y=3.0, name="multiply_add")   # already canonical
        raw.Mul(x=raw.Mul(x=x, y=x), y=3.0, name="no_inner_constant")
    nodes = {node.name: node for node in graph.as_graph_def().node}
    names = ("mask", "small_factor", "no_offset", "big_offset", "mixed_offsets", "integer",
             "chain", "multiply_add", "no_inner_constant")
    lowered = {name: linear_fusion.lower_fusion_barrier(nodes[name], nodes) for name in names}
    assert {name for name, result in lowered.items() if result is not None} == {
        "mask", "small_factor", "big_offset", "chain"}
    # a large offset: a barrier after the node (whatever reads it)
    inner, barrier = lowered["big_offset"].nodes
    assert barrier.name == "big_offset" and barrier.op == "Minimum"
    assert list(barrier.input) == [inner.name, inner.name] and inner.op == "AddV2"
    # a chain: the inner op read through a barrier, the node keeps its name
    guard, chain = lowered["chain"].nodes
    assert guard.op == "Minimum" and list(guard.input) == [nodes["chain"].input[1]] * 2
    assert chain.name == "chain" and list(chain.input) == [nodes["chain"].input[0], guard.name]
    # both at once
    assert [node.op for node in lowered["mask"].nodes] == ["Minimum", "Mul", "Minimum"]


_CONSTANT_CHAIN = _TF1_SESSION + """
x = np.linspace(-5, 20, 15).reshape(1, 3, 5).astype(np.float32)
y = np.linspace(20, -5, 15).reshape(1, 3, 5).astype(np.float32)
graph = tf.Graph()
with graph.as_default():
    fed = tf.constant(x)
    out = 1.1 * (fed * tf.constant(y))
    with tf.compat.v1.Session(config=config) as session:
        values = [session.run(out, {fed: x + step}).tolist() for step in (0.0, 1e-3, -1e-3)]
print(json.dumps({"values": values, "device": ovtf.stats()["device_executions"]}))
"""


def test_constant_chain_rounds_as_tf_computes_it(fresh_process):
    """TF's gradient check of Mul (`testFloatBasic`) runs its sessions with grappler's constant
    folding off, so TF computes 1.1 * (x * y) in that order; OpenVINO regrouped it as
    x * (1.1 * y), and the finite difference magnified the ulp past the test's tolerance."""
    x = np.linspace(-5, 20, 15).reshape(1, 3, 5).astype(np.float32)
    y = np.linspace(20, -5, 15).reshape(1, 3, 5).astype(np.float32)
    tf_order = [np.float32(1.1) * ((x + np.float32(step)) * y) for step in (0.0, 1e-3, -1e-3)]
    regrouped = [(x + np.float32(step)) * (np.float32(1.1) * y) for step in (0.0, 1e-3, -1e-3)]
    assert any(np.any(a != b) for a, b in zip(tf_order, regrouped))  # the test can fail
    result = fresh_process(_CONSTANT_CHAIN)
    assert result["device"] == 3
    for got, expected in zip(result["values"], tf_order):
        np.testing.assert_array_equal(np.asarray(got, np.float32), expected)


def test_openvino_alone_still_folds_the_mask():
    """Without ovtf's barrier OpenVINO 2026.4 loses the bias (error ~ the bias itself). When
    this fails OpenVINO computes the pattern exactly: the barrier in math_ops can go."""
    ov = pytest.importorskip("openvino")
    bias = RNG.normal(size=(1, 4, 8, 8)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([2, 4, 8, 8], tf.float32),
                                  tf.TensorSpec([2, 1, 1, 8], tf.int32)])
    def masked(scores, mask):
        return scores + (tf.constant(bias) + (1.0 - tf.cast(mask, tf.float32)) * -1e9)

    scores = RNG.normal(size=(2, 4, 8, 8)).astype(np.float32)
    mask = np.ones((2, 1, 1, 8), np.int32)
    expected = masked(scores, mask).numpy()
    compiled = ov.Core().compile_model(ov.convert_model(masked.get_concrete_function()), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    error = float(np.max(np.abs(compiled([scores, mask])[0] - expected)))
    assert error > 0.1 * float(np.max(np.abs(bias))), (
        f"OpenVINO now keeps the bias (error {error:.3g}): the fusion barrier may be removable")
    assert math.isfinite(error)
