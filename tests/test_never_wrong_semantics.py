"""Issue 23 (wrong axes or parts, NaN semantics): programs OpenVINO answered wrongly with
ordinary values, each now computed exactly on the device.

Every case runs against stock TensorFlow on the same inputs (`test_ops._run_function`:
ovtf disabled, then enabled with fallback off and min cluster size 1, grappler's folding
passes off so the op under test reaches ovtf) and asserts that the op ran on the device.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from test_ops import (PLAIN_GRAPPLER, _on_device, _run_function, assert_same,  # noqa: F401
                      grappler_options, reports)

raw = tf.raw_ops
RNG = np.random.default_rng(23)



# --- transpose sinking: LogSoftmax and Tile --------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -1])
def test_log_softmax_on_any_axis(axis, reports, grappler_options):
    """tf.nn.log_softmax(axis=0) is Transpose + LogSoftmax + Transpose in TF's graph;
    OpenVINO's transpose sinking moved both transposes through LogSoftmax without remapping
    its axis (the axis=-1 answer came back)."""
    x = RNG.normal(size=(3, 2)).astype(np.float32)
    _on_device(lambda v: tf.nn.log_softmax(raw.Neg(x=v), axis=axis), (x,), "LogSoftmax", reports,
               grappler_options)


def test_log_softmax_rank3_middle_axis(reports, grappler_options):
    x = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    _on_device(lambda v: tf.transpose(tf.nn.log_softmax(raw.Neg(x=v), axis=1), [2, 0, 1]), (x,),
               "LogSoftmax", reports, grappler_options)


@pytest.mark.parametrize("perm", [[2, 0, 1], [1, 2, 0], [0, 2, 1]])
def test_tile_after_transpose(perm, reports, grappler_options):
    """The sinking moved a Transpose past a Tile with the repeats permuted by the order
    instead of its inverse: shape (5, 6, 21) for TF's (15, 2, 21)."""
    x = np.arange(70, dtype=np.int32).reshape(2, 7, 5)
    _on_device(lambda v: tf.tile(tf.transpose(raw.Neg(x=v), perm), [3, 1, 3]), (x,), "Tile",
               reports, grappler_options)


@pytest.mark.parametrize("pool", [False, True], ids=["conv", "pool"])
def test_tile_after_nhwc_conv_or_pool(pool, reports, grappler_options):
    x = RNG.normal(size=(1, 6, 5, 3)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)

    def fn(v):
        y = (tf.nn.avg_pool2d(v, 2, 1, "SAME") if pool
             else tf.nn.conv2d(v, tf.constant(w), 1, "SAME"))
        return tf.tile(y, [1, 3, 1, 2])
    _on_device(fn, (x,), "Tile", reports, grappler_options, rtol=1e-4)


# --- one output of a Split, cast to bool ------------------------------------------------------

@pytest.mark.parametrize("split", ["Split", "SplitV"])
def test_cast_to_bool_of_a_later_split_output(split, reports, grappler_options):
    """tf.cast(tf.split(x, 2)[1], tf.bool) returned part 0 (SplitV: failed to compile):
    OpenVINO's CPU plugin reads output 0 for a Convert to boolean after a Split whose other
    outputs are unused. Cast to bool is lowered to NotEqual(x, 0)."""
    x = np.array([0, 0, 1, 2, -3, 0], np.float32)
    if split == "Split":
        fn = lambda v: tf.cast(tf.split(raw.Neg(x=v), 2)[1], tf.bool)  # noqa: E731
    else:
        fn = lambda v: tf.cast(tf.split(raw.Neg(x=v), [2, 4])[1], tf.bool)  # noqa: E731
    actual, _ = _on_device(fn, (x,), split, reports, grappler_options)
    assert actual[0].tolist() == ([True, True, False] if split == "Split" else [True, True, True, False])


def test_cast_to_bool_of_an_unstack_output(reports, grappler_options):
    x = np.array([[0, 1], [2, 0], [0, 0]], np.int32)
    _on_device(lambda v: tf.cast(tf.unstack(raw.Neg(x=v))[1], tf.bool), (x,), "Unpack", reports,
               grappler_options)


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["f32", "f16"])
def test_cast_nan_to_bool_is_true(dtype, reports, grappler_options):
    """TF's Cast to bool is x != 0: NaN gives True (OpenVINO's Convert gave False)."""
    x = np.array([np.nan, 0.0, -0.0, 1.0, -np.inf, np.inf, 1e-30], dtype)
    actual, _ = _on_device(lambda v: raw.Cast(x=raw.Neg(x=v), DstT=tf.bool), (x,), "Cast", reports,
                           grappler_options)
    assert actual[0].tolist() == [True, False, False, True, True, True, dtype == np.float32]


