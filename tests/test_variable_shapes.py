"""Variable shapes without a recompile cliff (issue 11): a cluster whose input keeps changing
along a dim is compiled once with that dim dynamic where the backend allows it, and per
shape on a static-shape backend (the emulated NPU)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("openvino")

import ovtf  # noqa: E402
import ovtf.testing  # noqa: E402,F401
from ovtf import backends, config  # noqa: E402
from ovtf.runtime.compiled_cache import PROCESS_CACHE  # noqa: E402
from ovtf.runtime.device import DeviceCluster  # noqa: E402
from ovtf.runtime.shape_plan import DYNAMIC_AFTER_SHAPES  # noqa: E402
from test_importer import ListSink, assert_close, make_spec, run_tf  # noqa: E402

VOCAB, WIDTH, HEADS = 200, 32, 4
LENGTHS = list(range(5, 125, 3))          # 40 sequence lengths
assert len(LENGTHS) == 40


@pytest.fixture(autouse=True)
def clean_cache():
    # the default minimum, as users have it (tests/conftest.py lowers it to 2)
    ovtf.set_min_cluster_size(config.DEFAULT_MIN_CLUSTER_SIZE)
    PROCESS_CACHE.clear()
    ovtf.disable_dynamic_fallback()      # a failing cluster must fail the test, not hide
    yield
    PROCESS_CACHE.clear()


def transformer(seed=0, positions_from_argument=False):
    """A small transformer block built in code: embedding lookup, softmax attention,
    layer norms, an MLP; weights as variables (as Keras would have them)."""
    rng = np.random.default_rng(seed)

    def variable(*shape, scale=0.2):
        return tf.Variable(rng.standard_normal(shape).astype(np.float32) * scale)

    embedding, positions = variable(VOCAB, WIDTH), variable(256, WIDTH)
    wq, wk, wv, wo = (variable(WIDTH, WIDTH) for _ in range(4))
    w1, w2 = variable(WIDTH, 2 * WIDTH), variable(2 * WIDTH, WIDTH)
    gamma, beta = tf.Variable(np.ones(WIDTH, np.float32)), tf.Variable(np.zeros(WIDTH, np.float32))

    def layer_norm(x):
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-6) * gamma + beta

    def body(ids, length=None):
        batch, time = tf.shape(ids)[0], tf.shape(ids)[1]
        # tf.range(length) with `length` an argument: a compile-time input from outside the
        # cluster whose value changes with the shape
        if positions_from_argument:
            x = tf.gather(embedding, ids) + tf.gather(positions.read_value(), tf.range(length))
        else:
            x = tf.gather(embedding, ids)

        def heads(t):
            return tf.transpose(tf.reshape(t, [batch, time, HEADS, WIDTH // HEADS]), [0, 2, 1, 3])

        q, k, v = heads(x @ wq), heads(x @ wk), heads(x @ wv)
        scores = tf.matmul(q, k, transpose_b=True) / np.float32(np.sqrt(WIDTH // HEADS))
        attended = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
        x = layer_norm(x + tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [batch, time, WIDTH]) @ wo)
        return layer_norm(x + tf.nn.relu(x @ w1) @ w2)

    return body


def batches(passes=2):
    rng = np.random.default_rng(1)
    data = [rng.integers(0, VOCAB, (2, length)).astype(np.int32) for length in LENGTHS]
    return data * passes


def test_forty_lengths_twice_compile_a_handful():
    body = transformer()
    f = tf.function(body, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    ovtf.reset_stats()
    for ids in batches():
        assert_close(f(ids).numpy(), body(ids).numpy())   # eager: stock TensorFlow
    stats = ovtf.stats()
    assert stats["clusters"] >= 1 and stats["ops_clustered"] >= 30, stats
    clusters = stats["clusters"]
    assert stats["device_executions"] == 80 * clusters and stats["fallbacks"] == 0, stats
    # per cluster: shapes 1..K-1 compile static, the K-th compiles the varying dim dynamic
    assert stats["compiles"] <= clusters * DYNAMIC_AFTER_SHAPES <= 2 * DYNAMIC_AFTER_SHAPES, stats
    assert stats["dynamic_compiles"] == clusters, stats
    assert stats["cache_hits"] == 80 * clusters - stats["compiles"], stats


def test_baked_shape_argument_that_varies_with_the_shape():
    """tf.range(n) with n fed from outside the cluster: n is a compile-time input (baked in,
    keyed by value). When it varies with the shape it is fed as a parameter once the
    dims go dynamic, so the 40 lengths still compile a handful of times."""
    body = transformer(seed=2, positions_from_argument=True)
    f = tf.function(body, input_signature=[tf.TensorSpec([None, None], tf.int32),
                                           tf.TensorSpec([], tf.int32)])
    ovtf.reset_stats()
    for ids in batches():
        length = np.int32(ids.shape[1])
        assert_close(f(ids, length).numpy(), body(ids, length).numpy())
    stats = ovtf.stats()
    clusters = stats["clusters"]
    assert stats["device_executions"] == 80 * clusters and stats["fallbacks"] == 0, stats
    assert stats["compiles"] <= clusters * DYNAMIC_AFTER_SHAPES <= 2 * DYNAMIC_AFTER_SHAPES, stats
    assert stats["dynamic_compiles"] == clusters, stats


def test_a_few_batch_sizes_stay_static():
    body = transformer(seed=3)
    f = tf.function(body, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    rng = np.random.default_rng(4)
    ovtf.reset_stats()
    for _ in range(3):
        for batch in (1, 4):
            ids = rng.integers(0, VOCAB, (batch, 16)).astype(np.int32)
            assert_close(f(ids).numpy(), body(ids).numpy())
    stats = ovtf.stats()
    assert stats["compiles"] == 2 and stats["dynamic_compiles"] == 0, stats


# --- the backend decides: capability query, static-shape devices ---------------------------

def test_capability_query():
    from ovtf.ocm import TableSupport, chain, rules

    assert backends.get("CPU").operator_support().policy().dynamic_shapes
    assert not rules.StaticShapes().policy().dynamic_shapes
    assert not chain(TableSupport(), rules.StaticShapes()).policy().dynamic_shapes
    with ovtf.testing.emulated_devices(1, kind="NPU") as (npu,), \
            ovtf.testing.emulated_devices(2, kind="CPU") as cpus:
        assert not backends.get(npu).operator_support().policy().dynamic_shapes
        assert backends.get(cpus[0]).operator_support().policy().dynamic_shapes
        # SPLIT slices a batch by its size: it compiles per shape whatever its members allow
        assert not backends.get("SPLIT:" + ",".join(cpus)).operator_support().policy().dynamic_shapes


def _attention_spec():
    def fn(x, w):
        scores = tf.nn.softmax(tf.matmul(x @ w, x, transpose_b=True), axis=-1)
        return [tf.matmul(scores, x) + tf.reduce_mean(x, axis=1, keepdims=True)]
    return make_spec(fn, [(tf.float32, (None, None, 8)), (tf.float32, (8, 8))], variables=(1,),
                     name="attention")


def _run_lengths(device, spec, lengths, rtol=1e-4, atol=1e-5):
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((8, 8)).astype(np.float32) * 0.25  # mild scores: f16 on NPU
    for length in lengths:
        x = rng.standard_normal((2, length, 8)).astype(np.float32) * 0.5
        sink = ListSink(spec)
        device.run([x, weight], sink)
        assert_close(sink.arrays[0], run_tf(spec, [x, weight])[0], rtol=rtol, atol=atol)


def _spy_compiles(monkeypatch, backend):
    shapes = []
    compile_ = backend.compile

    def spy(spec, input_shapes, constants, precision):
        shapes.append([tuple(shape) for shape in input_shapes])
        return compile_(spec, input_shapes, constants, precision)

    monkeypatch.setattr(backend, "compile", spy)
    return shapes


@pytest.mark.parametrize("kind", ["CPU", "NPU"])
def test_dynamic_compile_only_where_the_backend_allows(monkeypatch, kind):
    spec = _attention_spec()
    lengths = [3, 5, 7, 9, 11, 13, 3, 5, 7, 9, 11, 13]
    with ovtf.testing.emulated_devices(1, kind=kind) as (name,):
        spec = dataclasses.replace(spec, backend=name)
        device = DeviceCluster(spec, settings=config.current)
        shapes = _spy_compiles(monkeypatch, backends.get(name))
        ovtf.reset_stats()
        # the emulated NPU computes in f16
        _run_lengths(device, spec, lengths, *((3e-2, 3e-2) if kind == "NPU" else ()))
    stats = ovtf.stats()
    dynamic = [s for s in shapes if any(d < 0 for shape in s for d in shape)]
    if kind == "CPU":
        assert device.dynamic_allowed
        assert len(shapes) == DYNAMIC_AFTER_SHAPES and len(dynamic) == 1, shapes
        assert dynamic[0][0] == (2, -1, 8), shapes       # only the varying dim is dynamic
        assert stats["dynamic_compiles"] == 1, stats
    else:  # a static-shape device: never a dynamic compile; one per shape, then cache hits
        assert not device.dynamic_allowed
        assert not dynamic, shapes
        assert len(shapes) == 6 and stats["dynamic_compiles"] == 0, (shapes, stats)
        assert stats["cache_hits"] == 6, stats


def test_static_shape_device_leaves_an_open_signature_in_tensorflow():
    """Through TensorFlow: on the emulated NPU an [None, None] signature is not clustered
    (rules.StaticShapes refuses it), so nothing dynamic can reach the device."""
    body = transformer(seed=6)
    f = tf.function(body, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    with ovtf.testing.emulated_devices(1, kind="NPU") as (name,):
        ovtf.set_backend(name)
        try:
            ovtf.reset_stats()
            for ids in batches(passes=1)[:8]:
                assert_close(f(ids).numpy(), body(ids).numpy())
            stats = ovtf.stats()
        finally:
            ovtf.set_backend(config.DEFAULT_BACKEND)
    assert stats["dynamic_compiles"] == 0 and stats["device_executions"] == 0, stats


def test_failing_dynamic_compile_goes_back_to_one_compile_per_shape(monkeypatch):
    spec = _attention_spec()
    lengths = [3, 5, 7, 9, 3, 5, 7, 9]

    def refuses_dynamic(shapes):
        return any(d < 0 for shape in shapes for d in shape)

    with ovtf.testing.emulated_devices(1, kind="CPU", fail_compile=refuses_dynamic) as (name,):
        spec = dataclasses.replace(spec, backend=name)
        device = DeviceCluster(spec, settings=config.current)
        ovtf.reset_stats()
        _run_lengths(device, spec, lengths)
    stats = ovtf.stats()
    assert not device.dynamic_allowed
    assert stats["compiles"] == 4 and stats["dynamic_compiles"] == 0, stats
    assert stats["cache_hits"] == 4, stats
