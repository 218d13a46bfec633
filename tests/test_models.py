"""Whole models through `import ovtf`, against stock TensorFlow.

Every model runs as a `tf.function(lambda x: model(x, training=False))` twice: traced and
instantiated with ovtf disabled (stock TF, the reference), and with ovtf enabled and dynamic
fallback disabled (a cluster that cannot run fails the test instead of hiding in TF). For
batch sizes 1, 3 and 8 in one process: outputs within 1e-4 relative of stock TF (max abs
difference / max abs reference), each batch size compiles its clusters once, and a second
round of calls compiles nothing and hits the cache. The four CNNs and the BERT-like
encoder must have `ops_clustered / ops_total >= 0.9`.

Default run: a reduced MobileNetV2, a small CNN, a 2-layer BERT-like encoder (the benchmark's
builder, smaller), an LSTM and a model mixing unsupported ops. `-m slow`: the five benchmark
models at full size (ResNet50, MobileNetV2, EfficientNetB0, InceptionV3, BERT-base).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from ovtf import placement_log
from ovtf.partitioner.report import ALREADY_REWRITTEN, DISABLED

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
import run_benchmarks  # noqa: E402  (the benchmark's model builders: one definition)

BATCHES = (1, 3, 8)
RTOL = 1e-4


def relative_difference(actual, expected):
    return run_benchmarks.max_relative_difference(actual, expected)


@pytest.fixture
def reports(monkeypatch):
    """Placement reports of every graph ovtf rewrites during the test."""
    collected = []
    record = placement_log.record

    def capture(report):
        # graphs not really placed (ovtf disabled for the reference run, TF's second
        # optimizer pass over a rewritten graph) say nothing about the model's placement
        if report.left_alone_reason not in (ALREADY_REWRITTEN, DISABLED):
            collected.append(report)
        record(report)

    monkeypatch.setattr(placement_log, "record", capture)
    return collected


def check_model(model, make_input, min_fraction=None, batches=BATCHES, rtol=RTOL):
    """Compare `model` under ovtf with stock TF for each batch size; returns a summary."""
    inputs = {batch: tf.constant(make_input(batch)) for batch in batches}

    ovtf.disable()
    stock = tf.function(lambda x: model(x, training=False))
    expected = {batch: stock(inputs[batch]).numpy() for batch in batches}
    ovtf.enable()

    ovtf.disable_dynamic_fallback()
    ovtf.reset_stats()
    accelerated = tf.function(lambda x: model(x, training=False))
    differences = {}
    compiles_per_batch = []
    for batch in batches:
        before = ovtf.stats()["compiles"]
        actual = accelerated(inputs[batch]).numpy()
        compiles_per_batch.append(ovtf.stats()["compiles"] - before)
        assert actual.shape == expected[batch].shape
        differences[batch] = relative_difference(actual, expected[batch])
    first = ovtf.stats()
    assert first["fallbacks"] == 0, first
    assert first["device_executions"] >= len(batches), first
    assert all(count >= 1 for count in compiles_per_batch), compiles_per_batch
    for batch in batches:
        assert differences[batch] <= rtol, f"batch {batch}: {differences[batch]:.3g} > {rtol}"

    # Same batch sizes again: nothing compiles, every cluster run is a cache hit.
    for batch in batches:
        actual = accelerated(inputs[batch]).numpy()
        assert relative_difference(actual, expected[batch]) <= rtol
    second = ovtf.stats()
    executions = second["device_executions"] - first["device_executions"]
    assert second["compiles"] == first["compiles"], (first, second)
    assert second["cache_hits"] - first["cache_hits"] >= executions >= len(batches), (first, second)
    assert second["fallbacks"] == 0, second

    fraction = first["ops_clustered"] / first["ops_total"] if first["ops_total"] else 0.0
    if min_fraction is not None:
        assert fraction >= min_fraction, (fraction, first)
    summary = {"offloaded": round(fraction, 4), "max_rel_diff": max(differences.values()),
               "clusters": first["clusters"], "compiles": first["compiles"]}
    print(f"\n{model.name}: {summary}")
    return summary


def image_input(shape, seed=0):
    rng = np.random.default_rng(seed)
    return lambda batch: rng.random((batch,) + tuple(shape), dtype=np.float32)


# --- default run: small but real ---------------------------------------------------------

def test_mobilenetv2_small():
    import keras
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None,
                                           classifier_activation=None)
    check_model(model, image_input((96, 96, 3)), min_fraction=0.9)


def test_small_cnn():
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = L.BatchNormalization()(x)
    x = L.MaxPooling2D()(x)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = L.Add()([x, L.Conv2D(16, 1)(y)])
    x = L.Conv2D(32, 3, strides=2, padding="valid", activation="swish")(x)
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.Concatenate()([x, L.Conv2D(8, 1, activation="sigmoid")(x)])
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.5)(x)
    outputs = L.Dense(10)(L.Dense(32, activation="gelu")(x))
    model = keras.Model(inputs, outputs, name="small_cnn")
    # weights from a non-trivial BatchNormalization state
    bn = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)][0]
    rng = np.random.default_rng(2)
    bn.set_weights([rng.uniform(0.5, 1.5, 16).astype(np.float32), rng.standard_normal(16).astype(np.float32),
                    rng.standard_normal(16).astype(np.float32), rng.uniform(0.5, 2, 16).astype(np.float32)])
    check_model(model, image_input((32, 32, 3)), min_fraction=0.9)


def test_bert_like_encoder_small():
    import keras
    keras.utils.set_random_seed(0)
    model = run_benchmarks.bert_like_encoder(layers=2, hidden=64, heads=4, sequence=16,
                                             vocabulary=500, intermediate=128)
    rng = np.random.default_rng(0)
    check_model(model, lambda batch: rng.integers(0, 500, size=(batch, 16), dtype=np.int32),
                min_fraction=0.9)


def test_lstm_model(reports):
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(3)
    inputs = keras.Input((12, 8))
    x = L.LSTM(16, return_sequences=True)(inputs)
    x = L.LSTM(12)(x)
    outputs = L.Dense(4)(x)
    model = keras.Model(inputs, outputs, name="lstm")
    rng = np.random.default_rng(4)
    summary = check_model(model, lambda batch: rng.standard_normal((batch, 12, 8)).astype(np.float32))
    # The while loop's frame primitives (Enter/Merge/Switch/NextIteration/Exit/LoopCond) and
    # the TensorList ops (variant tensors) stay in TF by design; everything else -- the
    # recurrent cell math inside the loop body -- runs on the device.
    clustered = {op for report in reports for cluster in report.clusters for op in cluster.op_types}
    assert {"MatMul", "Sigmoid", "Tanh", "Mul"} <= clustered, clustered
    placements = [p for report in reports for p in report.placement.values() if p.compute]
    eligible = [p for p in placements if p.reason not in ("CONTROL_FLOW", "DTYPE")]
    fraction = sum(p.cluster is not None for p in eligible) / len(eligible)
    print(f"lstm: offloaded {fraction:.3f} of the ops outside control flow and TensorLists "
          f"({summary['offloaded']:.3f} of all)")
    assert fraction >= 0.8, [(p.op, p.reason) for p in eligible if p.cluster is None]


class MixedModel(tf.Module):
    """Dense math around string ops and a py_function (none can run on OpenVINO), and an
    integer tf.unique (on OpenVINO since issue 12: its data-dependent output feeds TF)."""

    def __init__(self):
        rng = np.random.default_rng(5)
        self.w1 = tf.Variable(rng.standard_normal((6, 16)).astype(np.float32))
        self.w2 = tf.Variable(rng.standard_normal((16, 4)).astype(np.float32))

    def __call__(self, x):
        h = tf.nn.relu(tf.matmul(x, self.w1) + 0.5)
        h = tf.tanh(h * 0.1) * 2.0
        # string round trip: a number -> text -> length and back to a number
        text = tf.strings.as_string(tf.reduce_sum(h, axis=1), precision=3)
        lengths = tf.cast(tf.strings.length(text), tf.float32)
        parsed = tf.strings.to_number(text)
        # Python code inside the graph
        doubled = tf.py_function(lambda t: t * 2.0, [h], tf.float32)
        doubled.set_shape(h.shape)
        # data-dependent output shape
        values, index = tf.unique(tf.reshape(tf.cast(tf.round(h), tf.int32), [-1]))
        counts = tf.cast(tf.size(values), tf.float32) + tf.cast(tf.reduce_max(index), tf.float32)
        z = tf.matmul(tf.sigmoid(doubled) * h, self.w2)
        z = tf.nn.softmax(z + lengths[:, None] * 0.01 + parsed[:, None] * 0.001 + counts * 0.1)
        return tf.concat([z, tf.math.log1p(tf.abs(z))], axis=1)


def test_model_mixing_unsupported_ops(reports):
    module = MixedModel()
    rng = np.random.default_rng(6)
    x = tf.constant(rng.standard_normal((5, 6)).astype(np.float32))
    ovtf.disable()
    expected = tf.function(module.__call__)(x).numpy()
    ovtf.enable()
    ovtf.disable_dynamic_fallback()
    accelerated = tf.function(module.__call__)
    for _ in range(2):
        actual = accelerated(x).numpy()
        assert relative_difference(actual, expected) <= RTOL
    stats = ovtf.stats()
    assert stats["clusters"] >= 2 and stats["device_executions"] >= 4 and stats["fallbacks"] == 0, stats
    kept = {p.op: p.reason for report in reports for p in report.placement.values() if p.cluster is None}
    clustered = {op for report in reports for cluster in report.clusters for op in cluster.op_types}
    for op in ("AsString", "StringLength", "StringToNumber", "EagerPyFunc"):
        assert op in kept, (op, kept)
        assert op not in clustered
    assert {"Softmax", "Tanh"} <= clustered, clustered


# --- slow: the benchmark models at full size ----------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "mobilenetv2", "efficientnetb0", "inceptionv3"])
def test_benchmark_cnn(name):
    model, make_input = run_benchmarks.build_model(name)
    check_model(model, make_input, min_fraction=0.9)


@pytest.mark.slow
def test_benchmark_bert_base():
    model, make_input = run_benchmarks.build_model("bert")
    check_model(model, make_input, min_fraction=0.9)
