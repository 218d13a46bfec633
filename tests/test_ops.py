"""Every op in the capability table, run through `import ovtf` on OpenVINO, against stock TF.

Each case is a small tf.function built from `tf.raw_ops` (so the op under test is exactly the
node TF sees). It runs twice: once with ovtf disabled (stock TensorFlow, the reference) and
once with ovtf enabled, dynamic fallback disabled and min cluster size 1. A case passes when
the outputs agree (f32: 1e-5 relative; integers and booleans: exactly; f16/bf16: 1e-2) and
every node of the op type under test ended inside an OVTFCluster that ran on the device
(`device_executions >= 1`, `fallbacks == 0`).

Grappler would otherwise fold or rewrite many single-op graphs away before ovtf sees them
(constant folding, arithmetic / dependency optimizers, `_UnaryOpsComposition`), so those
passes are off for the plain-op cases. The oneDNN fused ops (`_FusedConv2D`, ...) only exist
after grappler's remapper: those cases keep the default grappler setup and use tf.Variables
for weights, as Keras layers do. `_MklLayerNorm`, which TF 2.21's remapper does not produce
from Keras 3 or `tf.nn` layer norms, is written by hand into a TF1 graph run by a Session.

`test_every_supported_op_has_a_case` fails when the table gains an op without a case here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from ovtf import hook as bridge
from ovtf import placement_log

raw = tf.raw_ops
RNG = np.random.default_rng(20240601)


# --- inputs -------------------------------------------------------------------------------

def f32(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def pos(*shape, lo=0.1, hi=3.0):
    return f32(*shape, lo=lo, hi=hi)


def i32(*shape, lo=-6, hi=7):
    return RNG.integers(lo, hi, shape).astype(np.int32)


def i64(*shape, lo=-6, hi=7):
    return RNG.integers(lo, hi, shape).astype(np.int64)


def nonzero_i32(*shape, lo=-6, hi=7):
    values = i32(*shape, lo=lo, hi=hi)
    values[values == 0] = 3
    return values


def boolean(*shape):
    return RNG.random(shape) < 0.5


def f16(*shape, lo=-2.0, hi=2.0):
    return f32(*shape, lo=lo, hi=hi).astype(np.float16)


def bf16(*shape, lo=-2.0, hi=2.0):
    return tf.constant(f32(*shape, lo=lo, hi=hi), tf.bfloat16)


def c(value, dtype=tf.int32):
    return tf.constant(value, dtype)


def consts(fn, *values):
    """`fn` applied to `values` as constants of the graph: int64 tensors and gather indices
    run on the device only where their values are known to fit (`ovtf.ocm.ranges`)."""
    return lambda: fn(*[tf.constant(value) for value in values])


# --- the case table ---------------------------------------------------------------------------

@dataclass
class Case:
    op: str
    fn: object
    inputs: tuple
    name: str
    rtol: float = 1e-5
    fused: bool = False          # needs grappler's remapper (default grappler setup)
    session: bool = False        # fn(graph) builds a TF1 graph and returns (feeds, fetches)
    variables: tuple = field(default=())

    @property
    def id(self):
        return f"{self.op}-{self.name}"


CASES: list = []


def case(op, fn, *inputs, name="f32", rtol=None, **kwargs):
    if rtol is None:
        rtol = 1e-5
        dtypes = {np.asarray(x).dtype if not isinstance(x, tf.Tensor) else x.dtype.as_numpy_dtype
                  for x in inputs}
        if any(np.dtype(d).itemsize == 2 and np.dtype(d).kind not in "iub" for d in dtypes):
            rtol = 1e-2
    CASES.append(Case(op, fn, tuple(inputs), name, rtol, **kwargs))


# Unary float functions, inputs inside each domain.
_DOMAIN = {"Acos": (-0.9, 0.9), "Asin": (-0.9, 0.9), "Atanh": (-0.9, 0.9), "Acosh": (1.1, 4.0),
           "Log": (0.1, 4.0), "Sqrt": (0.1, 4.0), "Rsqrt": (0.1, 4.0), "Log1p": (-0.9, 4.0),
           "Reciprocal": (0.2, 3.0), "Tan": (-1.2, 1.2), "Exp": (-5.0, 5.0)}
for _op in ("Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Erfc",
            "Exp", "Floor", "Log", "Log1p", "Reciprocal", "Rsqrt", "Sigmoid", "Sin", "Sinh",
            "Softplus", "Softsign", "Sqrt", "Tan", "Tanh"):
    _lo, _hi = _DOMAIN.get(_op, (-3.0, 3.0))
    _arg = "features" if _op in ("Softplus", "Softsign") else "x"
    case(_op, lambda x, _op=_op, _arg=_arg: getattr(raw, _op)(**{_arg: x}), f32(3, 17, lo=_lo, hi=_hi))
for _op in ("Exp", "Sigmoid", "Tanh", "Sqrt"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(x=x), f16(4, 8, lo=0.1, hi=2.0), name="f16")
# bf16 arithmetic stays in TF (rules.SixteenBitRounding; tests/test_sixteen_bit_rounding.py);
# selection is exact
case("Maximum", lambda x: raw.Maximum(x=x, y=raw.Neg(x=x)), bf16(4, 8), name="bf16")
case("Softplus", lambda x: raw.Softplus(features=x), f32(64, lo=-30, hi=30), name="wide_range")
# Round is half-to-even in TF: exact halves are the interesting inputs.
case("Round", lambda x: raw.Round(x=x),
     np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49, -0.51, 7.2], np.float32), name="halves")
case("Round", lambda x: raw.Round(x=x), f32(5, 5, lo=-10, hi=10))

for _op in ("Abs", "Neg", "Sign", "Square"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(x=x), f32(3, 7))
    case(_op, lambda x, _op=_op: getattr(raw, _op)(x=x), i32(3, 7), name="int32")
case("Abs", consts(lambda x: raw.Abs(x=x), i64(9)), name="int64")
case("Sign", lambda x: raw.Sign(x=x), np.array([-2.0, -0.0, 0.0, 3.0], np.float32), name="zeros")

_SPECIAL = np.array([[1.0, -np.inf, np.inf, np.nan], [0.0, -3.5, np.nan, 1e38]], np.float32)
for _op in ("IsFinite", "IsInf", "IsNan"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(x=x), _SPECIAL)
case("LogicalNot", lambda x: raw.LogicalNot(x=x), boolean(4, 5), name="bool")

# Binary arithmetic: same shapes, broadcasting, int32.
for _op in ("Add", "AddV2", "Sub", "Mul", "Maximum", "Minimum", "SquaredDifference"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), f32(3, 4), f32(3, 4))
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), f32(2, 3, 4), f32(4), name="broadcast")
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), i32(3, 4), i32(1, 4), name="int32")
case("AddV2", consts(lambda x, y: raw.AddV2(x=x, y=y), i64(3, 4), i64(3, 4)), name="int64")
case("RealDiv", lambda x, y: raw.RealDiv(x=x, y=y), f32(3, 4), pos(3, 4))
case("RealDiv", lambda x, y: raw.RealDiv(x=x, y=y), f32(2, 3, 4), pos(3, 1), name="broadcast")
# float FloorMod/Mod/TruncateMod stay in TF: test_float_remainders_stay_in_tf
case("FloorDiv", lambda x, y: raw.FloorDiv(x=x, y=y), f32(4, 5, lo=-9, hi=9),
     f32(4, 5, lo=0.5, hi=3) * np.where(boolean(4, 5), 1, -1).astype(np.float32))
for _op in ("FloorDiv", "FloorMod"):
    # negative operands: TF floors (-7 // 2 == -4, -7 % 2 == 1), C truncates
    case(_op, consts(lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), i32(4, 6, lo=-20, hi=20),
                     nonzero_i32(4, 6)), name="int32_signs")
case("Pow", lambda x, y: raw.Pow(x=x, y=y), pos(3, 4), f32(3, 4))
case("Pow", lambda x, y: raw.Pow(x=x, y=y), f32(3, 4), np.float32(2.0), name="square_negative_base")
case("DivNoNan", lambda x, y: raw.DivNoNan(x=x, y=y), f32(3, 4),
     np.where(boolean(3, 4), 0.0, 2.5).astype(np.float32), name="zeros")
for _op in ("Equal", "NotEqual"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), np.round(f32(3, 4)), np.round(f32(3, 4)))
    # int32 compared through f32: on the device only with values known within +-2^24
    # (test_int32_beyond_f32_stays_in_tf)
    case(_op, consts(lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), i32(3, 4, lo=0, hi=3),
                     i32(4, lo=0, hi=3)), name="int32")
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), boolean(3, 4), boolean(3, 4), name="bool")
for _op in ("Greater", "GreaterEqual", "Less", "LessEqual"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), np.round(f32(3, 4)), np.round(f32(3, 4)))
    case(_op, consts(lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), i32(3, 4, lo=0, hi=3),
                     i32(1, 4, lo=0, hi=3)), name="int32")
for _op in ("LogicalAnd", "LogicalOr"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), boolean(3, 4), boolean(4), name="bool")
case("AddN", lambda x, y, z: raw.AddN(inputs=[x, y, z]), f32(3, 4), f32(3, 4), f32(3, 4))
case("AddN", lambda x, y: raw.AddN(inputs=[x, y]), i32(3, 4), i32(3, 4), name="int32")
case("ClipByValue", lambda x: raw.ClipByValue(t=x, clip_value_min=c(-1.0, tf.float32),
                                              clip_value_max=c(0.5, tf.float32)), f32(4, 5))
case("ClipByValue", lambda x, lo, hi: raw.ClipByValue(t=x, clip_value_min=lo, clip_value_max=hi),
     f32(4, 5), f32(4, 5, lo=-2, hi=-0.5), f32(4, 5, lo=0, hi=1), name="tensor_bounds")
case("ClipByValue", consts(lambda x: raw.ClipByValue(t=x, clip_value_min=c(-2), clip_value_max=c(3)),
                          i32(4, 5)), name="int32")
case("Select", lambda p, x, y: raw.Select(condition=p, x=x, y=y), boolean(3, 4), f32(3, 4), f32(3, 4))
case("Select", lambda p, x, y: raw.Select(condition=p, x=x, y=y), boolean(3), f32(3, 4), f32(3, 4),
     name="vector_condition")
case("SelectV2", lambda p, x, y: raw.SelectV2(condition=p, t=x, e=y), boolean(3, 1), f32(1, 4), f32(3, 4),
     name="broadcast")
# integer and bool Select/SelectV2 stay in TF: see test_integer_select_stays_in_tf
case("Cast", lambda x: raw.Cast(x=x, DstT=tf.int32), f32(4, 6, lo=-9, hi=9), name="f32_to_int32")
case("Cast", lambda x: raw.Cast(x=x, DstT=tf.float32), i32(4, 6), name="int32_to_f32")
case("Cast", lambda x: raw.Cast(x=x, DstT=tf.float32), boolean(4, 6), name="bool_to_f32")
case("Cast", lambda x: raw.Cast(x=x, DstT=tf.bool), np.round(f32(4, 6)), name="f32_to_bool")
case("Cast", lambda x: raw.Cast(x=x, DstT=tf.int64), i32(4, 6), name="int32_to_int64")
case("Cast", lambda x: raw.Cast(x=x, DstT=tf.float16), f32(4, 6), name="f32_to_f16", rtol=1e-3)

# Reductions.
for _op in ("Sum", "Mean", "Max", "Min", "Prod"):
    _lohi = (0.5, 1.5) if _op == "Prod" else (-2.0, 2.0)
    for _axes, _keep in (([1], False), ([0, 2], True), ([-1], True)):
        case(_op, lambda x, _op=_op, _axes=_axes, _keep=_keep:
             getattr(raw, _op)(input=x, axis=c(_axes), keep_dims=_keep),
             f32(3, 4, 5, lo=_lohi[0], hi=_lohi[1]), name=f"axes{_axes}_keep{_keep}".replace(" ", ""))
    case(_op, consts(lambda x, _op=_op: getattr(raw, _op)(input=x, axis=c(1), keep_dims=False),
                     i32(3, 5, lo=-3, hi=4)), name="int32")
case("Sum", lambda x: raw.Sum(input=x, axis=c([0, 1], tf.int64), keep_dims=False), f32(3, 4),
     name="int64_axes")
for _op in ("All", "Any"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(input=x, axis=c([1]), keep_dims=False),
         boolean(4, 3), name="bool")
    case(_op, lambda x, _op=_op: getattr(raw, _op)(input=x, axis=c([0, 1]), keep_dims=True),
         boolean(4, 3), name="bool_keep")
for _op in ("ArgMax", "ArgMin"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(input=x, dimension=c(1)), f32(4, 7))
    case(_op, lambda x, _op=_op: getattr(raw, _op)(input=x, dimension=c(0), output_type=tf.int32),
         f32(4, 7), name="axis0_int32")
    # ties: TF returns the smallest index
    case(_op, lambda x, _op=_op: getattr(raw, _op)(input=x, dimension=c(-1)), i32(5, 6, lo=0, hi=3),
         name="int32_ties")
case("Cumsum", lambda x: raw.Cumsum(x=x, axis=c(1)), f32(3, 6))
case("Cumsum", lambda x: raw.Cumsum(x=x, axis=c(0), exclusive=True, reverse=True), f32(3, 6),
     name="exclusive_reverse")
case("Cumsum", lambda x: raw.Cumsum(x=x, axis=c(-1), exclusive=True), i32(3, 6), name="int32_exclusive")

# Matrix products.
for _ta in (False, True):
    for _tb in (False, True):
        case("MatMul", lambda a, b, _ta=_ta, _tb=_tb: raw.MatMul(a=a, b=b, transpose_a=_ta, transpose_b=_tb),
             f32(*((6, 3) if _ta else (3, 6))), f32(*((5, 6) if _tb else (6, 5))),
             name=f"ta{int(_ta)}_tb{int(_tb)}")
case("BatchMatMul", lambda x, y: raw.BatchMatMul(x=x, y=y), f32(2, 3, 6), f32(2, 6, 4))
case("BatchMatMul", lambda x, y: raw.BatchMatMul(x=x, y=y, adj_x=True, adj_y=True), f32(2, 6, 3),
     f32(2, 4, 6), name="adjoint")
case("BatchMatMulV2", lambda x, y: raw.BatchMatMulV2(x=x, y=y), f32(2, 1, 3, 6), f32(4, 6, 5),
     name="broadcast")
case("BatchMatMulV2", lambda x, y: raw.BatchMatMulV2(x=x, y=y, adj_y=True), f32(2, 3, 6), f32(2, 5, 6),
     name="adj_y")
case("BatchMatMulV3", lambda x, y: raw.BatchMatMulV3(x=x, y=y, Tout=tf.float32), f32(2, 3, 6),
     f32(6, 4))
case("BatchMatMulV3", lambda x, y: raw.BatchMatMulV3(x=x, y=y, Tout=tf.float32, adj_x=True),
     f32(3, 2, 6, 3), f32(3, 2, 6, 4), name="adj_x")
case("Einsum", lambda x, y: raw.Einsum(inputs=[x, y], equation="ij,jk->ik"), f32(3, 5), f32(5, 4))
case("Einsum", lambda x, y: raw.Einsum(inputs=[x, y], equation="bhqd,bhkd->bhqk"), f32(2, 3, 4, 5),
     f32(2, 3, 6, 5), name="attention")
case("Einsum", lambda x, y: raw.Einsum(inputs=[x, y], equation="...ij,jk->...ik"), f32(2, 3, 4, 5),
     f32(5, 2), name="ellipsis")
case("Einsum", lambda x: raw.Einsum(inputs=[x], equation="ijk->kj"), f32(2, 3, 4), name="unary_reduce")
case("Range", lambda x: raw.Range(start=c(1), limit=c(13), delta=c(3)) + x, i32(4), name="int32")
case("Range", lambda x: raw.Range(start=c(0.5, tf.float32), limit=c(3.0, tf.float32),
                                  delta=c(0.5, tf.float32)) * x, f32(5))
case("Range", lambda n, x: tf.reduce_sum(raw.Range(start=c(0), limit=n, delta=c(1))) + x,
     np.int32(7), i32(2), name="runtime_limit")

# Activations.
for _op in ("Relu", "Relu6", "Elu", "Selu"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(features=x), f32(4, 9, lo=-8, hi=8))
for _op in ("Softmax", "LogSoftmax"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(logits=x), f32(4, 9, lo=-8, hi=8))
    case(_op, lambda x, _op=_op: getattr(raw, _op)(logits=x), f32(2, 3, 9, lo=-30, hi=30), name="rank3")
case("LeakyRelu", lambda x: raw.LeakyRelu(features=x), f32(4, 9))
case("LeakyRelu", lambda x: raw.LeakyRelu(features=x, alpha=0.01), f32(4, 9), name="alpha0.01")
case("Relu", lambda x: raw.Relu(features=x), f16(4, 9), name="f16")

# Convolutions and pooling (NHWC: TF's CPU kernels support only that for most of them).
_IMG = f32(2, 9, 9, 3)
for _pad in ("SAME", "VALID"):
    for _s in (1, 2):
        case("Conv2D", lambda x, w, _pad=_pad, _s=_s:
             raw.Conv2D(input=x, filter=w, strides=[1, _s, _s, 1], padding=_pad),
             _IMG, f32(3, 3, 3, 4), name=f"{_pad}_stride{_s}")
case("Conv2D", lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 1, 1, 1], padding="SAME",
                                       dilations=[1, 2, 2, 1]), _IMG, f32(3, 3, 3, 4), name="dilated")
case("Conv2D", lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 2, 1, 1], padding="EXPLICIT",
                                       explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0]),
     _IMG, f32(2, 3, 3, 4), name="EXPLICIT")
case("Conv2D", lambda x, w: raw.Conv2D(input=x, filter=w, strides=[1, 1, 1, 1], padding="VALID"),
     f32(1, 5, 6, 2), f32(1, 1, 2, 5), name="1x1_nonsquare")
for _pad, _s, _mult in (("SAME", 1, 1), ("VALID", 2, 2), ("SAME", 2, 1)):
    case("DepthwiseConv2dNative", lambda x, w, _pad=_pad, _s=_s:
         raw.DepthwiseConv2dNative(input=x, filter=w, strides=[1, _s, _s, 1], padding=_pad),
         _IMG, f32(3, 3, 3, _mult), name=f"{_pad}_stride{_s}_mult{_mult}")
for _pad, _s, _in in (("SAME", 1, (2, 9, 9, 3)), ("SAME", 2, (2, 9, 9, 3)), ("VALID", 2, (2, 9, 9, 3)),
                      ("SAME", 2, (2, 10, 10, 3))):
    _out = tuple(-(-d // _s) if _pad == "SAME" else (d - 3) // _s + 1 for d in _in[1:3])
    case("Conv2DBackpropInput", lambda dy, w, _pad=_pad, _s=_s, _in=_in:
         raw.Conv2DBackpropInput(input_sizes=c(list(_in)), filter=w, out_backprop=dy,
                                 strides=[1, _s, _s, 1], padding=_pad),
         f32(2, *_out, 4), f32(3, 3, 3, 4), name=f"{_pad}_stride{_s}_in{_in[1]}")
for _pad, _s in (("SAME", 1), ("VALID", 2)):
    case("Conv3D", lambda x, w, _pad=_pad, _s=_s:
         raw.Conv3D(input=x, filter=w, strides=[1, _s, _s, _s, 1], padding=_pad),
         f32(1, 5, 6, 5, 2), f32(2, 3, 2, 2, 3), name=f"{_pad}_stride{_s}")
for _op in ("MaxPool", "AvgPool"):
    _arg = "input" if _op == "MaxPool" else "value"
    for _pad, _k, _s in (("SAME", 3, 2), ("VALID", 2, 2), ("SAME", 3, 1), ("VALID", 3, 1)):
        case(_op, lambda x, _op=_op, _arg=_arg, _pad=_pad, _k=_k, _s=_s:
             getattr(raw, _op)(**{_arg: x}, ksize=[1, _k, _k, 1], strides=[1, _s, _s, 1], padding=_pad),
             _IMG, name=f"{_pad}_k{_k}_s{_s}")
for _op in ("MaxPool3D", "AvgPool3D"):
    for _pad in ("SAME", "VALID"):
        case(_op, lambda x, _op=_op, _pad=_pad:
             getattr(raw, _op)(input=x, ksize=[1, 2, 3, 2, 1], strides=[1, 2, 2, 2, 1], padding=_pad),
             f32(1, 5, 5, 5, 2), name=_pad)
case("BiasAdd", lambda x, b: raw.BiasAdd(value=x, bias=b), f32(2, 5, 5, 3), f32(3))
case("BiasAdd", lambda x, b: raw.BiasAdd(value=x, bias=b), f32(4, 3), f32(3), name="rank2")
case("BiasAdd", lambda x, b: raw.BiasAdd(value=x, bias=b, data_format="NCHW"), f32(2, 3, 5, 5), f32(3),
     name="NCHW")
for _op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
    case(_op, lambda x, s, o, m, v, _op=_op:
         getattr(raw, _op)(x=x, scale=s, offset=o, mean=m, variance=v, epsilon=0.001,
                           is_training=False)[0],
         f32(2, 4, 4, 3), f32(3), f32(3), f32(3), pos(3))
# odd depth_radius (TF's default 5) stays in TF: see test_lrn_odd_radius_stays_in_tf
case("LRN", lambda x: raw.LRN(input=x, depth_radius=2, bias=2.0, alpha=1e-2, beta=0.75), f32(2, 3, 3, 8),
     name="radius2")
case("LRN", lambda x: raw.LRN(input=x, depth_radius=4, alpha=0.3, beta=0.5), f32(1, 3, 3, 16),
     name="radius4")
case("TopKV2", lambda x: raw.TopKV2(input=x, k=c(3)), f32(4, 9))
case("TopKV2", lambda x: raw.TopKV2(input=x, k=c(2)), i32(3, 8, lo=0, hi=4), name="int32_ties")
case("TopKV2", lambda x: raw.TopKV2(input=x, k=c(4), sorted=True)[0], f32(2, 3, 7), name="rank3_values")
for _op in ("ResizeBilinear", "ResizeNearestNeighbor"):
    for _size, _ac, _hp in (([13, 7], False, False), ([13, 7], False, True), ([13, 7], True, False),
                            ([4, 3], False, True)):
        case(_op, lambda x, _op=_op, _size=_size, _ac=_ac, _hp=_hp:
             getattr(raw, _op)(images=x, size=c(_size), align_corners=_ac, half_pixel_centers=_hp),
             f32(2, 6, 5, 3), name=f"{_size[0]}x{_size[1]}_ac{int(_ac)}_hp{int(_hp)}")

# Identity-like and shape ops (the non-compute ones sit between compute ops to be clustered).
for _op in ("Identity", "Snapshot", "StopGradient", "PreventGradient"):
    case(_op, lambda x, _op=_op: raw.Exp(x=getattr(raw, _op)(input=raw.Tanh(x=x))), f32(3, 4))
case("Identity", lambda x: raw.Abs(x=raw.Identity(input=raw.Neg(x=x))), i32(3, 4), name="int32")
case("EnsureShape", lambda x: raw.Exp(x=raw.EnsureShape(input=raw.Tanh(x=x), shape=[3, 4])), f32(3, 4))
for _op in ("Shape", "Size"):
    for _out in (tf.int32, tf.int64):
        case(_op, lambda x, _op=_op, _out=_out: getattr(raw, _op)(input=raw.Tanh(x=x), out_type=_out),
             f32(3, 4, 2), name=f"out_{_out.name}")
case("ShapeN", lambda x, y: raw.ShapeN(input=[raw.Tanh(x=x), raw.Abs(x=y)]), f32(3, 4), f32(5, 1, 2))
case("ShapeN", lambda x, y: raw.ShapeN(input=[raw.Neg(x=x), raw.Abs(x=y)], out_type=tf.int64),
     i32(3, 4), i32(2), name="int32_out_int64")
case("Rank", lambda x: raw.Rank(input=raw.Tanh(x=x)), f32(3, 4, 2))
for _op in ("ZerosLike", "OnesLike"):
    case(_op, lambda x, _op=_op: raw.AddV2(x=getattr(raw, _op)(x=x), y=x), f32(3, 4))
    case(_op, lambda x, _op=_op: raw.AddV2(x=getattr(raw, _op)(x=x), y=x), i32(3, 4), name="int32")
    case(_op, lambda x, _op=_op: raw.LogicalOr(x=getattr(raw, _op)(x=x), y=x), boolean(3, 4), name="bool")
case("Const", lambda x: raw.AddV2(x=x, y=tf.constant(f32(3, 4))), f32(3, 4))
case("Const", lambda x: raw.Mul(x=x, y=tf.constant(i32(4))), i32(3, 4), name="int32")

# Shape and data movement.
case("Reshape", lambda x: raw.Reshape(tensor=x, shape=c([4, -1])), f32(2, 3, 4))
case("Reshape", lambda x: raw.Reshape(tensor=x, shape=c([-1], tf.int64)), i32(2, 3), name="int32_flat")
case("Reshape", lambda x: raw.Reshape(tensor=x, shape=c([1, 6])), boolean(2, 3), name="bool")
case("Transpose", lambda x: raw.Transpose(x=x, perm=c([2, 0, 1])), f32(2, 3, 4))
case("Transpose", lambda x: raw.Transpose(x=x, perm=c([1, 0], tf.int64)), i32(3, 5), name="int32")
case("ExpandDims", lambda x: raw.ExpandDims(input=x, axis=c(0)), f32(2, 3))
case("ExpandDims", lambda x: raw.ExpandDims(input=x, axis=c(-1)), i32(2, 3), name="int32_negative")
case("Squeeze", lambda x: raw.Squeeze(input=x, axis=[1]), f32(2, 1, 3, 1))
case("Squeeze", lambda x: raw.Squeeze(input=x), f32(2, 1, 3, 1), name="all")
case("Squeeze", lambda x: raw.Squeeze(input=x, axis=[-1]), i32(2, 1, 3, 1), name="int32_negative")
case("ConcatV2", lambda x, y: raw.ConcatV2(values=[x, y, x], axis=c(1)), f32(2, 3), f32(2, 5))
case("ConcatV2", lambda x, y: raw.ConcatV2(values=[x, y], axis=c(-1)), i32(2, 3), i32(2, 1),
     name="int32_negative")
case("ConcatV2", lambda x, y: raw.ConcatV2(values=[x, y], axis=c(0)), boolean(2, 3), boolean(1, 3),
     name="bool")
case("Pack", lambda x, y: raw.Pack(values=[x, y], axis=0), f32(2, 3), f32(2, 3))
case("Pack", lambda x, y: raw.Pack(values=[x, y, x], axis=-1), i32(2, 3), i32(2, 3), name="int32_last")
case("Unpack", lambda x: raw.Unpack(value=x, num=3, axis=1), f32(2, 3, 4))
case("Unpack", lambda x: raw.Unpack(value=x, num=4, axis=-1), i32(2, 4), name="int32_negative")
case("Split", lambda x: raw.Split(axis=c(1), value=x, num_split=3), f32(2, 6))
case("Split", lambda x: raw.Split(axis=c(-1), value=x, num_split=2), i32(2, 4), name="int32")
case("SplitV", lambda x: raw.SplitV(value=x, size_splits=c([1, 3, 2]), axis=c(1), num_split=3), f32(2, 6))
case("SplitV", lambda x: raw.SplitV(value=x, size_splits=c([2, -1]), axis=c(0), num_split=2), i32(5, 2),
     name="int32_inferred")
case("Slice", lambda x: raw.Slice(input=x, begin=c([0, 1]), size=c([2, 2])), f32(3, 4))
case("Slice", lambda x: raw.Slice(input=x, begin=c([1, 0, 1]), size=c([-1, 2, -1])), i32(3, 4, 5),
     name="int32_minus_one")
case("StridedSlice", lambda x: raw.StridedSlice(input=x, begin=c([0, 1]), end=c([2, 3]),
                                                strides=c([1, 1]), shrink_axis_mask=1), f32(3, 4),
     name="shrink")
case("StridedSlice", lambda x: raw.StridedSlice(input=x, begin=c([0, 0, 0]), end=c([0, 0, 0]),
                                                strides=c([1, 2, 1]), begin_mask=7, end_mask=7),
     f32(3, 6, 2), name="masks_stride2")
case("StridedSlice", lambda x: raw.StridedSlice(input=x, begin=c([-1, 0]), end=c([0, 0]),
                                                strides=c([-1, 1]), end_mask=3), f32(4, 3),
     name="reverse")
case("StridedSlice", lambda x: raw.StridedSlice(input=x, begin=c([0, 1]), end=c([0, 3]),
                                                strides=c([1, 1]), ellipsis_mask=1, new_axis_mask=0),
     f32(2, 3, 4), name="ellipsis")
case("StridedSlice", lambda x: raw.StridedSlice(input=x, begin=c([0, 0]), end=c([0, 2]),
                                                strides=c([1, 1]), new_axis_mask=1, end_mask=0),
     i32(3, 4), name="int32_new_axis")
case("Tile", lambda x: raw.Tile(input=x, multiples=c([2, 1, 3])), f32(2, 3, 1))
case("Tile", lambda x: raw.Tile(input=x, multiples=c([3, 2], tf.int64)), i32(2, 2), name="int32")
case("Fill", lambda v: raw.Fill(dims=c([2, 3]), value=v), np.float32(1.5))
case("Fill", lambda v: raw.Fill(dims=c([4], tf.int64), value=v), np.int32(-3), name="int32")
case("BroadcastTo", lambda x: raw.BroadcastTo(input=x, shape=c([2, 4, 3])), f32(4, 1))
case("BroadcastTo", lambda x: raw.BroadcastTo(input=x, shape=c([3, 2])), boolean(2), name="bool")
case("Pad", lambda x: raw.Pad(input=x, paddings=c([[1, 1], [0, 2]])), f32(2, 3))
case("Pad", lambda x: raw.Pad(input=x, paddings=c([[0, 0], [2, 1], [1, 0]], tf.int64)), i32(2, 3, 2),
     name="int32")
case("PadV2", lambda x: raw.PadV2(input=x, paddings=c([[1, 1], [0, 2]]), constant_values=c(-1.5, tf.float32)),
     f32(2, 3))
case("PadV2", lambda x: raw.PadV2(input=x, paddings=c([[2, 0], [1, 1]]), constant_values=c(7)),
     i32(2, 3), name="int32")
for _mode in ("REFLECT", "SYMMETRIC"):
    case("MirrorPad", lambda x, _mode=_mode: raw.MirrorPad(input=x, paddings=c([[1, 2], [2, 1]]), mode=_mode),
         f32(3, 4), name=_mode)
case("MirrorPad", lambda x: raw.MirrorPad(input=x, paddings=c([[0, 0], [1, 1], [1, 1], [0, 0]]),
                                          mode="REFLECT"), i32(1, 3, 3, 2), name="int32_image")
case("ReverseV2", lambda x: raw.ReverseV2(tensor=x, axis=c([1])), f32(2, 3, 4))
case("ReverseV2", lambda x: raw.ReverseV2(tensor=x, axis=c([0, -1])), i32(2, 3, 4), name="int32_two_axes")
case("GatherV2", consts(lambda x, i: raw.GatherV2(params=x, indices=i, axis=c(1)), f32(3, 5),
                       i32(2, 4, lo=0, hi=5)), name="axis1")
case("GatherV2", consts(lambda x, i: raw.GatherV2(params=x, indices=i, axis=c(0)), i32(6, 2),
                       i64(3, lo=0, hi=6)), name="int32_int64_indices")
case("GatherV2", consts(lambda x, i: raw.GatherV2(params=x, indices=i, axis=c(1), batch_dims=1),
                       f32(3, 5, 2), i32(3, 4, lo=0, hi=5)), name="batch_dims1")
case("GatherV2", consts(lambda x, i: raw.GatherV2(params=x, indices=i, axis=c(-1)), f32(3, 5),
                       i32(4, lo=0, hi=5)), name="negative_axis")
case("GatherNd", consts(lambda x, i: raw.GatherNd(params=x, indices=i), f32(3, 4, 2),
                       np.stack([i32(5, lo=0, hi=3), i32(5, lo=0, hi=4)], -1)), name="partial_index")
case("GatherNd", consts(lambda x, i: raw.GatherNd(params=x, indices=i), i32(3, 4),
                       np.stack([i64(2, 3, lo=0, hi=3), i64(2, 3, lo=0, hi=4)], -1)), name="int32_full_index")
case("OneHot", lambda i: raw.OneHot(indices=i, depth=c(5), on_value=c(2.0, tf.float32),
                                    off_value=c(-1.0, tf.float32)), i32(4, lo=0, hi=5))
case("OneHot", consts(lambda i: raw.OneHot(indices=i, depth=c(4), on_value=c(1), off_value=c(0), axis=0),
                     i64(2, 3, lo=-1, hi=5)), name="int32_axis0_out_of_range")
case("SpaceToBatchND", lambda x: raw.SpaceToBatchND(input=x, block_shape=c([2, 2]),
                                                    paddings=c([[0, 0], [0, 0]])), f32(1, 4, 4, 3))
case("SpaceToBatchND", lambda x: raw.SpaceToBatchND(input=x, block_shape=c([2, 3]),
                                                    paddings=c([[1, 1], [0, 1]])), i32(2, 4, 5, 1),
     name="int32_padded")
case("BatchToSpaceND", lambda x: raw.BatchToSpaceND(input=x, block_shape=c([2, 2]),
                                                    crops=c([[0, 0], [0, 0]])), f32(4, 3, 3, 2))
case("BatchToSpaceND", lambda x: raw.BatchToSpaceND(input=x, block_shape=c([2, 2]),
                                                    crops=c([[1, 0], [0, 1]])), i32(8, 2, 3, 1),
     name="int32_cropped")
for _op in ("SpaceToDepth", "DepthToSpace"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(input=x, block_size=2), f32(2, 4, 6, 4))
    case(_op, lambda x, _op=_op: getattr(raw, _op)(input=x, block_size=2), i32(1, 4, 4, 8), name="int32")


# --- issue 12: ops added for coverage (math, array, nn, image) --------------------------------

for _op in ("Expm1", "Rint", "Inv"):
    case(_op, lambda x, _op=_op: getattr(raw, _op)(x=x), f32(3, 7, lo=0.2, hi=3) * np.where(boolean(3, 7), 1, -1).astype(np.float32))
case("Rint", lambda x: raw.Rint(x=x), np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3, -7.7], np.float32), name="halves")
for _op in ("Xlogy", "Xdivy", "Xlog1py"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y),
         np.where(boolean(3, 5), 0.0, f32(3, 5)).astype(np.float32), pos(3, 5), name="zeros")
case("Atan2", lambda y, x: raw.Atan2(y=y, x=x), f32(4, 6), f32(4, 6))
case("Atan2", lambda y, x: raw.Atan2(y=y, x=x), np.array([0.0, 1.0, -1.0, 0.0, 2.0], np.float32),
     np.array([-1.0, 0.0, 0.0, 1.0, -2.0], np.float32), name="axes")
case("MulNoNan", lambda x, y: raw.MulNoNan(x=x, y=y), np.array([np.inf, np.nan, 1.5, 2.0], np.float32),
     np.array([0.0, 0.0, 3.0, -1.0], np.float32), name="special")
# integer Div stays in TF: see test_integer_div_stays_in_tf
for _op in ("TruncateDiv", "Mod", "TruncateMod"):
    case(_op, consts(lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), i32(4, 6, lo=-20, hi=20),
                     nonzero_i32(4, 6)), name="int32_signs")
for _op in ("Div", "TruncateDiv"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), f32(4, 5, lo=-9, hi=9),
         f32(4, 5, lo=0.5, hi=3) * np.where(boolean(4, 5), 1, -1).astype(np.float32))
for _op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), i32(4, 5, lo=-100, hi=100),
         i32(4, 5, lo=-100, hi=100), name="int32")
case("BitwiseAnd", consts(lambda x, y: raw.BitwiseAnd(x=x, y=y), i64(6, lo=-100, hi=100),
                         i64(6, lo=0, hi=100)), name="int64")
case("Invert", lambda x: raw.Invert(x=x), i32(4, 5, lo=-100, hi=100), name="int32")
case("Invert", lambda x: raw.Invert(x=x), RNG.integers(0, 255, (7,)).astype(np.uint8), name="uint8")
for _op in ("LeftShift", "RightShift"):
    case(_op, lambda x, y, _op=_op: getattr(raw, _op)(x=x, y=y), i32(4, 5, lo=-100, hi=100),
         i32(4, 5, lo=0, hi=8), name="int32")
case("ApproximateEqual", lambda x, y: raw.ApproximateEqual(x=x, y=y, tolerance=0.3), f32(4, 5), f32(4, 5))
case("EuclideanNorm", lambda x: raw.EuclideanNorm(input=x, axis=c([1]), keep_dims=False), f32(3, 4, 5))
case("EuclideanNorm", lambda x: raw.EuclideanNorm(input=x, axis=c([0, 2]), keep_dims=True), f32(3, 4, 5),
     name="keep")
case("L2Loss", lambda x: raw.L2Loss(t=x), f32(4, 5))
case("SegmentSum", lambda x, s: raw.SegmentSum(data=x, segment_ids=s), f32(6, 3),
     np.array([0, 0, 1, 3, 3, 3], np.int32), name="gap")
case("SegmentMax", lambda x, s: raw.SegmentMax(data=x, segment_ids=s), f32(6, 3),
     np.array([0, 0, 1, 2, 2, 2], np.int32))
case("SegmentSum", consts(lambda x, s: raw.SegmentSum(data=x, segment_ids=s), i32(5),
                         np.array([0, 1, 1, 2, 2], np.int64)), name="int32_int64_ids")
for _op in ("UnsortedSegmentSum", "UnsortedSegmentMax"):
    case(_op, lambda x, s, _op=_op: getattr(raw, _op)(data=x, segment_ids=s, num_segments=c(4)), f32(6, 3),
         np.array([3, 0, 1, 0, 3, 1], np.int32))
case("UnsortedSegmentSum", lambda x, s: raw.UnsortedSegmentSum(data=x, segment_ids=s, num_segments=c(3)),
     i32(6, 2), np.array([2, 0, 0, 2, 2, 1], np.int32), name="int32")
for _op in ("SparseSegmentMean", "SparseSegmentSqrtN"):
    case(_op, lambda x, i, s, _op=_op: getattr(raw, _op)(data=x, indices=i, segment_ids=s), f32(6, 3),
         np.array([0, 2, 3, 5, 1], np.int32), np.array([0, 0, 1, 1, 1], np.int32))
case("MatrixBandPart", lambda x: raw.MatrixBandPart(input=x, num_lower=c(1), num_upper=c(0)), f32(2, 4, 5))
case("MatrixBandPart", lambda x: raw.MatrixBandPart(input=x, num_lower=c(-1, tf.int64), num_upper=c(2, tf.int64)),
     f32(4, 5), name="all_lower")
case("MatrixBandPart", lambda x: raw.MatrixBandPart(input=x, num_lower=c(0), num_upper=c(-1)), f32(3, 3),
     name="upper")   # integer MatrixBandPart stays in TF (ovtf/ocm/math_ops.py)
case("MatrixDiag", lambda x: raw.MatrixDiag(diagonal=x), f32(2, 4))
case("MatrixDiag", lambda x: raw.MatrixDiag(diagonal=x), i32(3), name="int32")
case("MatrixInverse", lambda x: raw.MatrixInverse(input=x), f32(2, 4, 4) + 4 * np.eye(4, dtype=np.float32),
     rtol=1e-4)
case("LinSpace", lambda x: raw.LinSpace(start=c(-1.0, tf.float32), stop=c(2.0, tf.float32), num=c(7)) * x, f32(7))
case("LinSpace", lambda a, b, x: raw.LinSpace(start=a, stop=b, num=c(5)) + x, np.float32(0.5), np.float32(3.0),
     f32(5), name="runtime_ends")

case("Concat", lambda x, y: raw.Concat(concat_dim=c(1), values=[x, y]), f32(2, 3), f32(2, 4))
case("Concat", lambda x, y: raw.Concat(concat_dim=c(0), values=[x, y]), i32(2, 3), i32(1, 3), name="int32")
case("Gather", consts(lambda x, i: raw.Gather(params=x, indices=i), f32(5, 3), i32(2, 4, lo=0, hi=5)))
case("Reverse", lambda x: raw.Reverse(tensor=x, dims=tf.constant([False, True, False])), f32(2, 3, 4))
case("ReverseSequence", lambda x, l: raw.ReverseSequence(input=x, seq_lengths=l, seq_dim=1, batch_dim=0),
     f32(3, 5, 2), np.array([1, 5, 3], np.int32))
case("ReverseSequence", lambda x, l: raw.ReverseSequence(input=x, seq_lengths=l, seq_dim=0, batch_dim=1),
     i32(4, 3), np.array([2, 4, 0], np.int32), name="int32_time_major")
case("Roll", lambda x: raw.Roll(input=x, shift=c([2, -1]), axis=c([0, 1])), f32(4, 5))
case("Roll", lambda x: raw.Roll(input=x, shift=c(7), axis=c(-1)), i32(2, 5), name="int32_wrap")
case("ConjugateTranspose", lambda x: raw.ConjugateTranspose(x=x, perm=c([1, 0, 2])), f32(2, 3, 4))
case("InvertPermutation", lambda p: raw.InvertPermutation(x=p) + 0, np.array([2, 0, 3, 1, 4], np.int32), name="int32")
case("BroadcastArgs", lambda x, y: raw.BroadcastArgs(s0=x, s1=y) + 0, np.array([2, 1, 3], np.int32),
     np.array([4, 1], np.int32), name="int32")
case("IdentityN", lambda x, y: raw.IdentityN(input=[raw.Neg(x=x), raw.Abs(x=y)]), f32(3), i32(3))
case("SparseToDense", lambda i, v: raw.SparseToDense(sparse_indices=i, output_shape=c([4, 5]), sparse_values=v,
                                                     default_value=c(0.5, tf.float32)),
     np.array([[0, 1], [2, 3], [3, 0]], np.int32), f32(3))
case("TensorScatterUpdate", lambda x, i, u: raw.TensorScatterUpdate(tensor=x, indices=i, updates=u), f32(6, 3),
     np.array([[1], [4], [0]], np.int32), f32(3, 3))
case("TensorScatterAdd", lambda x, i, u: raw.TensorScatterAdd(tensor=x, indices=i, updates=u), f32(6, 3),
     np.array([[1], [1], [0]], np.int32), f32(3, 3), name="repeated")
case("TensorScatterAdd", consts(lambda x, i, u: raw.TensorScatterAdd(tensor=x, indices=i, updates=u), i32(3, 4),
                               np.array([[0, 1], [2, 3], [0, 1]], np.int64), i32(3)), name="int32_elements")
case("ScatterNd", lambda i, u: raw.ScatterNd(indices=i, updates=u, shape=c([6, 3])),
     np.array([[1], [4], [1]], np.int32), f32(3, 3), name="repeated")
case("ScatterNd", consts(lambda i, u: raw.ScatterNd(indices=i, updates=u, shape=c([3, 4], tf.int64)),
                        np.array([[0, 1], [2, 3]], np.int64), i32(2)), name="int32_elements")
case("DynamicStitch", lambda a, b, x, y: raw.DynamicStitch(indices=[a, b], data=[x, y]),
     np.array([0, 4], np.int32), np.array([1, 3, 2], np.int32), f32(2, 3), f32(3, 3))
case("Where", lambda x: raw.Where(condition=x), boolean(3, 4), name="bool")
case("Where", lambda x: raw.Where(condition=x), i32(5, lo=-1, hi=2), name="int32")
case("Unique", lambda x: raw.Unique(x=x), np.array([3, 1, 3, 2, 1, 7], np.int32), name="int32")
case("Unique", consts(lambda x: raw.Unique(x=x, out_idx=tf.int64), i64(9, lo=-2, hi=3)), name="int64_out_int64")
# ListDiff stays in TF (no entry: ovtf/ocm/array_ops.py)
case("DynamicPartition", lambda x, p: raw.DynamicPartition(data=x, partitions=p, num_partitions=3), f32(5, 2),
     np.array([0, 2, 2, 0, 2], np.int32))

case("MaxPoolV2", lambda x: raw.MaxPoolV2(input=x, ksize=c([1, 3, 3, 1]), strides=c([1, 2, 2, 1]), padding="SAME"),
     _IMG)
case("MaxPoolWithArgmax", lambda x: raw.MaxPoolWithArgmax(input=x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                                          padding="VALID"), _IMG)
case("MaxPoolWithArgmax", lambda x: raw.MaxPoolWithArgmax(input=x, ksize=[1, 3, 3, 1], strides=[1, 3, 3, 1],
                                                          padding="VALID", include_batch_in_index=True), _IMG,
     name="k3s3_batch_index")
for _pad in ("VALID", "SAME"):
    case("ExtractImagePatches", lambda x, _pad=_pad: raw.ExtractImagePatches(
        images=x, ksizes=[1, 3, 3, 1], strides=[1, 2, 2, 1], rates=[1, 1, 1, 1], padding=_pad), _IMG, name=_pad)
case("Conv3DBackpropInputV2", lambda dy, w: raw.Conv3DBackpropInputV2(
    input_sizes=c([1, 4, 5, 4, 2]), filter=w, out_backprop=dy, strides=[1, 1, 1, 1, 1], padding="SAME"),
     f32(1, 4, 5, 4, 3), f32(2, 2, 2, 2, 3))
case("FakeQuantWithMinMaxArgs", lambda x: raw.FakeQuantWithMinMaxArgs(inputs=x, min=-1.0, max=1.0), f32(4, 5))
case("FakeQuantWithMinMaxArgs", lambda x: raw.FakeQuantWithMinMaxArgs(inputs=x, min=-0.3, max=1.7, num_bits=4,
                                                                      narrow_range=True), f32(4, 5), name="4bit_narrow")
case("FakeQuantWithMinMaxVars", lambda x: raw.FakeQuantWithMinMaxVars(
    inputs=x, min=c(-1.0, tf.float32), max=c(1.5, tf.float32)), f32(4, 5))
case("FakeQuantWithMinMaxVarsPerChannel", lambda x: raw.FakeQuantWithMinMaxVarsPerChannel(
    inputs=x, min=c([-1.0, -0.5, -2.0], tf.float32), max=c([1.0, 0.5, 2.0], tf.float32)), f32(4, 3))

_BOXES = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11], [0, 10.1, 1, 11.1],
                   [0, 100, 1, 101]], np.float32)
_SCORES = np.array([0.9, 0.75, 0.6, 0.95, 0.5, 0.3], np.float32)
case("NonMaxSuppressionV2", lambda b, s: raw.NonMaxSuppressionV2(
    boxes=b, scores=s, max_output_size=c(3), iou_threshold=c(0.5, tf.float32)), _BOXES, _SCORES)
for _max, _score in ((3, 0.0), (10, 0.4)):
    case("NonMaxSuppressionV3", lambda b, s, _max=_max, _score=_score: raw.NonMaxSuppressionV3(
        boxes=b, scores=s, max_output_size=c(_max), iou_threshold=c(0.5, tf.float32),
        score_threshold=c(_score, tf.float32)), _BOXES, _SCORES, name=f"max{_max}_score{_score}")
for _pad in (True, False):
    case("NonMaxSuppressionV4", lambda b, s, _pad=_pad: raw.NonMaxSuppressionV4(
        boxes=b, scores=s, max_output_size=c(5), iou_threshold=c(0.5, tf.float32),
        score_threshold=c(0.0, tf.float32), pad_to_max_output_size=_pad), _BOXES, _SCORES, name=f"pad{int(_pad)}")
for _sigma in (0.0, 0.5):
    case("NonMaxSuppressionV5", lambda b, s, _sigma=_sigma: raw.NonMaxSuppressionV5(
        boxes=b, scores=s, max_output_size=c(5), iou_threshold=c(0.5, tf.float32),
        score_threshold=c(0.0, tf.float32), soft_nms_sigma=c(_sigma, tf.float32)), _BOXES, _SCORES,
         name=f"sigma{_sigma}")
_RGB = f32(2, 8, 9, 3, lo=0, hi=1)
case("CropAndResize", lambda x, b, i: raw.CropAndResize(image=x, boxes=b, box_ind=i, crop_size=c([4, 5])), _RGB,
     np.array([[0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], [0.5, 0.1, 0.2, 0.7]], np.float32), np.array([0, 1, 1], np.int32))
case("CropAndResize", lambda x, b, i: raw.CropAndResize(image=x, boxes=b, box_ind=i, crop_size=c([3, 3])), _RGB,
     np.array([[-0.2, -0.1, 1.3, 0.9]], np.float32), np.array([1], np.int32), name="outside")
case("AdjustContrastv2", lambda x: raw.AdjustContrastv2(images=x, contrast_factor=c(1.7, tf.float32)), _RGB)
case("AdjustSaturation", lambda x: raw.AdjustSaturation(images=x, scale=c(0.6, tf.float32)), _RGB)
case("AdjustHue", lambda x: raw.AdjustHue(images=x, delta=c(0.2, tf.float32)), _RGB)
case("AdjustHue", lambda x: raw.AdjustHue(images=x, delta=c(-0.45, tf.float32)), _RGB, name="negative")
case("RGBToHSV", lambda x: raw.RGBToHSV(images=x), _RGB)
case("HSVToRGB", lambda x: raw.HSVToRGB(images=x), _RGB)

# --- oneDNN fused ops: produced by grappler's remapper from tf.Variable weights ----------------

def _variable(*shape, positive=False):
    values = pos(*shape, lo=0.5, hi=1.5) if positive else f32(*shape, lo=-1, hi=1)
    return tf.Variable(values)


def _fused_cases():
    w, b6 = _variable(3, 3, 4, 6), _variable(6)
    dw, b8 = _variable(3, 3, 4, 2), _variable(8)
    w3, b5 = _variable(2, 2, 2, 4, 5), _variable(5)
    mw, mb = _variable(12, 7), _variable(7)
    scale, offset, mean, var = _variable(4), _variable(4), _variable(4), _variable(4, positive=True)
    bn = dict(scale=scale, offset=offset, mean=mean, variance=var, epsilon=0.001, is_training=False)
    img = f32(2, 8, 8, 4)

    def conv_bias(x, strides=1, padding="SAME"):
        return tf.nn.bias_add(tf.nn.conv2d(x, w, strides, padding), b6)

    yield "_FusedConv2D", lambda x: tf.nn.relu(conv_bias(x)), (img,), "BiasAdd_Relu"
    yield "_FusedConv2D", lambda x: tf.nn.relu6(conv_bias(x, 2, "VALID")), (img,), "BiasAdd_Relu6_VALID_s2"
    yield "_FusedConv2D", lambda x: tf.nn.elu(conv_bias(x)), (img,), "BiasAdd_Elu"
    yield "_FusedConv2D", lambda x: tf.nn.leaky_relu(conv_bias(x), 0.2), (img,), "BiasAdd_LeakyRelu"
    yield "_FusedConv2D", lambda x, y: tf.nn.relu(conv_bias(x) + y), (img, f32(2, 8, 8, 6)), "BiasAdd_Add_Relu"
    yield "_FusedConv2D", (lambda x: tf.nn.relu(tf.compat.v1.nn.fused_batch_norm(
        tf.nn.conv2d(x, w[:, :, :, :4], 1, "SAME"), **bn)[0])), (img,), "FusedBatchNorm_Relu"
    yield "_FusedConv2D", lambda x: (lambda y: y * tf.sigmoid(y))(conv_bias(x)), (img,), "BiasAdd_swish"
    yield "_FusedDepthwiseConv2dNative", (lambda x: tf.nn.relu6(tf.nn.bias_add(
        tf.nn.depthwise_conv2d(x, dw, [1, 1, 1, 1], "SAME"), b8))), (img,), "BiasAdd_Relu6"
    yield "_FusedDepthwiseConv2dNative", (lambda x: tf.nn.bias_add(
        tf.nn.depthwise_conv2d(x, dw, [1, 2, 2, 1], "VALID"), b8)), (img,), "BiasAdd_VALID_s2"
    yield "_FusedConv3D", (lambda x: tf.nn.relu(tf.nn.bias_add(
        tf.nn.conv3d(x, w3, [1, 1, 1, 1, 1], "SAME"), b5))), (f32(1, 4, 5, 4, 4),), "BiasAdd_Relu"
    for label, act in (("Relu", tf.nn.relu), ("none", lambda t: t), ("Tanh", tf.tanh),
                       ("GeluApproximate", lambda t: tf.nn.gelu(t, approximate=True)),
                       ("GeluExact", lambda t: tf.nn.gelu(t, approximate=False))):
        yield "_FusedMatMul", (lambda x, act=act: act(tf.nn.bias_add(tf.matmul(x, mw), mb))), \
            (f32(3, 12),), f"BiasAdd_{label}"
    yield "_FusedMatMul", (lambda x: tf.nn.relu(tf.nn.bias_add(tf.matmul(x, mw, transpose_a=True), mb))), \
        (f32(12, 3),), "transpose_a"
    yield "_MklFusedBatchMatMulV2", (lambda q, k: tf.matmul(q, k, transpose_b=True) * 0.125
                                     + tf.constant(f32(1, 1, 1, 5))), \
        (f32(2, 3, 5, 4), f32(2, 3, 5, 4)), "Mul_Add"
    yield "_MklFusedBatchMatMulV2", (lambda q, k, m: tf.matmul(q, k, transpose_b=True) * 0.25 + m), \
        (f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 1, 1, 5)), "Mul_Add_runtime_mask"
    yield "_MklSwish", (lambda x: (lambda y: tf.sigmoid(y) * y)(x + 1.0)), (img,), "sigmoid_mul"
    yield "_MklFusedMish", (lambda x: (lambda y: y * tf.tanh(tf.math.softplus(y)))(conv_bias(x))), \
        (img,), "after_conv"
    # grappler's arithmetic optimizer fuses a run of unary ops into _UnaryOpsComposition
    yield "_UnaryOpsComposition", lambda x: tf.abs(tf.sigmoid(tf.tanh(x * 2.0))) - 0.5, \
        (f32(3, 4),), "Tanh_Sigmoid_Abs"
    yield "_FusedBatchNormEx", (lambda x: tf.nn.relu(tf.compat.v1.nn.fused_batch_norm(
        tf.nn.conv2d(x, w[:, :, :, :4], 1, "SAME") * 1.0, **bn)[0])), (img,), "Relu"


for _op, _fn, _inputs, _name in _fused_cases():
    case(_op, _fn, *_inputs, name=_name, fused=True, rtol=1e-5)


def _layer_norm_session(x_value, scale_value, offset_value):
    """`_MklLayerNorm` as the remapper writes it (Keras 2 layer norms), in a TF1 graph."""
    from tensorflow.core.framework import attr_value_pb2
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, x_value.shape, name="x")
        scale = tf.constant(scale_value, name="scale")
        offset = tf.constant(offset_value, name="offset")
        pre = tf.tanh(x, name="pre")
        del scale, offset, pre
    graph_def = graph.as_graph_def()
    node = graph_def.node.add(name="ln", op="_MklLayerNorm", input=["pre", "scale", "offset"])
    node.attr["T"].CopyFrom(attr_value_pb2.AttrValue(type=tf.float32.as_datatype_enum))
    node.attr["epsilon"].f = 0.001
    post = graph_def.node.add(name="post", op="Exp", input=["ln"])
    post.attr["T"].CopyFrom(attr_value_pb2.AttrValue(type=tf.float32.as_datatype_enum))
    return graph_def, {"x:0": x_value}, ["post:0"]


case("_MklLayerNorm", _layer_norm_session, f32(3, 4, 10), f32(10), f32(10), name="session",
     session=True, rtol=1e-5)


# --- running a case ---------------------------------------------------------------------------

PLAIN_GRAPPLER = {
    "constant_folding": False, "arithmetic_optimization": False, "dependency_optimization": False,
    "remapping": False, "loop_optimization": False, "shape_optimization": False,
    "disable_model_pruning": True, "min_graph_nodes": -1,
}


class _Reports:
    def __init__(self):
        self.items = []     # PlacementReports
        self.graphs = []    # rewritten GraphDefs

    def clear(self):
        self.items.clear()
        self.graphs.clear()

    def clustered(self, op):
        """(number of `op` nodes inside clusters, number left outside)."""
        inside = outside = 0
        if op == "Const":  # never clustered on its own: copied into the clusters reading it
            return self.consts_in_clusters()
        for report in self.items:
            for placement in report.placement.values():
                if placement.op == op:
                    if placement.cluster is None:
                        outside += 1
                    else:
                        inside += 1
        return inside, outside

    def consts_in_clusters(self):
        """(Const nodes inside OVTFCluster bodies, Consts outside that feed a cluster)."""
        from tensorflow.core.framework import graph_pb2
        inside = outside = 0
        for graph_def in self.graphs:
            consts = {node.name for node in graph_def.node if node.op == "Const"}
            for node in graph_def.node:
                if node.op != "OVTFCluster":
                    continue
                body = graph_pb2.GraphDef.FromString(node.attr["cluster_graph"].s)
                inside += sum(1 for inner in body.node if inner.op == "Const")
                outside += sum(1 for name in node.input if name.split(":")[0] in consts)
        return inside, outside

    def outside_reasons(self, op):
        return sorted({(p.reason, p.detail) for r in self.items for p in r.placement.values()
                       if p.op == op and p.cluster is None}, key=str)


from ovtf.partitioner.report import ALREADY_REWRITTEN, DISABLED as _LEFT_DISABLED  # noqa: E402

_NOT_PLACED = (ALREADY_REWRITTEN, _LEFT_DISABLED)


@pytest.fixture
def reports(monkeypatch):
    collected = _Reports()
    record = placement_log.record

    def capture(report):
        # reports for graphs not really placed (ovtf disabled for the reference run, TF's
        # second optimizer pass over an already rewritten graph) say nothing about the op
        if getattr(report, "left_alone_reason", None) not in _NOT_PLACED:
            collected.items.append(report)
        record(report)

    def rewrite(graph_def, fetch, preserve):
        result = bridge.default_graph_rewriter(graph_def, fetch, preserve)
        if result is not None:
            collected.graphs.append(result)
        return result

    monkeypatch.setattr(placement_log, "record", capture)
    monkeypatch.setattr(bridge, "graph_rewriter", rewrite)
    return collected


@pytest.fixture
def grappler_options():
    """Set grappler's experimental options for one test, then restore them exactly."""
    from tensorflow.python.eager import context
    ctx = context.context()
    saved = dict(ctx._optimizer_experimental_options)

    def apply(options):
        ctx.set_optimizer_experimental_options(options)

    yield apply
    ctx._optimizer_experimental_options = saved
    ctx._thread_local_data.function_call_options = None


