"""Issue 18, items 5, 6 and 8 (op parts): numbers OpenVINO got wrong, or graphs it could not
import, each either computed exactly on the device now or kept in TensorFlow with a reason.

Every case runs against stock TensorFlow on the same inputs (`test_ops._run_function`:
ovtf disabled, then enabled with fallback off and min cluster size 1, grappler's folding
passes off so the op under test reaches ovtf) and asserts where the op ran.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from test_ops import (PLAIN_GRAPPLER, _on_device, _run_function, assert_same,  # noqa: F401
                      grappler_options, reports)

raw = tf.raw_ops
RNG = np.random.default_rng(18)



# --- Atan2: signed zeros and infinities -----------------------------------------------------

_SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 5.0, np.inf, -np.inf, np.nan, 1e-30, -3e38], np.float32)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float16], ids=lambda d: d.name)
def test_atan2_special_values_match_tf(dtype, reports, grappler_options):
    """OpenVINO gave +pi for atan2(-0, -1) (TF -pi) and NaN for atan2(+-inf, +-inf) (TF
    +-pi/4, +-3pi/4); the lowering selects those from their exact values. (A bf16 Atan2
    stays in TF: rules.SixteenBitRounding.)"""
    y, x = (a.ravel() for a in np.meshgrid(_SPECIAL, _SPECIAL))
    with np.errstate(over="ignore"):
        inputs = (tf.constant(y, dtype), tf.constant(x, dtype))
    actual, expected = _on_device(lambda a, b: raw.Atan2(y=raw.Neg(x=raw.Neg(x=a)), x=b), inputs,
                                  "Atan2", reports, grappler_options,
                                  rtol=1e-5 if dtype == tf.float32 else 1e-2)
    # the sign of every zero and pi, too (assert_allclose takes -0 for 0)
    np.testing.assert_array_equal(np.signbit(actual[0]), np.signbit(expected[0]))
    assert expected[0][(y == 0) & np.signbit(y) & (x == -1)][0] < -3.1


# --- integer division of constant operands --------------------------------------------------

@pytest.mark.parametrize("op", ["TruncateDiv", "TruncateMod", "FloorDiv"])
@pytest.mark.parametrize("constant", ["both", "x", "y"])
@pytest.mark.parametrize("dtype", [tf.int32, tf.int64], ids=lambda d: d.name)
def test_integer_division_with_constant_operands(op, constant, dtype, reports, grappler_options):
    """OpenVINO rounded TruncateDiv of two constants down, FloorDiv of a constant dividend
    towards zero, and gave TruncateMod of a constant dividend the divisor's sign."""
    x_value, y_value = [-7, 7, -7, 7, -6, 9, 0], [2, -2, -2, 2, 4, -3, 5]

    def at_run_time(t):
        # int32 in, clipped, then int64: provably within int32 (`ovtf.ocm.ranges`)
        small = raw.ClipByValue(t=t, clip_value_min=tf.constant(-100), clip_value_max=tf.constant(100))
        return raw.Cast(x=small, DstT=dtype)

    def fn(x_in, y_in):
        x = tf.constant(x_value, dtype) if constant in ("both", "x") else at_run_time(x_in)
        y = tf.constant(y_value, dtype) if constant in ("both", "y") else at_run_time(y_in)
        return getattr(raw, op)(x=x, y=y)

    _on_device(fn, (tf.constant(x_value), tf.constant(y_value)), op, reports, grappler_options)


# --- LRN with a bias other than 1 -----------------------------------------------------------

def test_lrn_bias_other_than_one(reports, grappler_options):
    """Issue 18's case (off by 0.19 before): OpenVINO's LRN is right only with bias 1, so the
    node is rescaled to bias 1."""
    x = RNG.uniform(-2, 2, (4, 14, 11, 14)).astype(np.float32)
    _on_device(lambda t: raw.LRN(input=raw.Neg(x=t), depth_radius=4, bias=1.17, alpha=0.044,
                                 beta=1.58), (x,), "LRN", reports, grappler_options)


def test_lrn_non_positive_bias_stays_in_tf(reports, grappler_options):
    from test_ops import _run_unclustered
    reasons = _run_unclustered(lambda t: raw.LRN(input=raw.Neg(x=t), depth_radius=2, bias=0.0,
                                                 alpha=0.5, beta=0.75),
                               (RNG.uniform(0.5, 2, (1, 3, 3, 8)).astype(np.float32),), "LRN",
                               reports, grappler_options)
    assert [reason for reason, _ in reasons] == ["ATTR"] and "bias" in reasons[0][1]


