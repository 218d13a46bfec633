"""Issue 23, NaN semantics: OpenVINO's CPU plugin dropped a NaN where TF propagates it (Relu,
Relu6, Maximum, Minimum, ClipByValue, Max/Min reductions, and a Relu/Relu6 fused into a conv
or matmul). Each op now runs on the device with TF's answers on inputs holding NaN, +-inf
and +-0 (registry.keep_nan), in f32, f16 and bf16; integer types are left as they were.
Relu/Relu6 are rewritten to a NaN-keeping Maximum/Abs/Minimum instead (registry.py says why
and what it costs).

Every case compares against stock TensorFlow and asserts the op ran inside a cluster on the
device with no fallback (`test_ops._on_device`).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from ovtf.ocm.registry import tf_runs_onednn
from test_ops import (PLAIN_GRAPPLER, _on_device, _run_function, assert_same,  # noqa: F401
                      grappler_options, reports)

raw = tf.raw_ops


EDGES = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, 1.0, -1.0, 7.0, np.nan, 3.0,
                  -5.0, 0.5], np.float32)
DTYPES = [tf.float32, tf.float16, tf.bfloat16]


def _edges(dtype, shape=(12,)):
    return tf.cast(tf.constant(EDGES.reshape(shape)), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("op", ["Relu", "Relu6"])
def test_relu_keeps_nan(op, dtype, reports, grappler_options):
    """relu([nan]) was 0 (TF: nan)."""
    fn = getattr(raw, op)
    _on_device(lambda v: fn(features=raw.Neg(x=v)), (_edges(dtype),), op, reports,
               grappler_options)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("op", ["Maximum", "Minimum"])
def test_maximum_minimum_keep_nan_of_either_operand(op, dtype, reports, grappler_options):
    """maximum(nan, 1) was 1 (TF: nan, and so is maximum(1, nan)); operands broadcast."""
    fn = getattr(raw, op)
    a = _edges(dtype)
    b = tf.cast(tf.constant(np.roll(EDGES, 3)), dtype)
    row = tf.cast(tf.constant([[np.nan], [1.0], [-0.0]], np.float32), dtype)

    def program(x, y, z):
        x = raw.Neg(x=x)
        return fn(x=x, y=y), fn(x=y, y=x), fn(x=z, y=x), fn(x=x, y=z)
    _on_device(program, (a, b, row), op, reports, grappler_options)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_exp_keeps_nan(dtype, reports, grappler_options):
    """exp([nan]) was +inf (TF: nan), and a sum over it +inf (the fuzzer's seeds 1, 38). A
    16-bit Exp read by a Sum stays in TF (rules.SixteenBitRounding): only f32 sums here; a
    bf16 Exp stays in TF anyway."""
    if dtype == tf.bfloat16:
        pytest.skip("bf16 Exp stays in TF (rules.SixteenBitRounding)")

    def program(v):
        if dtype != tf.float32:
            return raw.Exp(x=raw.Neg(x=v))
        return raw.Exp(x=raw.Neg(x=v)), raw.Sum(input=raw.Exp(x=v), axis=[0])
    _on_device(program, (_edges(dtype),), "Exp", reports, grappler_options)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_clip_by_value_keeps_nan(dtype, reports, grappler_options):
    """ClipByValue(nan, lo, hi) gave a bound; a NaN bound is ignored by TF."""
    def program(x):
        x = raw.Neg(x=x)
        lo, hi = tf.cast(-0.5, dtype), tf.cast(2.0, dtype)
        return (raw.ClipByValue(t=x, clip_value_min=lo, clip_value_max=hi),
                raw.ClipByValue(t=x, clip_value_min=x, clip_value_max=hi),
                raw.ClipByValue(t=x, clip_value_min=lo, clip_value_max=x))
    _on_device(program, (_edges(dtype),), "ClipByValue", reports, grappler_options)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("keep_dims", [False, True])
@pytest.mark.parametrize("axis", [0, 1, [0, 1]], ids=str)
@pytest.mark.parametrize("op", ["Max", "Min"])
def test_reduce_max_min_keep_nan(op, axis, keep_dims, dtype, reports, grappler_options):
    """reduce_max of a row holding NaN skipped it (TF: nan)."""
    fn = getattr(raw, op)
    _on_device(lambda v: fn(input=raw.Neg(x=v), axis=axis, keep_dims=keep_dims),
               (_edges(dtype, (4, 3)),), op, reports, grappler_options)


_INFINITE_ROWS = np.array([[-np.inf] * 3, [np.inf] * 3, [-np.inf, -3.4028235e38, -np.inf],
                           [np.inf, 3.4028235e38, np.inf], [-np.inf, np.inf, 1.0]], np.float32)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("axis", [0, 1, [0, 1]], ids=str)
@pytest.mark.parametrize("op", ["Max", "Min"])
def test_reduce_max_min_of_only_infinities(op, axis, dtype, reports, grappler_options):
    """OpenVINO's f32 reduce_max of a row of only -inf was -FLT_MAX (min: of +inf, FLT_MAX;
    the fuzzer's seed 300439); a finite FLT_MAX beside the infinities stays itself."""
    fn = getattr(raw, op)
    with np.errstate(over="ignore"):
        rows = tf.cast(tf.constant(_INFINITE_ROWS), dtype)
    _on_device(lambda v: fn(input=raw.Neg(x=raw.Neg(x=v)), axis=axis), (rows,), op, reports,
               grappler_options)


def test_integer_max_min_relu_unchanged(reports, grappler_options):
    """Integers have no NaN: still on the device with TF's answers (a constant: an int32 Max
    reduction runs on the device only for values known within +-2^24, ocm/ranges.py)."""
    x = np.array([[3, -7, 0], [2, 9, -1]], np.int32)

    def program():
        v = tf.constant(x)
        return raw.Max(input=raw.Neg(x=v), axis=1), raw.Maximum(x=raw.Neg(x=v), y=v)
    _on_device(program, (), "Max", reports, grappler_options)


@pytest.mark.parametrize("activation", [tf.nn.relu, tf.nn.relu6], ids=["relu", "relu6"])
def test_fused_conv_relu_keeps_nan(activation, reports, grappler_options):
    """Grappler's remapper fuses Conv2D+BiasAdd+Relu(6) into _FusedConv2D; its split gets the
    same NaN-keeping rewrite (a NaN input pixel gives NaN outputs, not 0), except where TF runs
    the fused op with oneDNN, whose Relu post-op gives 0 for NaN as OpenVINO's Relu does."""
    rng = np.random.default_rng(23)
    x = rng.normal(size=(1, 5, 5, 2)).astype(np.float32)
    x[0, 2, 2, 1] = np.nan
    x[0, 0, 4, 0] = np.inf
    w = tf.constant(rng.normal(size=(3, 3, 2, 4)).astype(np.float32))
    b = tf.constant(rng.normal(size=(4,)).astype(np.float32))

    def program(v):
        return activation(tf.nn.bias_add(tf.nn.conv2d(v, w, 1, "SAME"), b))
    grappler_options({**PLAIN_GRAPPLER, "remapping": True})
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(program, (x,), reports)
    inside, outside = reports.clustered("_FusedConv2D")
    assert inside >= 1 and outside == 0, (inside, outside)
    stats = ovtf.stats()
    assert stats["device_executions"] >= 1 and stats["fallbacks"] == 0, stats
    # TF's oneDNN kernel (`registry.tf_runs_onednn`) turns NaN into 0 there; Eigen keeps it
    assert np.isnan(expected[0]).any() != tf_runs_onednn()
    assert_same(actual, expected, 1e-4, "_FusedConv2D")


@pytest.mark.parametrize("op", ["Relu", "Relu6"])
def test_relu_keeps_nan_in_vector_body_and_tail(op, reports, grappler_options):
    """A NaN and +-inf in every lane position of a 37-element tensor: OpenVINO's vector loop
    and its scalar tail both keep them (fusing Maximum and Minimum into a Clamp would drop
    them: registry.nan_keeping_relu)."""
    fn = getattr(raw, op)
    x = np.linspace(-9.0, 9.0, 37).astype(np.float32)
    x[::5], x[2::7], x[3::11] = np.nan, np.inf, -np.inf
    x[-1] = np.nan
    _on_device(lambda v: fn(features=raw.Neg(x=raw.Neg(x=v))), (x,), op, reports,
               grappler_options)


_ARG_ROWS = np.array([[np.nan, .1, -1.6, 4.1, .4], [1, 5, 5, 2, 0], [-np.inf] * 5, [np.nan] * 5,
                      [-np.inf, -3.4e38, 1, np.nan, 1], [np.inf, np.nan, np.inf, 2, 3],
                      [0, -0.0, 0, 0, -1], [-3.4e38, -np.inf, -3.4e38, np.nan, -np.inf]],
                     np.float32)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_max_min_skip_nan_as_tf(op, dtype, reports, grappler_options):
    """TF's ArgMax never picks a NaN (nor -inf; a row of them gives 0); OpenVINO picked the
    NaN (the fuzzer's seeds 20307, 20331). Ties: the first index."""
    fn = getattr(raw, op)
    with np.errstate(over="ignore"):
        rows = tf.cast(tf.constant(_ARG_ROWS), dtype)
    _on_device(lambda v: (fn(input=raw.Neg(x=raw.Neg(x=v)), dimension=1),
                          fn(input=raw.Neg(x=raw.Neg(x=v)), dimension=0)),
               (rows,), op, reports, grappler_options)


_SOFTMAX_ROWS = np.array([[np.nan, 1, 2], [np.inf, 1, 2], [-np.inf, 1, 2], [-np.inf] * 3,
                          [np.inf, np.inf, 1], [1, 2, 3], [np.inf, -np.inf, 0], [np.nan] * 3],
                         np.float32)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_rows_with_nan_or_inf_are_nan(op, reports, grappler_options):
    """TF subtracts the row's max: a NaN, a +inf or a row of -inf makes the whole row NaN.
    OpenVINO made only the NaN element NaN (a +inf row: 0 and NaN; the fuzzer's seed 20083)."""
    fn = getattr(raw, op)
    _on_device(lambda v: fn(logits=raw.Neg(x=raw.Neg(x=v))), (_SOFTMAX_ROWS,), op, reports,
               grappler_options)


_SOFTMAX_IN_BOTH_KERNELS = """
import json
import numpy as np
import tensorflow as tf
import ovtf
from ovtf.ocm import registry
ovtf.disable_dynamic_fallback()
ovtf.set_min_cluster_size(1)
rows = np.array(ROWS, np.float32)
function = lambda v: tf.nn.softmax(-(-v))
ovtf.disable()
expected = tf.function(function)(tf.constant(rows)).numpy()
ovtf.enable()
actual = tf.function(function)(tf.constant(rows)).numpy()
print(json.dumps({"onednn": registry.tf_runs_onednn(), "device": ovtf.stats()["device_executions"],
                  "same": bool(np.allclose(actual, expected, rtol=1e-5, equal_nan=True)),
                  "expected": str(expected), "actual": str(actual)}))
"""


@pytest.mark.parametrize("onednn", ["0", "1"])
def test_softmax_nan_rows_follow_tfs_kernel(onednn, fresh_process):
    """TF's oneDNN Softmax (on by default on AVX-512 VNNI/BF16 and AMX CPUs) makes only the
    elements where x - max is NaN NaN and the rest of such a row 0; its Eigen kernel makes the
    whole row NaN. ovtf follows the kernel TF runs (the fuzzer's seeds 500031, 500116)."""
    rows = [[1, 2, np.nan, 3], [np.nan, 1, 2, 3], [1, 2, 3, np.nan], [1, np.inf, 2, 3],
            [-np.inf] * 4, [1, 2, 1e30, np.nan], [np.nan] * 4, [1, -np.inf, 2, 3],
            [np.inf, np.inf, 1, 1], [0.5, -1, 2, 3]]
    code = _SOFTMAX_IN_BOTH_KERNELS.replace("ROWS", repr(rows).replace("nan", "np.nan")
                                            .replace("inf", "np.inf"))
    result = fresh_process(code, env={"TF_ENABLE_ONEDNN_OPTS": onednn})
    assert result["onednn"] == (onednn == "1")
    assert result["device"] >= 1
    assert result["same"], (result["expected"], result["actual"])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("op", ["Greater", "GreaterEqual", "Less", "LessEqual"])
def test_comparisons_with_nan_are_false(op, dtype, reports, grappler_options):
    """OpenVINO's AVX-512 Greater/GreaterEqual were true for a NaN operand (`nan > 0.5`),
    which flipped a cond's branch (the fuzzer's seeds 500210, 500227 and four more on an
    AVX-512 EPYC; AVX2 kernels were right). Either operand, broadcast, constants too."""
    fn = getattr(raw, op)
    a = _edges(dtype)
    b = tf.cast(tf.constant(np.roll(EDGES, 3)), dtype)

    def program(x, y):
        x = raw.Neg(x=x)
        return (fn(x=x, y=y), fn(x=y, y=x), fn(x=x, y=tf.cast(0.5, dtype)),
                fn(x=tf.cast(np.nan, dtype), y=x))
    _on_device(program, (a, b), op, reports, grappler_options)
