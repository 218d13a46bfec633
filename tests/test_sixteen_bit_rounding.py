"""16-bit floats keep TF's rounding (issue 23, "f16/bf16 intermediates computed in f32").

TF rounds every op's f16/bf16 result. OpenVINO's CPU plugin computes a 16-bit graph in f32
from end to end and drops even an explicit Cast to f16/bf16 inside a cluster, so
`cast(cast(x*3, f16), f32) - x*3` was 0 (TF: the rounding error) and `h*h` of f16 60000
stayed finite (TF: inf). `ovtf.ocm.rules.SixteenBitRounding` keeps every op that rounds to a
16-bit float in TF (reason DTYPE), unless it rounds once per element and its result only
leaves the graph; exact 16-bit ops (data movement, selection) and all f32 work stay on the
device.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from ovtf.ocm.support import DTYPE
from test_ops import (PLAIN_GRAPPLER, _run_function, assert_same,  # noqa: F401
                      grappler_options, reports)

VALUES = np.array([6e4, 6e4, -6e4, 1.1, 1 / 3, -0.0, 2049.0, 1e-6], np.float32)
HALVES = [tf.float16, tf.bfloat16]


def _placed(fn, reports, grappler_options):
    """Runs `fn(VALUES)` with and without ovtf (min cluster size 1, fallback off): TF's
    answer (to f32 rounding: OpenVINO may fuse an f32 Mul and Sub into one FMA, far below
    the 16-bit rounding errors asserted here), and {op: [on the device?, ...]}."""
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(fn, (VALUES,), reports)
    for got, want in zip(actual, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=fn.__name__)
    placed = {}
    for report in reports.items:
        for placement in report.placement.values():
            placed.setdefault(placement.op, []).append(
                (placement.cluster is not None, placement.reason))
    return placed


@pytest.mark.parametrize("half", HALVES, ids=lambda d: d.name)
def test_a_cast_to_16_bits_inside_f32_work_rounds(half, reports, grappler_options):
    def cast_round_trip(x):
        return tf.cast(tf.cast(x * 3.0, half), tf.float32) - x * 3.0
    placed = _placed(cast_round_trip, reports, grappler_options)
    assert all(not on and reason == DTYPE for on, reason in placed["Cast"][:1]), placed
    assert any(on for on, _ in placed["Mul"]) and ovtf.stats()["device_executions"] >= 1


@pytest.mark.parametrize("half", HALVES, ids=lambda d: d.name)
def test_16_bit_chains_round_after_each_op(half, reports, grappler_options):
    """f16 60000 squared overflows to inf in TF; computed in f32 it did not."""
    def chain(x):
        h = tf.cast(x, half)
        return tf.cast(h * h + h, tf.float32) * 2.0
    placed = _placed(chain, reports, grappler_options)
    assert [on for on, _ in placed["Mul"] if not on], placed     # the 16-bit Mul stays in TF
    assert ovtf.stats()["device_executions"] >= 1                 # the f32 Mul does not


def test_16_bit_cumsum_overflows_as_in_tf(reports, grappler_options):
    """cumsum of f16 [6e4, 6e4, -6e4] is [6e4, inf, inf] in TF: it accumulates in f16."""
    def cumsum(x):
        return tf.cumsum(tf.cast(x, tf.float16))
    placed = _placed(cumsum, reports, grappler_options)
    assert set(placed["Cumsum"]) == {(False, DTYPE)}, placed


@pytest.mark.parametrize("half", HALVES, ids=lambda d: d.name)
def test_exact_16_bit_ops_and_a_last_rounding_op_stay_on_the_device(half, reports,
                                                                   grappler_options):
    """Data movement and selection round nothing; an element-wise f16 op whose result only
    leaves the cluster is rounded once, on the way out, as TF rounds it (a bf16 one is not:
    the plugin truncates to bf16 there, so it stays in TF)."""
    def program(x):
        h = tf.reverse(tf.maximum(tf.cast(x, half)[None], 0.5), [1])
        return tf.exp(tf.transpose(h))
    placed = _placed(program, reports, grappler_options)
    for op in ("ReverseV2", "Maximum", "Transpose"):
        assert all(on for on, _ in placed[op]), (op, placed)
    assert all(on == (half == tf.float16) for on, _ in placed["Exp"]), placed


def test_a_rounding_op_after_a_16_bit_op_sees_tfs_rounded_value(reports, grappler_options):
    """f16 softplus(0.5413) is 0.99996 in f32 and 1.0 once rounded to f16: floor gives 0 on
    the unrounded value, 1 in TF (the fuzzer's seed 300623). Floor does not commute with the
    rounding at the cluster's edge, so the Softplus before it stays in TF."""
    def program(x):
        return tf.floor(tf.nn.softplus(tf.cast(x, tf.float16) * 0.0 + 0.5413))
    placed = _placed(program, reports, grappler_options)
    assert set(placed["Softplus"]) == {(False, DTYPE)}, placed
