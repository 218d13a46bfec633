"""The runtime through `import ovtf` and real TF programs (not the DeviceCluster alone, which
tests/test_device.py covers): variable updates, threads, the on-disk cache across processes.

* Variable updates: Keras models whose weights are compiled into the OpenVINO model as
  constants, changed by `assign`, `set_weights` and `fit`, between `predict` / tf.function
  calls: every call must match stock TF with the new weights (never stale), also after the
  runtime switches frequently-changing weights to parameters.
* Concurrency: 8 Python threads call one model's tf.function at once (first calls race to
  compile) with different batch sizes: every result equals stock TF, nothing fell back.
* Cache dir: a second process with the same `OVTF_CACHE_DIR` (or `set_cache_dir`) compiles
  nothing and loads every cluster from disk, with the same outputs.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from concurrency import run_in_threads

RTOL = 1e-4


def relative_difference(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30))


def stock(model, x):
    """Stock TF: the model run eagerly (no graph, so no ovtf) with ovtf off for good measure."""
    ovtf.disable()
    try:
        return model(x, training=False).numpy()
    finally:
        ovtf.enable()


def dense_model(seed=0):
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12,))
    x = L.Dense(32, activation="relu")(inputs)
    x = L.Dense(16, activation="tanh")(x)
    return keras.Model(inputs, L.Dense(3)(x), name="dense")


def conv_model(seed=0):
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = L.BatchNormalization()(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(8, 3, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(4)(x), name="conv")


# --- variable updates --------------------------------------------------------------------

def test_assign_and_set_weights_are_seen_by_predict_and_tf_function():
    model = dense_model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 12)).astype(np.float32)
    ovtf.disable_dynamic_fallback()
    function = tf.function(lambda t: model(t, training=False))
    first_layer = model.layers[1]

    def check(label):
        expected = stock(model, x)
        for actual in (function(tf.constant(x)).numpy(), model.predict(x, verbose=0)):
            assert relative_difference(actual, expected) <= RTOL, label

    check("initial")
    for step in range(6):   # enough changes to pass the switch from constants to parameters
        first_layer.kernel.assign(rng.standard_normal((12, 32)).astype(np.float32))
        check(f"after assign {step}")
        first_layer.bias.assign_add(np.full(32, 0.25, np.float32))
        check(f"after assign_add {step}")
    model.set_weights([w * -0.5 for w in model.get_weights()])
    check("after set_weights")
    stats = ovtf.stats()
    assert stats["fallbacks"] == 0 and stats["device_executions"] >= 2 * 14, stats


def test_training_between_predictions_is_never_stale():
    import keras
    model = conv_model(seed=1)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    rng = np.random.default_rng(1)
    x = rng.random((16, 12, 12, 3), dtype=np.float32)
    y = rng.standard_normal((16, 4)).astype(np.float32)
    ovtf.disable_dynamic_fallback()
    previous = None
    for epoch in range(4):
        predicted = model.predict(x, batch_size=8, verbose=0)
        expected = stock(model, x)
        assert relative_difference(predicted, expected) <= RTOL, epoch
        if previous is not None:   # training really changed the weights, and we saw it
            assert relative_difference(predicted, previous) > 1e-3, epoch
        previous = predicted
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    stats = ovtf.stats()
    assert stats["fallbacks"] == 0 and stats["device_executions"] >= 4, stats


# --- threads -------------------------------------------------------------------------------

def test_eight_threads_share_one_model():
    model = conv_model(seed=2)
    rng = np.random.default_rng(2)
    inputs = [rng.random((1 + i % 3, 12, 12, 3), dtype=np.float32) for i in range(8)]
    expected = [stock(model, x) for x in inputs]
    ovtf.disable_dynamic_fallback()
    ovtf.reset_stats()
    function = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    barrier = threading.Barrier(8)
    calls = 12

    def work(index):
        barrier.wait()
        for _ in range(calls):
            actual = function(tf.constant(inputs[index])).numpy()
            difference = relative_difference(actual, expected[index])
            assert difference <= RTOL, (index, difference)

    run_in_threads(work, 8, timeout=300)
    stats = ovtf.stats()
    assert stats["fallbacks"] == 0, stats
    assert stats["device_executions"] >= 8 * calls, stats
    # three batch sizes: each signature compiles once however many threads raced for it
    assert stats["compiles"] <= 3 * max(stats["clusters"], 1), stats


# --- on-disk cache across processes ----------------------------------------------------------

_CACHE_CHILD = """
import json, os, sys
import numpy as np
import ovtf
import tensorflow as tf
sys.path.insert(0, {tests!r})
from test_runtime_end_to_end import conv_model
if {use_api}:
    ovtf.set_cache_dir({cache!r})