def to_numpy(value):
    if isinstance(value, (list, tuple)):
        return [array for item in value for array in to_numpy(item)]
    if hasattr(value, "numpy"):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.name == "bfloat16":
        array = array.astype(np.float32)
    return [array]


def assert_same(actual, expected, rtol, what=""):
    assert len(actual) == len(expected), what
    for index, (got, want) in enumerate(zip(actual, expected)):
        label = f"{what} output {index}"
        assert got.shape == want.shape, f"{label}: shape {got.shape} != {want.shape}"
        assert got.dtype == want.dtype, f"{label}: dtype {got.dtype} != {want.dtype}"
        if want.dtype.kind in "fc":
            scale = float(np.max(np.abs(want[np.isfinite(want)]), initial=1.0))
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(scale, 1.0),
                                       equal_nan=True, err_msg=label)
        else:
            np.testing.assert_array_equal(got, want, err_msg=label)


def _run_function(fn, inputs, reports=None):
    function = tf.function(fn)
    args = [x if isinstance(x, tf.Tensor) else tf.constant(x) for x in inputs]
    ovtf.disable()
    bridge.clear_function_cache()
    expected = to_numpy(function(*args))
    if reports is not None:  # the reference run's "left alone: disabled" reports don't count
        reports.clear()
    ovtf.enable()
    bridge.clear_function_cache()
    ovtf.reset_stats()
    actual = to_numpy(function(*args))
    return actual, expected