# --- float division, exactly ----------------------------------------------------------------

def test_float_division_is_exact(reports, grappler_options):
    """OpenVINO multiplied by a reciprocal (1 ulp off on ~26% of quotients); a Divide marked
    non-convertible divides, so every quotient is TF's, bit for bit."""
    a, b = RNG.standard_normal((2, 100_000)).astype(np.float32)
    actual, expected = _on_device(lambda x, y: raw.RealDiv(x=raw.Neg(x=x), y=y), (a, b),
                                  "RealDiv", reports, grappler_options)
    np.testing.assert_array_equal(actual[0], expected[0])


def test_int8_quantizer_rounding_matches_tf(reports, grappler_options):
    """Keras' quantize("int8") computes round(x * 127 / max|x|): a 1-ulp quotient flipped
    values at exactly .5 (a whole quantization step)."""
    x = RNG.standard_normal((64, 256)).astype(np.float32)

    def quantize(t):
        scale = raw.Max(input=raw.Abs(x=t), axis=tf.constant([0, 1]), keep_dims=True)
        return raw.Round(x=raw.RealDiv(x=raw.Mul(x=t, y=tf.constant(127.0)), y=scale))

    actual, expected = _on_device(quantize, (x,), "RealDiv", reports, grappler_options)
    np.testing.assert_array_equal(actual[0], expected[0])


# --- bf16 constants, Snapshot of a constant, FusedBatchNorm's reserve outputs ---------------

def test_bf16_constant_in_a_cluster(reports, grappler_options):
    """The frontend cannot read bf16 tensors ("Encountered unknown element type bf16"): the
    Const is given to it as f32 and cast back. (bf16 arithmetic stays in TF,
    rules.SixteenBitRounding; selection is exact.)"""
    values = tf.constant(RNG.uniform(-3, 3, (4, 5)), tf.bfloat16)
    _on_device(lambda t: raw.Maximum(x=raw.Neg(x=t),
                                     y=tf.constant(RNG.uniform(-2, 2, (5,)), tf.bfloat16)),
               (values,), "Maximum", reports, grappler_options, rtol=1e-2)
    inside, _ = reports.consts_in_clusters()
    assert inside >= 1


@pytest.mark.parametrize("op", ["Snapshot", "StopGradient"])
def test_pass_through_of_a_constant(op, reports, grappler_options):
    """A cluster whose output is a pass-through of a Const: the frontend returned no Result
    for it ("frontend produced 0 outputs for 1")."""
    _on_device(lambda: getattr(raw, op)(input=tf.constant([1, 2, 3])), (), op, reports,
               grappler_options)


@pytest.mark.parametrize("op", ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float16], ids=lambda d: d.name)
def test_fused_batch_norm_every_output(op, dtype, reports, grappler_options):
    """An inference FusedBatchNorm whose reserve-space outputs are read too (TF's own tests
    fetch all of them): the frontend converted only y, mean and variance."""
    if op == "FusedBatchNorm" and dtype == tf.float16:
        pytest.skip("FusedBatchNorm (V1) has no f16 kernel in TF")
    x = tf.constant(RNG.uniform(-1, 1, (2, 3, 4, 3)), dtype)
    stats = dict(scale=tf.constant([1.0, 0.5, 2.0]), offset=tf.constant([0.1, 0.0, -0.2]),
                 mean=tf.constant([0.5, 0.2, 0.1]), variance=tf.constant([2.0, 3.0, 4.0]))

    def fn(t):
        return getattr(raw, op)(x=raw.Neg(x=t), is_training=False, **stats)

    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(fn, (x,), reports)
    inside, outside = reports.clustered(op)
    assert inside == 1 and outside == 0, reports.outside_reasons(op)
    assert ovtf.stats()["device_executions"] >= 1 and ovtf.stats()["fallbacks"] == 0
    # y, mean, variance as TF; the reserve spaces (uninitialized in TF) only by shape
    assert_same(actual[:3], expected[:3], 1e-2 if dtype == tf.float16 else 1e-5, op)
    assert [a.shape for a in actual[3:]] == [e.shape for e in expected[3:]]


