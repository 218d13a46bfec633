"""Training never slowed (issue 11): a graph that computes gradients or applies optimizer
updates stays in TensorFlow by default; inference functions of the same model are still
accelerated; `enable_training_graphs()` / OVTF_TRAINING_GRAPHS=1 offloads training too."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("openvino")

import ovtf  # noqa: E402
from ovtf import backends, config, hook, partitioner  # noqa: E402
from ovtf.ocm import rules  # noqa: E402
from ovtf.partitioner import report as report_module  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 12, 12, 3)).astype(np.float32)
Y = RNG.integers(0, 5, 64)


def make_model(weights=None):
    model = tf.keras.Sequential([
        tf.keras.Input((12, 12, 3)),
        tf.keras.layers.Conv2D(8, 3, activation="relu"),
        tf.keras.layers.Conv2D(8, 3, activation="relu"),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(5),
    ])
    if weights is not None:
        model.set_weights(weights)
    model.compile(tf.keras.optimizers.Adam(1e-2),
                  tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def fit_losses(model):
    history = model.fit(X, Y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    return np.array(history.history["loss"])


class Recorder:
    """Wraps the real rewriter: which graphs were training steps, and were they rewritten."""

    def __init__(self):
        self.graphs = []     # (is a training step, rewritten)

    def __call__(self, graph_def, fetch, preserve):
        result = hook.default_graph_rewriter(graph_def, fetch, preserve)
        self.graphs.append((bool(rules.training_ops(graph_def)), result is not None))
        return result

    def training(self):
        return [rewritten for training, rewritten in self.graphs if training]


def stock_losses(weights):
    ovtf.disable()
    try:
        return fit_losses(make_model(weights))
    finally:
        ovtf.enable()


def test_fit_stays_in_tensorflow_and_predict_is_offloaded():
    weights = make_model().get_weights()
    expected = stock_losses(weights)

    model = make_model(weights)
    recorder = Recorder()
    ovtf.reset_stats()
    with hook.override(graph_rewriter=recorder):
        losses = fit_losses(model)
    stats = ovtf.stats()
    np.testing.assert_allclose(losses, expected, rtol=1e-6)   # the train step is TF's own
    assert recorder.training() and not any(recorder.training()), recorder.graphs
    assert stats["left_alone_reasons"].get("training_graph", 0) >= 1, stats

    ovtf.reset_stats()
    predicted = model.predict(X, batch_size=16, verbose=0)
    stats = ovtf.stats()
    assert stats["graphs_rewritten"] >= 1 and stats["device_executions"] >= 4, stats
    assert stats["fallbacks"] == 0 and "training_graph" not in stats["left_alone_reasons"], stats
    ovtf.disable()
    try:
        reference = make_model(model.get_weights()).predict(X, batch_size=16, verbose=0)
    finally:
        ovtf.enable()
    np.testing.assert_allclose(predicted, reference, rtol=1e-4, atol=1e-5)

    # evaluate updates metric variables but computes no gradients: not a training step
    ovtf.reset_stats()
    model.evaluate(X, Y, batch_size=16, verbose=0)
    assert "training_graph" not in ovtf.stats()["left_alone_reasons"], ovtf.stats()


def test_switch_offloads_the_train_step():
    weights = make_model().get_weights()
    expected = stock_losses(weights)
    ovtf.enable_training_graphs()
    assert ovtf.is_training_graphs_enabled()
    recorder = Recorder()
    ovtf.reset_stats()
    try:
        with hook.override(graph_rewriter=recorder):
            losses = fit_losses(make_model(weights))
    finally:
        ovtf.disable_training_graphs()
    stats = ovtf.stats()
    assert not ovtf.is_training_graphs_enabled()
    assert any(recorder.training()), recorder.graphs     # the train step got clusters
    assert "training_graph" not in stats["left_alone_reasons"], stats
    assert stats["device_executions"] >= 12, stats       # 4 steps x 3 epochs at least
    np.testing.assert_allclose(losses, expected, rtol=1e-4)


def _train_step_graph():
    w = tf.Variable(RNG.standard_normal((8, 4)).astype(np.float32))
    optimizer = tf.keras.optimizers.SGD(0.1)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)) ** 2)
        optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    x = tf.constant(RNG.standard_normal((3, 8)).astype(np.float32))
    return step.get_concrete_function(x).graph.as_graph_def()


def test_rule_and_report():
    graph_def = _train_step_graph()
    assert "ReluGrad" in rules.training_ops(graph_def)
    support = backends.get("CPU").operator_support()
    report = partitioner.explain(graph_def, support=support, min_cluster_size=1)
    assert report.left_alone_reason == report_module.TRAINING
    assert report_module.reason_key(report.left_alone_reason) == "training_graph"
    assert "ReluGrad" in report.left_alone_detail and "ReluGrad" in report.headline()
    assert report.to_dict()["left_alone_detail"] == report.left_alone_detail
    offloaded = partitioner.explain(graph_def, support=support, min_cluster_size=1,
                                    training_graphs=True)
    assert offloaded.left_alone_reason is None and offloaded.clusters


@pytest.mark.parametrize("op", ["Conv2DBackpropInput", "DepthwiseConv2dNativeBackpropInput",
                                "AssignVariableOp", "AssignAddVariableOp", "StopGradient",
                                "PreventGradient", "SparseSoftmaxCrossEntropyWithLogits"])
def test_inference_ops_are_not_training_markers(op):
    # transposed convolutions, metric updates and gradient stoppers occur in inference
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    graph_def.node.add(name="n", op=op)
    assert not rules.training_ops(graph_def)


@pytest.mark.parametrize("op", ["ReluGrad", "BiasAddGrad", "Conv2DBackpropFilter",
                                "FusedBatchNormGradV3", "BroadcastGradientArgs",
                                "SymbolicGradient", "ResourceApplyAdam",
                                "ResourceSparseApplyAdagradV2", "ApplyGradientDescent",
                                "MaxPoolGrad", "_FusedBatchNormGradEx"])
def test_training_markers(op):
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    graph_def.node.add(name="n", op=op)
    assert rules.training_ops(graph_def) == {op: 1}


def test_environment_variable():
    saved = config.settings.training_graphs
    try:
        config.load_environment({"OVTF_TRAINING_GRAPHS": "1"})
        assert ovtf.is_training_graphs_enabled()
        config.load_environment({"OVTF_TRAINING_GRAPHS": "off"})
        assert not ovtf.is_training_graphs_enabled()
        with pytest.raises(ValueError, match="OVTF_TRAINING_GRAPHS.*'sometimes'.*boolean"):
            config.load_environment({"OVTF_TRAINING_GRAPHS": "sometimes"})
    finally:
        config.update(training_graphs=saved)
    assert config.DEFAULT_TRAINING_GRAPHS is False