def _run_session(build, inputs, reports=None):
    graph_def, feeds, fetches = build(*inputs)
    results = []
    for enabled in (False, True):
        if enabled and reports is not None:
            reports.clear()
        (ovtf.enable if enabled else ovtf.disable)()
        ovtf.reset_stats()
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            results.append(to_numpy(session.run(fetches, feeds)))
    return results[1], results[0]


def check_case(item, reports, grappler_options):
    if not item.fused:
        grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    if item.session:
        actual, expected = _run_session(item.fn, item.inputs, reports)
    else:
        actual, expected = _run_function(item.fn, item.inputs, reports)
    stats = ovtf.stats()
    inside, outside = reports.clustered(item.op)
    if item.op.startswith("_") and inside == outside == 0:
        # TF's remapper forms oneDNN fusions only on some CPUs (none of these on an AVX2 EPYC)
        assert_same(actual, expected, item.rtol, item.id)
        pytest.skip(f"TensorFlow formed no {item.op} on this CPU (answers checked)")
    assert inside >= 1 and outside == 0, (
        f"{item.op}: {inside} node(s) clustered, {outside} left in TF "
        f"{reports.outside_reasons(item.op)}; stats {stats}")
    assert stats["device_executions"] >= 1 and stats["fallbacks"] == 0, stats
    assert_same(actual, expected, item.rtol, item.id)
    return stats