@pytest.mark.parametrize("dtype", [tf.float32, tf.float16], ids=lambda d: d.name)
def test_fused_batch_norm_of_constants(dtype, reports, grappler_options):
    """TF's BatchNormalizationTest.testInferenceShape*: every input a constant, all six outputs
    leave the cluster. f16 failed to import ("frontend produced 3 outputs for 6": the
    frontend dropped the mean/variance pass-throughs of constants)."""
    x = RNG.uniform(-1, 1, (1, 1, 6, 2)).astype(dtype.as_numpy_dtype)

    def fn():
        return raw.FusedBatchNormV3(x=tf.constant(x), scale=tf.constant([1.0, 0.5]),
                                    offset=tf.constant([0.1, -0.2]), mean=tf.constant([0.5, 0.2]),
                                    variance=tf.constant([2.0, 3.0]), is_training=False)

    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(fn, (), reports)
    assert reports.clustered("FusedBatchNormV3") == (1, 0), \
        reports.outside_reasons("FusedBatchNormV3")
    assert ovtf.stats()["device_executions"] >= 1 and ovtf.stats()["fallbacks"] == 0
    assert_same(actual[:3], expected[:3], 1e-2 if dtype == tf.float16 else 1e-5, "FBN")
    assert [a.shape for a in actual[3:]] == [e.shape for e in expected[3:]]


# A fresh process's start for graph-mode cases: TF1 sessions whose `config` keeps TF's
# constant folding off, so constant-only graphs reach ovtf as TF's own kernel tests build them.
_TF1_SESSION = """
import json
import numpy as np
import tensorflow as tf
import ovtf
from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

tf.compat.v1.disable_eager_execution()
ovtf.disable_dynamic_fallback()
ovtf.set_min_cluster_size(1)
config = config_pb2.ConfigProto()
config.graph_options.rewrite_options.constant_folding = rewriter_config_pb2.RewriterConfig.OFF
"""

_CONSTANT_NMS = _TF1_SESSION + """
boxes = [[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11], [0, 100, 1, 101]]
from ovtf import placement_log
reports = []
record = placement_log.record
placement_log.record = lambda report: (reports.append(report), record(report))
out = []
for dtype in (np.float16, np.float32):
    reports.clear()
    graph = tf.Graph()
    with graph.as_default():
        raw = tf.raw_ops
        scores = tf.constant([0.9, 0.75, 0.6, 0.95, 0.3], dtype)
        picked = raw.NonMaxSuppressionV2(boxes=tf.constant(boxes, dtype), scores=scores,
                                         max_output_size=tf.constant(3),
                                         iou_threshold=tf.constant(0.5, dtype))
        fed = tf.compat.v1.placeholder(dtype, [5])
        picked_fed = raw.NonMaxSuppressionV2(boxes=tf.constant(boxes, dtype), scores=fed * 1,
                                             max_output_size=tf.constant(3),
                                             iou_threshold=tf.constant(0.5, dtype))
        ovtf.reset_stats()
        with tf.compat.v1.Session(config=config) as session:
            values = session.run([picked, picked_fed], {fed: [0.9, 0.75, 0.6, 0.95, 0.3]})
    out.append({"values": [v.tolist() for v in values], "device": ovtf.stats()["device_executions"],
                "fallbacks": ovtf.stats()["fallbacks"],
                "placement": sorted({(p.cluster is not None, p.reason if p.cluster is None else "")
                                     for r in reports for p in r.placement.values()
                                     if p.op == "NonMaxSuppressionV2"})})
print(json.dumps(out))
"""


def test_non_max_suppression_of_constants(fresh_process):
    """TF's NonMaxSuppressionTest.testDataTypes: boxes and scores constants, constant folding
    off. OpenVINO's CPU plugin cannot compile that ("Can not create StaticMemory object"), so
    it stays in TF (`constant_rules.NoConstantNms`); with fed scores it runs on the device."""
    for result in fresh_process(_CONSTANT_NMS, timeout=240):
        assert result["values"] == [[3, 0, 4], [3, 0, 4]], result
        assert result["device"] >= 1 and result["fallbacks"] == 0, result
        # the constant one in TF with its reason, the fed one in a cluster
        assert [False, "SHAPE"] in result["placement"], result
        assert [True, ""] in result["placement"], result


# --- int64 beyond 2^31, and gather indices: kept in TF unless provably in range -------------

def _placement(reports, op):
    """[(on the device?, reason)] for every `op` node."""
    return [(p.cluster is not None, p.reason) for r in reports.items for p in r.placement.values()
            if p.op == op]


