"""Real 2026 workloads under ovtf against stock TensorFlow (issue 18).

Each workload runs in one process twice: traced with ovtf disabled (the reference), then
traced again with ovtf enabled, minimum cluster size 1 and dynamic fallback off, so every
supported op runs on the device and a failing cluster fails the test. Weights are random and
configs tiny (nothing is downloaded). keras_hub workloads skip when keras_hub is missing.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

import ovtf

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def on_device():
    """Every supported op on the device, failures not hidden in TF."""
    ovtf.enable()
    ovtf.set_min_cluster_size(1)
    ovtf.disable_dynamic_fallback()
    ovtf.reset_stats()


def assert_ran_on_device(minimum_executions=1):
    stats = ovtf.stats()
    assert stats["fallbacks"] == 0, stats
    assert stats["device_executions"] >= minimum_executions, stats
    return stats


# --- a float Divide whose divisor the CPU plugin could fuse into its producer -------------

DIVISOR_PRODUCERS = {
    "reduce_max": lambda x: tf.reduce_max(x, axis=-1, keepdims=True),
    "reduce_mean_plus_eps": lambda x: tf.reduce_mean(x, axis=-1, keepdims=True) + 1e-7,
    "matmul": lambda x: tf.matmul(x, tf.constant(np.linspace(1, 2, 32 * 16, dtype=np.float32)
                                                 .reshape(32, 16))),
}


@pytest.mark.parametrize("producer", sorted(DIVISOR_PRODUCERS))
def test_constant_over_fused_divisor(producer):
    """127 / reduce_max(x) came out as reduce_max(x) / 127 once Divide was kept exact: the
    CPU plugin fused it into the Reduce (or MatMul) with the operands swapped."""
    x = np.random.default_rng(1).uniform(1, 2, (8, 32)).astype(np.float32)
    make = DIVISOR_PRODUCERS[producer]

    def quotient(x):
        return tf.constant(127.0) / make(x)

    ovtf.disable()
    expected = tf.function(quotient)(x).numpy()
    on_device()
    actual = tf.function(quotient)(x).numpy()
    assert_ran_on_device()
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_keras_int8_quantized_dense():
    """A Keras `quantize("int8")` MLP: the quantizer's round(x * 127 / max|x|) must match TF
    to the bit (a flip at .5 is a whole quantization step)."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10)])
    with pytest.warns(UserWarning):  # InputLayer has no quantize(); keras says so
        model.quantize("int8")
    x = np.random.default_rng(1).standard_normal((8, 32)).astype(np.float32)

    ovtf.disable()
    expected = tf.function(lambda x: model(x))(x).numpy()
    on_device()
    actual = tf.function(lambda x: model(x))(x).numpy()
    stats = assert_ran_on_device()
    assert stats["ops_clustered"] >= 20, stats
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


# --- keras_hub generate(): greedy token ids must be identical ---------------------------

def greedy_tokens(causal_lm, token_ids, prompt_length, max_length):
    mask = np.zeros_like(token_ids, dtype=bool)
    mask[:, :prompt_length] = True
    causal_lm.generate_function = None  # trace (and place) the generate loop afresh
    out = causal_lm.generate({"token_ids": token_ids, "padding_mask": mask},
                             max_length=max_length, stop_token_ids=None)
    return np.asarray(out["token_ids"])


def check_generate(causal_lm, minimum_executions):
    causal_lm.compile(sampler="greedy")
    token_ids = np.zeros((2, 16), np.int32)
    token_ids[:, :4] = [[5, 9, 3, 7], [1, 2, 3, 4]]
    ovtf.disable()
    expected = greedy_tokens(causal_lm, token_ids, 4, 16)
    on_device()
    actual = greedy_tokens(causal_lm, token_ids, 4, 16)
    assert_ran_on_device(minimum_executions)
    np.testing.assert_array_equal(actual, expected)


def test_gpt2_generate():
    keras_hub = pytest.importorskip("keras_hub")
    import keras

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
        max_sequence_length=32)
    check_generate(keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None), 12)


@pytest.mark.slow
def test_qwen3_moe_generate():
    keras_hub = pytest.importorskip("keras_hub")
    import keras

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.Qwen3MoeBackbone(
        vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=2, head_dim=8,
        hidden_dim=32, intermediate_dim=64, moe_intermediate_dim=16, num_experts=4, top_k=2)
    check_generate(keras_hub.models.Qwen3MoeCausalLM(backbone=backbone, preprocessor=None), 12)