@pytest.mark.parametrize("item", CASES, ids=[item.id for item in CASES])
def test_op(item, reports, grappler_options):
    check_case(item, reports, grappler_options)


def test_every_supported_op_has_a_case():
    covered = {item.op for item in CASES}
    missing = sorted(set(ovtf.get_supported_ops()) - covered)
    assert not missing, f"ops in the capability table without a numerical test: {missing}"


def test_cases_only_name_supported_ops():
    unknown = sorted({item.op for item in CASES} - set(ovtf.get_supported_ops()))
    assert not unknown, f"cases for ops that are not in the capability table: {unknown}"


def test_a_wrong_result_or_a_tf_placement_fails(reports, grappler_options):
    """The harness itself: an op kept in TF, or a different op than claimed, must fail."""
    item = Case("Tanh", lambda x: raw.Tanh(x=x), (f32(3, 4),), "disabled")
    ovtf.set_disabled_ops(["Tanh"])
    with pytest.raises(AssertionError, match="left in TF"):
        check_case(item, reports, grappler_options)
    with pytest.raises(AssertionError):
        assert_same([np.ones(3, np.float32)], [np.ones(3, np.float32) * (1 + 3e-5)], 1e-5)


def _on_device(fn, inputs, op, reports, grappler_options, rtol=1e-5):
    """`fn` with every `op` node inside a cluster that ran on the device, TF's answers."""
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(fn, inputs, reports)
    stats = ovtf.stats()
    inside, outside = reports.clustered(op)
    assert inside >= 1 and outside == 0, (op, inside, outside, reports.outside_reasons(op))
    assert stats["device_executions"] >= 1 and stats["fallbacks"] == 0, stats
    assert_same(actual, expected, rtol, op)   # shapes and dtypes too
    return actual, expected


