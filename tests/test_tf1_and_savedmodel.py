"""TF1 sessions and SavedModels through `import ovtf`, against stock TensorFlow.

TF1: frozen GraphDefs (weights folded into Consts, by `convert_variables_to_constants_v2`
from a Keras model, and by `tf.compat.v1.graph_util.convert_variables_to_constants` from a
TF1-style graph) imported into a `tf.Graph` and run by `tf.compat.v1.Session`, with ovtf
disabled (reference) and enabled (fallback disabled): same numbers, clusters ran on the device.

SavedModel: a Keras model and a tf.Module are saved, then loaded and run in a fresh Python
process with ovtf imported (before or after loading); the child reports its outputs and
`ovtf.stats()` as JSON, compared here with the model run by stock TF in this process.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import ovtf

RTOL = 1e-4


def relative_difference(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30))


def small_keras_cnn(seed=0):
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = L.BatchNormalization()(x)
    x = L.DepthwiseConv2D(3, strides=2, activation="relu6")(x)
    x = L.Conv2D(12, 1)(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(5, activation="softmax")(L.Dense(16, activation="tanh")(x))
    return keras.Model(inputs, outputs, name="small_cnn")


def run_session(graph_def, feed_name, fetch_name, data, enabled):
    (ovtf.enable if enabled else ovtf.disable)()
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return [session.run(fetch_name, {feed_name: x}) for x in data]


def check_frozen(graph_def, feed_name, fetch_name, data, min_fraction):
    expected = run_session(graph_def, feed_name, fetch_name, data, enabled=False)
    ovtf.disable_dynamic_fallback()
    ovtf.reset_stats()
    actual = run_session(graph_def, feed_name, fetch_name, data, enabled=True)
    stats = ovtf.stats()
    for got, want in zip(actual, expected):
        assert got.shape == want.shape
        assert relative_difference(got, want) <= RTOL
    assert stats["device_executions"] >= len(data) and stats["fallbacks"] == 0, stats
    assert stats["ops_total"] > 0 and stats["ops_clustered"] / stats["ops_total"] >= min_fraction, stats
    return stats


def test_frozen_keras_graph_in_session():
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    model = small_keras_cnn()
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((None, 16, 16, 3), tf.float32, name="image"))
    frozen = convert_variables_to_constants_v2(function)
    graph_def = frozen.graph.as_graph_def()
    assert not any(node.op in ("ReadVariableOp", "VarHandleOp") for node in graph_def.node)
    feed = frozen.inputs[0].name
    fetch = frozen.outputs[0].name
    rng = np.random.default_rng(0)
    data = [rng.random((batch, 16, 16, 3), dtype=np.float32) for batch in (1, 3, 8)]
    stats = check_frozen(graph_def, feed, fetch, data, min_fraction=0.9)
    assert stats["compiles"] >= 3   # one per batch size


def _tf1_graph_def():
    """A TF1-style graph (placeholders, get_variable, initializer), frozen with graph_util."""
    graph = tf.Graph()
    rng = np.random.default_rng(1)
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None, 10), name="x")
        w1 = tf.compat.v1.get_variable("w1", initializer=rng.standard_normal((10, 32)).astype(np.float32))
        b1 = tf.compat.v1.get_variable("b1", initializer=rng.standard_normal(32).astype(np.float32))
        w2 = tf.compat.v1.get_variable("w2", initializer=rng.standard_normal((32, 6)).astype(np.float32))
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        h = tf.nn.dropout(h, rate=0.0)
        logits = tf.matmul(tf.nn.l2_normalize(h, axis=1), w2)
        tf.nn.softmax(logits, name="probs")
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return tf.compat.v1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), ["probs"])


def test_tf1_frozen_graph_def_in_session():
    graph_def = _tf1_graph_def()
    assert not any(node.op.startswith("Variable") for node in graph_def.node)
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((batch, 10)).astype(np.float32) for batch in (1, 3, 8)]
    stats = check_frozen(graph_def, "x:0", "probs:0", data, min_fraction=0.85)
    # the fetched node itself (the Softmax named "probs") runs on the device too: its name is
    # kept by an IdentityN over the cluster's output (ovtf.partitioner); nothing stays in TF
    assert stats["ops_total"] == stats["ops_clustered"], stats


def test_tf1_session_with_live_variables():
    """Not frozen: VariableV2 (reference dtypes) stays in TF, the math around it is clustered,
    and a new value assigned through the session shows up on the next run."""
    graph = tf.Graph()
    rng = np.random.default_rng(3)
    w_value = rng.standard_normal((4, 8)).astype(np.float32)
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None, 4), name="x")
        w = tf.compat.v1.Variable(w_value, name="w")
        y = tf.tanh(tf.matmul(x, w) * 0.5 + 1.0) * 2.0
        new_w = tf.compat.v1.placeholder(tf.float32, (4, 8))
        assign = tf.compat.v1.assign(w, new_w)
        init = tf.compat.v1.global_variables_initializer()
    data = rng.standard_normal((3, 4)).astype(np.float32)
    ovtf.disable_dynamic_fallback()
    ovtf.enable()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(init)
        first = session.run(y, {x: data})
        np.testing.assert_allclose(first, np.tanh(data @ w_value * 0.5 + 1.0) * 2.0, rtol=1e-5, atol=1e-5)
        second_w = w_value * -3.0
        session.run(assign, {new_w: second_w})
        second = session.run(y, {x: data})
        np.testing.assert_allclose(second, np.tanh(data @ second_w * 0.5 + 1.0) * 2.0, rtol=1e-5, atol=1e-5)
    stats = ovtf.stats()
    assert stats["device_executions"] >= 2 and stats["fallbacks"] == 0, stats


# --- SavedModel in a fresh process -----------------------------------------------------------

_CHILD = """
import json, sys
import numpy as np
import_first = {import_first}
if import_first:
    import ovtf