@pytest.mark.parametrize("label,fn", [
    ("sub", lambda x: raw.Sub(x=x, y=tf.constant([1, 2], tf.int64))),
    ("abs", lambda x: raw.Abs(x=raw.Neg(x=x))),
    ("square", lambda x: raw.Square(x=x)),
    ("reshape", lambda x: raw.Reshape(tensor=raw.Identity(input=x), shape=tf.constant([2, 1]))),
])
def test_int64_beyond_int32_stays_in_tf(label, fn, reports, grappler_options):
    """OpenVINO's CPU computes int64 as int32: [2^40, 3*2^40] - [1, 2] gave [-1, -2], a
    Reshape of 2^40 gave 0. Values not known to fit int32 stay in TF (reason RANGE)."""
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    x = tf.constant([2 ** 40, 3 * 2 ** 40], tf.int64)
    actual, expected = _run_function(fn, (x,), reports)
    assert_same(actual, expected, 0, label)
    computing = [item for op in ("Sub", "Abs", "Neg", "Square", "Reshape", "Identity")
                 for item in _placement(reports, op)]
    assert computing and all(not inside and reason == "RANGE" for inside, reason in computing), computing


def test_int64_shape_arithmetic_stays_on_device(reports, grappler_options):
    """tf.shape(..., out_type=int64) -> StridedSlice -> arithmetic -> Pack -> Reshape: every
    value is a dim or a small constant, so all of it runs on the device."""
    def fn(t):
        shape = raw.Shape(input=raw.Neg(x=t), out_type=tf.int64)
        target = tf.stack([shape[0] + 0, shape[1] - 1 + 1, tf.constant(-1, tf.int64)])
        return raw.Reshape(tensor=raw.Neg(x=t), shape=target)

    _on_device(fn, (RNG.standard_normal((2, 6)).astype(np.float32),), "Reshape", reports,
               grappler_options)
    for op in ("Shape", "StridedSlice", "AddV2", "Sub", "Pack"):
        assert all(inside for inside, _ in _placement(reports, op)) and _placement(reports, op), op


def test_int64_from_int32_stays_on_device(reports, grappler_options):
    """An int64 made from int32 values and small constants provably fits: on the device."""
    small = lambda t: raw.Maximum(x=raw.Minimum(x=t, y=tf.constant(1000)), y=tf.constant(-1000))  # noqa: E731
    _on_device(lambda t: raw.Mul(x=raw.Cast(x=small(t), DstT=tf.int64), y=tf.constant(3, tf.int64)),
               (np.array([5, -7, 4000], np.int32),), "Mul", reports, grappler_options)


def test_gather_out_of_range_raises_like_tf(reports, grappler_options):
    """tf.gather(params, [[7]]) on 5 rows: OpenVINO returned zeros; TF raises. The gather
    stays in TF (reason RANGE) and raises InvalidArgumentError; the rest runs on the device."""
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    from ovtf import hook

    function = tf.function(lambda p: raw.Neg(x=tf.gather(raw.Neg(x=p), [[7]])))
    hook.clear_function_cache()
    with pytest.raises(tf.errors.InvalidArgumentError):
        function(tf.ones([5, 3]))
    assert _placement(reports, "GatherV2") == [(False, "RANGE")]
    assert all(inside for inside, _ in _placement(reports, "Neg")) and _placement(reports, "Neg")


def test_gather_provably_in_range_stays_on_device(reports, grappler_options):
    """Constant indices within the params' known dim: the gather runs on the device."""
    _on_device(lambda p: tf.gather(raw.Neg(x=p), [[4], [0]]), (tf.ones([5, 3]),), "GatherV2",
               reports, grappler_options)


def test_gather_of_runtime_ids_stays_in_tf(reports, grappler_options):
    """An embedding lookup of ids from outside cannot be proven in range: in TF (TF raises
    on a bad id), the computation after it on the device."""
    from test_ops import _run_unclustered
    reasons = _run_unclustered(lambda p, i: raw.Neg(x=tf.gather(p, i)),
                               (RNG.standard_normal((5, 3)).astype(np.float32), np.array([1, 4], np.int32)),
                               "GatherV2", reports, grappler_options)
    assert [reason for reason, _ in reasons] == ["RANGE"]


# --- crashes: scalar tiles and empty block shapes, in a fresh process -------------------------