def _run_unclustered(fn, inputs, op, reports, grappler_options):
    """`op` must stay in TF (reason given) and the program must still be right."""
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    actual, expected = _run_function(fn, inputs, reports)
    inside, outside = reports.clustered(op)
    assert inside == 0 and outside >= 1, (inside, outside)
    assert_same(actual, expected, 1e-5, op)
    return reports.outside_reasons(op)


def test_lrn_odd_radius_stays_in_tf(reports, grappler_options):
    reasons = _run_unclustered(lambda x: raw.Exp(x=raw.LRN(input=raw.Tanh(x=x))), (f32(1, 3, 3, 8),),
                               "LRN", reports, grappler_options)
    assert reasons == [("ATTR", "depth_radius=5 (odd radii are computed wrongly by OpenVINO)")]


def test_padv2_runtime_float_constant_value_stays_in_tf(reports, grappler_options):
    """OpenVINO's frontend pads with 0 when the value is not a constant, and only integer
    values are baked per value: a float value from outside the cluster keeps PadV2 in TF."""
    reasons = _run_unclustered(
        lambda x, v: raw.PadV2(input=raw.Neg(x=x), paddings=c([[2, 0], [1, 1]]), constant_values=v),
        (f32(2, 3), np.float32(7.5)), "PadV2", reports, grappler_options)
    assert [reason for reason, _ in reasons] == ["STATIC_INPUT"]