import tensorflow as tf
loaded = tf.saved_model.load({path!r})
if not import_first:
    import ovtf          # after loading: TF must re-instantiate the loaded functions
ovtf.disable_dynamic_fallback()
data = np.load({data!r})
outputs = {{}}
for key in sorted(data.files):
    result = {call}
    if isinstance(result, dict):
        result = list(result.values())[0]
    outputs[key] = np.asarray(result).tolist()
print(json.dumps({{"outputs": outputs, "stats": ovtf.stats()}}))
"""


def _run_saved_model_child(fresh_process, path, data_file, call, import_first=True):
    code = _CHILD.format(import_first=import_first, path=str(path), data=str(data_file), call=call)
    return fresh_process(code)


def _check_child(result, expected, min_fraction):
    stats = result["stats"]
    for key, want in expected.items():
        got = np.asarray(result["outputs"][key], np.float32)
        assert got.shape == want.shape
        assert relative_difference(got, want) <= RTOL, key
    assert stats["device_executions"] >= len(expected) and stats["fallbacks"] == 0, stats
    assert stats["ops_total"] > 0 and stats["ops_clustered"] / stats["ops_total"] >= min_fraction, stats
    return stats


@pytest.fixture
def saved_keras(tmp_path):
    model = small_keras_cnn(seed=4)
    path = tmp_path / "keras_saved_model"
    model.export(str(path), verbose=False)   # Keras 3: a TF SavedModel with a `serve` endpoint
    rng = np.random.default_rng(5)
    data = {f"batch{b}": rng.random((b, 16, 16, 3), dtype=np.float32) for b in (1, 3, 8)}
    data_file = tmp_path / "data.npz"
    np.savez(data_file, **data)
    ovtf.disable()
    expected = {key: model(value, training=False).numpy() for key, value in data.items()}
    ovtf.enable()
    return path, data_file, expected


@pytest.mark.parametrize("import_first", [True, False], ids=["ovtf_then_load", "load_then_ovtf"])
def test_keras_saved_model_in_fresh_process(fresh_process, saved_keras, import_first):
    path, data_file, expected = saved_keras
    result = _run_saved_model_child(fresh_process, path, data_file, "loaded.serve(data[key])",
                                    import_first=import_first)
    stats = _check_child(result, expected, min_fraction=0.9)
    print(f"\nSavedModel (Keras, import_first={import_first}): {json.dumps(stats)}")


class ScoringModule(tf.Module):
    def __init__(self):
        rng = np.random.default_rng(6)
        self.w = tf.Variable(rng.standard_normal((7, 9)).astype(np.float32))
        self.b = tf.Variable(rng.standard_normal(9).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((None, 7), tf.float32)])
    def score(self, x):
        h = tf.nn.gelu(tf.matmul(x, self.w) + self.b)
        return tf.reduce_logsumexp(h, axis=1, keepdims=True) - tf.reduce_mean(h, axis=1, keepdims=True)


def test_tf_module_signature_in_fresh_process(fresh_process, tmp_path):
    module = ScoringModule()
    path = tmp_path / "module"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.score})
    rng = np.random.default_rng(7)
    data = {f"batch{b}": rng.standard_normal((b, 7)).astype(np.float32) for b in (1, 3, 8)}
    data_file = tmp_path / "data.npz"
    np.savez(data_file, **data)
    ovtf.disable()
    expected = {key: module.score(value).numpy() for key, value in data.items()}
    ovtf.enable()
    call = 'loaded.signatures["serving_default"](x=tf.constant(data[key]))'
    result = _run_saved_model_child(fresh_process, path, data_file, call)
    _check_child(result, expected, min_fraction=0.9)