ovtf.disable_dynamic_fallback()
model = conv_model(seed=3)
rng = np.random.default_rng(3)
function = tf.function(lambda t: model(t, training=False))
outputs = [function(tf.constant(rng.random((b, 12, 12, 3), dtype=np.float32))).numpy().tolist()
           for b in (1, 4)]
print(json.dumps({{"outputs": outputs, "stats": ovtf.stats(), "cache_dir": ovtf.get_cache_dir()}}))
"""


@pytest.mark.parametrize("use_api", [False, True], ids=["OVTF_CACHE_DIR", "set_cache_dir"])
def test_second_process_compiles_less(fresh_process, tmp_path, use_api):
    import os
    tests = os.path.dirname(os.path.abspath(__file__))
    cache = str(tmp_path / "ovtf_cache")
    code = _CACHE_CHILD.format(tests=tests, cache=cache, use_api=use_api)
    env = {} if use_api else {"OVTF_CACHE_DIR": cache}
    first = fresh_process(code, env=env)
    second = fresh_process(code, env=env)
    assert first["cache_dir"] and os.path.samefile(first["cache_dir"], cache)
    assert os.listdir(cache), "nothing was written to the cache dir"
    a, b = first["stats"], second["stats"]
    for stats in (a, b):
        assert stats["fallbacks"] == 0 and stats["device_executions"] >= 2, stats
    assert a["compiles"] >= 2 and a["disk_cache_hits"] == 0, a
    assert b["compiles"] == 0 and b["disk_cache_hits"] == a["compiles"], (a, b)
    for got, want in zip(second["outputs"], first["outputs"]):
        assert relative_difference(got, want) <= 1e-6
    # and both match stock TF in this process
    model = conv_model(seed=3)
    rng = np.random.default_rng(3)
    for batch, got in zip((1, 4), second["outputs"]):
        expected = stock(model, rng.random((batch, 12, 12, 3), dtype=np.float32))
        assert relative_difference(got, expected) <= RTOL


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_8bit_arithmetic_that_overflows_stays_in_tensorflow(dtype):
    """OpenVINO's CPU plugin saturates 8-bit integer arithmetic where TF wraps around
    (uint8 0 - 3 = 253 in TF, 0 in OpenVINO): those ops stay in TF, so the answer is TF's.
    16-bit and wider integers, and 8-bit comparisons, still run on the device."""
    info = np.iinfo(dtype)
    x = np.array([info.min, info.max, 5], dtype)
    y = np.array([3, 3, 3], dtype)

    def wraps(a, b):
        return (a - b) * b + (a + b) - tf.square(a) * b

    def compares(a, b):
        return tf.maximum(tf.minimum(a, b), b) > a

    for function, on_device in ((wraps, False), (compares, True)):
        ovtf.disable()
        want = tf.function(function)(x, y).numpy()
        ovtf.enable()
        ovtf.reset_stats()
        got = tf.function(function)(x, y).numpy()
        np.testing.assert_array_equal(got, want)
        assert (ovtf.stats()["device_executions"] > 0) == on_device, (function.__name__,
                                                                     ovtf.stats())


def test_fused_unary_ops_are_one_cluster():
    """TF's grappler fuses consecutive unary ops into _UnaryOpsComposition before ovtf sees
    the graph; it is opened back into its ops on the device instead of splitting the chain."""
    def chain(x):
        x = x * 0.5 + 1.0
        x = tf.abs(tf.sigmoid(tf.tanh(x)))      # fused by TF into one _UnaryOpsComposition
        return x * 2.0 - 0.25

    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    ovtf.disable()
    want = tf.function(chain)(x).numpy()
    ovtf.enable()
    ovtf.reset_stats()
    got = tf.function(chain)(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    stats = ovtf.stats()
    assert stats["clusters"] == 1 and stats["device_executions"] == 1, stats