def test_runtime_integer_shape_arguments_are_baked_per_value(reports, grappler_options):
    """Integer static inputs arriving from outside the cluster (a fed paddings, an int pad
    value) run on the device, compiled once per value, with TF's answers."""
    grappler_options(PLAIN_GRAPPLER)
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    fn = lambda x, p, v: raw.PadV2(input=raw.Neg(x=x), paddings=p, constant_values=v)  # noqa: E731
    actual, expected = _run_function(fn, (i32(2, 3), np.array([[2, 0], [1, 1]], np.int32),
                                          np.int32(7)), reports)
    assert_same(actual, expected, 0, "PadV2")
    inside, outside = reports.clustered("PadV2")
    assert inside >= 1 and outside == 0, (inside, outside)


def test_integer_div_stays_in_tf(reports, grappler_options):
    """TF's integer Div truncates, OpenVINO's frontend floors: kept in TF. When this fails
    because the node was clustered and still right, OpenVINO was fixed: allow int Div."""
    reasons = _run_unclustered(lambda x, y: raw.Div(x=raw.Neg(x=x), y=raw.Abs(x=y) + 1),
                               (i32(4, 6, lo=-20, hi=20), i32(4, 6)), "Div", reports, grappler_options)
    assert [reason for reason, _ in reasons] == ["ATTR"]


