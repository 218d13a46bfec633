"""Issues 18 and 23, what was left: TF kernel-test failures and compile failures on valid
graphs, each computed on the device now or kept in TensorFlow with a reason.

Every case runs against stock TensorFlow on the same inputs (`test_ops._run_function`: ovtf
disabled, then enabled with fallback off and min cluster size 1, grappler's folding passes
off so the op under test reaches ovtf) and asserts where the op ran.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from test_ops import (PLAIN_GRAPPLER, _on_device, _run_function, assert_same,  # noqa: F401
                      grappler_options, reports)

RNG = np.random.default_rng(23)



# --- SplitV with computed size_splits (TF's ConcatOpTest.testGradientsRandom) ---------------

def test_split_v_with_computed_sizes_on_device(reports, grappler_options):
    """A concat gradient splits by sizes computed as Squeeze(Slice(Pack(shapes))): the
    frontend made a one-output split and the import failed ("input_outputs_vector.size() >
    producer_port_idx"); the sizes now go through a Reshape to [num_split]."""
    def fn(a, b, c):
        shapes = tf.stack([tf.shape(a), tf.shape(b), tf.shape(c)])
        sizes = tf.squeeze(tf.slice(shapes, [0, 1], [3, 1]))
        whole = tf.concat([a, b, c], 1) * 2.0
        parts = tf.split(whole, sizes, axis=1, num=3)
        return tf.concat([parts[2], parts[0], parts[1]], 1)

    inputs = [RNG.standard_normal((2, n)).astype(np.float32) for n in (3, 1, 4)]
    _on_device(fn, inputs, "SplitV", reports, grappler_options)


# --- a compile the CPU plugin's snippets refuse (TF's BinaryOpTest.testFloatDifferentShapes) --

def test_atan2_with_a_constant_compiles_on_device(reports, grappler_options):
    """The exact Atan2 lowering between a broadcast input and a constant is one long
    element-wise chain; the CPU plugin's snippets ran out of vector registers on it ("Can't
    allocate registers for a snippet") and the cluster failed to compile. The backend compiles
    such a model again with snippets off (seen on AVX2; with more registers it compiles as is)."""
    constant = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    inputs = [np.array([[1.0], [2.0]], np.float32)]
    _on_device(lambda y: tf.math.atan2(y, tf.constant(constant)) * 2.0, inputs, "Atan2",
               reports, grappler_options)


# --- 32-bit integers OpenVINO computes through f32 --------------------------------------------

@pytest.mark.parametrize("name, fn", [
    ("clip", lambda x, y: tf.clip_by_value(x * 1, -100000003, 100000005)),
    ("sum", lambda x, y: tf.reduce_sum(x * 1, 1)), ("mean", lambda x, y: tf.reduce_mean(x * 1, 1)),
    ("max", lambda x, y: tf.reduce_max(x * 1, 1)), ("floordiv", lambda x, y: x * 1 // y),
    ("floormod", lambda x, y: x * 1 % y), ("truncatediv", lambda x, y: tf.truncatediv(x * 1, y)),
    ("truncatemod", lambda x, y: tf.truncatemod(x * 1, y)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_int32_beyond_f32_stays_in_tf(name, fn, reports, grappler_options):
    """OpenVINO's CPU clips, reduces and divides int32 through f32: reduce_max of 100000007
    was 100000008, 2^30 // 3 was 357913952. Values
    not provably within +-2^24 keep those ops in TF (reason RANGE); `x * 1` stays on the
    device."""
    a = np.array([[16777217, 1, 3, 100000007], [2 ** 30, 2 ** 30 - 1, -5, 7]], np.int32)
    b = np.array([[16777216, 16777219, 7, 100000008], [3, 5, 2, -3]], np.int32)
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(fn, (a, b), reports)
    np.testing.assert_array_equal(actual, expected)
    assert ovtf.stats()["device_executions"] >= 1            # the Mul
    left = [(p.op, p.reason) for r in reports.items for p in r.placement.values()
            if p.cluster is None]
    assert any(reason == "RANGE" for _, reason in left), left


@pytest.mark.parametrize("op", ["Equal", "NotEqual", "Less", "LessEqual", "Greater",
                                "GreaterEqual"])
def test_int32_comparisons_exact_on_the_device(op, reports, grappler_options):
    """16777217 == 16777216 was true (OpenVINO compares int32 through f32). The lowering
    compares a - b with 0 (the sign survives f32; Sub wraps exactly), by sign where a - b
    could overflow: exact over the whole int32 range, on the device."""
    values = np.array([0, 1, -1, 16777216, 16777217, -16777217, 2 ** 31 - 1, -2 ** 31, 2 ** 30,
                       -2 ** 30, 100000007, 100000008], np.int32)
    a, b = (t.ravel() for t in np.meshgrid(values, values))
    _on_device(lambda x, y: getattr(tf.raw_ops, op)(x=x * 1, y=y * 1), (a, b), op, reports,
               grappler_options)


# --- Log1p and Expm1 near 0 (fuzzer seed 400092) ----------------------------------------------

_NEAR_ZERO = np.array([-0.0, 0.0, 1e-8, -1e-30, 3e-5, -3e-5, 1e-3, -0.5, 0.7, -1.0, -2.0, 20.0,
                       88.8, 1e30, np.inf, -np.inf, np.nan], np.float32)


@pytest.mark.parametrize("op", ["Log1p", "Expm1"])
def test_log1p_expm1_keep_small_values(op, reports, grappler_options):
    """The frontend computed log1p as log(1 + x) and expm1 as exp(x) - 1: every x below an ulp
    of 1 came out 0 (log1p(1e-8), TF 1e-8), 3e-5 was 1.3e-3 off relatively, -0 lost its sign
    (atan2 downstream then gave 0 for pi) and expm1(NaN) was +inf. Relative, not absolute,
    agreement is asserted, signs of zeros included."""
    fn = getattr(tf.raw_ops, op)
    actual, expected = _on_device(lambda v: fn(x=tf.raw_ops.Neg(x=tf.raw_ops.Neg(x=v))),
                                  (_NEAR_ZERO,), op, reports, grappler_options)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(actual[0], expected[0], rtol=1e-6, atol=0, equal_nan=True)
    np.testing.assert_array_equal(np.signbit(actual[0]), np.signbit(expected[0]))


def test_xlog1py_keeps_small_values(reports, grappler_options):
    """xlog1py(2, 1e-8) was 0 (TF 2e-8): the frontend's log(1 + y), as for Log1p; 0 where x
    is 0 whatever y is."""
    x = np.array([2.0, 2.0, -3.0, 2.0, 0.0, 0.0, 0.0, 3.0], np.float32)
    y = np.array([1e-8, 3e-5, -1e-20, -0.5, 0.0, -1.0, np.nan, np.inf], np.float32)
    actual, expected = _on_device(
        lambda a, b: tf.raw_ops.Xlog1py(x=tf.raw_ops.Neg(x=tf.raw_ops.Neg(x=a)), y=b),
        (x, y), "Xlog1py", reports, grappler_options)
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-6, atol=0, equal_nan=True)


@pytest.mark.parametrize("op", ["Elu", "Selu"])
def test_elu_selu_keep_the_sign_of_zero(op, reports, grappler_options):
    """TF's elu(-0) is -0 (a zero input is returned as it is); OpenVINO's was +0, so
    atan2(elu(x), elu(x)) gave 0 where TF gives -pi (the fuzzer's seed 400399)."""
    fn = getattr(tf.raw_ops, op)
    x = np.array([-0.0, 0.0, -1e-3, 0.5, -20.0, np.nan, -np.inf, np.inf], np.float32)

    def program(v):
        y = fn(features=tf.raw_ops.Neg(x=tf.raw_ops.Neg(x=v)))
        return y, tf.raw_ops.Atan2(y=y, x=y)
    actual, expected = _on_device(program, (x,), op, reports, grappler_options)
    np.testing.assert_array_equal(np.signbit(actual[0]), np.signbit(expected[0]))