_CRASH_CASES = """
import json
import numpy as np
import tensorflow as tf
import ovtf
from ovtf import hook, placement_log
from test_ops import PLAIN_GRAPPLER

tf.config.optimizer.set_experimental_options(PLAIN_GRAPPLER)
ovtf.disable_dynamic_fallback()
ovtf.set_min_cluster_size(1)
raw = tf.raw_ops
reports = []
record = placement_log.record
placement_log.record = lambda report: (reports.append(report), record(report))
empty = tf.zeros([0, 2], tf.int32)
cases = {
    "tile_scalar_constant": (lambda: tf.tile(7.0, multiples=tf.constant([], tf.int32)), ()),
    "tile_scalar": (lambda x: raw.Tile(input=raw.Neg(x=x), multiples=tf.constant([], tf.int32)),
                    (tf.constant(7.0),)),
    "space_to_batch_no_block": (lambda x: raw.SpaceToBatchND(
        input=raw.Neg(x=x), block_shape=tf.constant([], tf.int32), paddings=empty), (tf.ones([2, 3]),)),
    "batch_to_space_no_block": (lambda x: raw.BatchToSpaceND(
        input=raw.Neg(x=x), block_shape=tf.constant([], tf.int32), crops=empty), (tf.ones([2, 3]),)),
}
out = {}
for name, (fn, args) in cases.items():
    function = tf.function(fn)
    ovtf.disable(); hook.clear_function_cache()
    expected = function(*args).numpy()
    ovtf.enable(); hook.clear_function_cache(); reports.clear(); ovtf.reset_stats()
    actual = function(*args).numpy()
    op = {"tile_scalar_constant": "Tile", "tile_scalar": "Tile"}.get(name, "SpaceToBatchND"
         if "space_to_batch" in name else "BatchToSpaceND")
    out[name] = {"same": bool(np.array_equal(actual, expected)) and actual.shape == expected.shape,
                 "placement": sorted({(p.cluster is not None, p.reason) for r in reports
                                      for p in r.placement.values() if p.op == op}),
                 "fallbacks": ovtf.stats()["fallbacks"]}
print(json.dumps(out))
"""


def test_scalar_tile_and_empty_block_shape_do_not_crash(fresh_process):
    """tf.tile(7.0, multiples=[]) died in the frontend (SIGSEGV); SpaceToBatchND and
    BatchToSpaceND with block_shape=[] failed or died (SIGFPE). Their zero-size constant
    arguments keep them in TF (`constant_rules.NoZeroSize`, reason SHAPE): TF's answers, no crash."""
    results = fresh_process(_CRASH_CASES)
    for name, result in results.items():
        assert result["same"] and result["fallbacks"] == 0, (name, result)
        # (TF's second optimizer pass reports the rewritten graph as ALREADY_REWRITTEN)
        assert [False, "SHAPE"] in result["placement"], (name, result)
        assert not any(inside for inside, _ in result["placement"]), (name, result)


_DILATED = _TF1_SESSION + """
out = []
for dilations, padding, shape in (([2, 1], "VALID", (1, 4, 4, 1)), ([2, 2], "SAME", (1, 4, 4, 1)),
                                  ([1, 2], "VALID", (1, 3, 4, 2))):
    results = []
    for enabled in (False, True):
        (ovtf.enable if enabled else ovtf.disable)()
        ovtf.reset_stats()
        graph = tf.Graph()
        with graph.as_default():
            x = tf.constant(np.arange(np.prod(shape), dtype=np.float32).reshape(shape) + 1)
            w = tf.constant(np.arange(4 * shape[-1], dtype=np.float32).reshape(2, 2, shape[-1], 1))
            y = tf.nn.convolution(x, w, padding=padding, dilations=dilations)
            with tf.compat.v1.Session(config=config) as session:
                results.append(session.run(y))
    out.append({"same": bool(np.allclose(results[0], results[1], rtol=1e-5)),
                "device": ovtf.stats()["device_executions"], "fallbacks": ovtf.stats()["fallbacks"]})
print(json.dumps(out))
"""


def test_dilated_convolution_of_a_constant(fresh_process):
    """tf.nn.convolution with dilations (SpaceToBatchND + Conv2D + BatchToSpaceND) of a
    constant, TF's constant folding off: OpenVINO hung or died folding int32 block arguments;
    cast to int64 they fold right, on the device."""
    for result in fresh_process(_DILATED, timeout=240):
        assert result["same"] and result["device"] >= 1 and result["fallbacks"] == 0, result