# --- Unique's values alone -------------------------------------------------------------------

def test_unique_values_alone(reports, grappler_options):
    """tf.unique(x).y with idx unused: every value after the first came back 0 ([1, 5, 0, 2,
    5] -> [1, 0, 0, 0]); OpenVINO's unsorted Unique needs its index output consumed."""
    x = np.array([1, 5, 0, 2, 5, -7, 1], np.int32)
    actual, _ = _on_device(lambda v: raw.Unique(x=raw.Neg(x=v))[0], (x,), "Unique", reports,
                           grappler_options)
    assert actual[0].tolist() == [-1, -5, 0, -2, 7]


def test_unique_values_and_indices(reports, grappler_options):
    x = np.array([3, 3, 1, 9, 1], np.int32)
    _on_device(lambda v: raw.Unique(x=raw.Neg(x=v)), (x,), "Unique", reports, grappler_options)


# --- float -> integer casts of infinities and out-of-range values -----------------------------

_OUT_OF_RANGE = np.array([np.inf, -np.inf, np.nan, 3e9, -3e9, 65504, 2.5, -2.5, 300, -300,
                          70000, 1e19], np.float32)


@pytest.mark.parametrize("source, target, on_device", [
    (tf.float32, tf.int32, True), (tf.float32, tf.int8, True), (tf.float16, tf.int8, True),
    (tf.float16, tf.int32, False), (tf.float16, tf.int16, False),
    (tf.bfloat16, tf.int8, False), (tf.bfloat16, tf.uint8, False), (tf.bfloat16, tf.int16, False),
], ids=str)
def test_cast_of_out_of_range_floats(source, target, on_device, reports, grappler_options):
    """f16 inf -> int32 was 65504 (TF INT_MIN: OpenVINO clamps to f16's largest first); bf16
    65536 -> int8 was 0 (TF 127: it saturates where OpenVINO wraps). Those pairs stay in TF;
    the others agree with TF on the device, infinities and NaN included."""
    with np.errstate(over="ignore"):
        values = tf.cast(tf.constant(_OUT_OF_RANGE), source)
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(lambda v: raw.Cast(x=raw.Neg(x=raw.Neg(x=v)), DstT=target),
                                     (values,), reports)
    np.testing.assert_array_equal(actual, expected)
    inside, outside = reports.clustered("Cast")
    assert (inside >= 1 and outside == 0) if on_device else (inside == 0 and outside >= 1), \
        reports.outside_reasons("Cast")


@pytest.mark.parametrize("op", ["FloorMod", "Mod", "TruncateMod"])
def test_float_remainders_stay_in_tf(op, reports, grappler_options):
    """OpenVINO's float remainders are not C's fmod, on which TF builds them: NaN for an
    infinite divisor (TF: the dividend, floormod(-5, inf) = inf), +0 for exact multiples
    (TF: the dividend's sign, which rsqrt turns into -inf; the fuzzer's seed 20058)."""
    values = np.array([5.0, -5.0, 0.0, -0.0, 3.0, np.inf, -np.inf, np.nan, 1e30, 7.5, 0.1],
                      np.float32)
    x, y = (a.ravel() for a in np.meshgrid(values, values))
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(
        lambda a, b: raw.Rsqrt(x=getattr(raw, op)(x=raw.Neg(x=raw.Neg(x=a)), y=b)), (x, y),
        reports)
    np.testing.assert_allclose(actual, expected, rtol=1e-6)   # Rsqrt: 1 ulp apart
    np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected))
    inside, outside = reports.clustered(op)
    assert inside == 0 and outside == 1, reports.outside_reasons(op)
    assert ovtf.stats()["device_executions"] >= 1   # the Neg and Rsqrt around it


@pytest.mark.parametrize("axis, perm", [(1, [1, 2, 0]), (2, [1, 2, 0]), (1, [2, 0, 1])], ids=str)
def test_transpose_of_a_gather_keeping_a_dim_of_one(axis, perm, reports, grappler_options):
    """tf.transpose(tf.gather(x, [0], axis=1), [1, 2, 0]) of (4, 1, 1) came out (1, 4, 1):
    OpenVINO's transpose sinking moved the Transpose past the Gather with the wrong order
    (the fuzzer's seed 101134). The Gather now sits behind a transpose barrier."""
    x = RNG.standard_normal((4, 1, 1)).astype(np.float32)
    _on_device(lambda v: raw.Transpose(x=raw.GatherV2(params=raw.Neg(x=v), indices=[0], axis=axis),
                                       perm=perm), (x,), "GatherV2", reports, grappler_options)