@pytest.mark.parametrize("op", ["Select", "SelectV2"])
def test_integer_select_stays_in_tf(op, reports, grappler_options):
    """OpenVINO 2026.4.1 returned the else-branch everywhere for an int32 select on this
    project's AVX2 CPU: integer/bool selects stay in TF (reason DTYPE), and stay right."""
    if op == "Select":
        fn = lambda p, x, y: raw.Select(condition=p, x=raw.Neg(x=x), y=y)  # noqa: E731
    else:
        fn = lambda p, x, y: raw.SelectV2(condition=p, t=raw.Neg(x=x), e=y)  # noqa: E731
    reasons = _run_unclustered(fn, (boolean(3, 4), i32(3, 4), i32(3, 4)), op, reports,
                               grappler_options)
    assert [reason for reason, _ in reasons] == ["DTYPE"]


def test_openvino_integer_div_still_floors():
    """The measurement behind keeping integer Div in TF (fails when OpenVINO gets it right;
    2026.4 gives [-2, -2, 3] for TF's [-3, -3, 3])."""
    ov = pytest.importorskip("openvino")
    function = tf.function(lambda x, y: raw.Div(x=x, y=y),
                           input_signature=[tf.TensorSpec([3], tf.int32)] * 2)
    compiled = ov.Core().compile_model(ov.convert_model(function.get_concrete_function()), "CPU")
    x, y = np.array([-7, 7, -7], np.int32), np.array([2, -2, -2], np.int32)
    assert function(x, y).numpy().tolist() == [-3, -3, 3]
    assert compiled([x, y])[0].tolist() != [-3, -3, 3]


@pytest.mark.parametrize("label,fn,inputs,op,detail", [
    ("unique_float", lambda x: raw.Unique(x=raw.Neg(x=x))[0], (np.array([0.5, -1.0, 0.5, 2.0], np.float32),),
     "Unique", "float Unique returns wrong values in OpenVINO"),
    ("argmax_same", lambda x: raw.MaxPoolWithArgmax(input=raw.Neg(x=x), ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                                                     padding="SAME")[0], (f32(1, 9, 9, 2),),
     "MaxPoolWithArgmax", "ksize [1, 3, 3, 1] != strides [1, 2, 2, 1] (OpenVINO's output shape is wrong)"),
    ("crop_extrapolated", lambda x, b, i: raw.CropAndResize(image=raw.Neg(x=x), boxes=b, box_ind=i,
                                                            crop_size=c([3, 3]), extrapolation_value=-1.0),
     (f32(1, 5, 5, 3), np.array([[-0.2, -0.1, 1.3, 0.9]], np.float32), np.array([0], np.int32)),
     "CropAndResize", "extrapolation_value != 0 (OpenVINO's frontend converts 0 only)"),
    ("topk_unsorted", lambda x: raw.TopKV2(input=raw.Neg(x=x), k=c(3), sorted=False)[0],
     (np.array([[40.0, 30.0, 20.0, 10.0], [10.0, 20.0, 15.0, 70.0]], np.float32),),
     "TopKV2", "sorted=false (TF's order is unspecified and OpenVINO's differs)"),
], ids=lambda value: value if isinstance(value, str) and " " not in value and len(value) < 20 else "")
def test_kept_in_tf_with_reason(label, fn, inputs, op, detail, reports, grappler_options):
    """Variants OpenVINO gets wrong stay in TF, with the reason; the program stays right."""
    reasons = _run_unclustered(fn, inputs, op, reports, grappler_options)
    assert reasons == [("ATTR", detail)], label


@pytest.mark.parametrize("label", ["unique_float", "argmax_same"])
def test_openvino_still_wrong_where_kept_in_tf(label):
    """When one of these fails, OpenVINO fixed it: the variant can move into the table."""
    ov = pytest.importorskip("openvino")
    if label == "unique_float":
        fn, x = (lambda t: raw.Unique(x=t)[0]), np.array([0.5, -1.0, 0.5, 2.0], np.float32)
    else:
        fn, x = (lambda t: raw.MaxPoolWithArgmax(input=t, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                                                padding="SAME")[0]), f32(1, 9, 9, 2)
    # autograph=False: autograph finds a lambda by its source lines, and both are in one
    # if/else here, so it may convert the wrong one
    function = tf.function(fn, input_signature=[tf.TensorSpec(x.shape, tf.as_dtype(x.dtype))],
                           autograph=False)
    expected = function(x).numpy()
    got = ov.Core().compile_model(ov.convert_model(function.get_concrete_function()), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})([x])[0]
    assert got.shape != expected.shape or not np.allclose(got, expected)
