"""A scalar read from a variable and sliced with a new axis (`v[None]`, issue 18 item 7).

OpenVINO's constant folding of a StridedSlice over a rank-0 constant reads past the scalar:
baked in as a weight, `tf.Variable(7)[None]` gave a different garbage value on every compile
and `tf.Variable(7.0)[None]` gave [0.0]. Such inputs are fed as Parameters now
(`ovtf.runtime.device.scalar_slice_inputs`). Each test runs on the device (fallback off,
placement asserted), several times, against stock TensorFlow.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import ovtf  # noqa: E402
from ovtf import hook as bridge  # noqa: E402
from ovtf.runtime.compiled_cache import PROCESS_CACHE  # noqa: E402

RUNS = 4

SLICES = {
    "new_axis": lambda v: v[None],
    "two_new_axes": lambda v: v[None, None],
    "ellipsis_new_axis": lambda v: v[..., tf.newaxis],
    "new_axis_then_mul": lambda v: v[None] * 2,
}


@pytest.fixture(autouse=True)
def _device_only():
    ovtf.set_min_cluster_size(1)
    ovtf.disable_dynamic_fallback()
    PROCESS_CACHE.clear()
    yield
    PROCESS_CACHE.clear()


def _stock_and_ovtf(body):
    """(stock TF's answers, ovtf's answers) of RUNS calls of `tf.function(body)`."""
    function = tf.function(body)
    ovtf.disable()
    bridge.clear_function_cache()
    expected = [function().numpy() for _ in range(RUNS)]
    ovtf.enable()
    bridge.clear_function_cache()
    ovtf.reset_stats()
    actual = [function().numpy() for _ in range(RUNS)]
    return expected, actual


@pytest.mark.parametrize("slicing", sorted(SLICES))
@pytest.mark.parametrize("initial", [7, 7.0, -3, 2.5], ids=["int32_7", "f32_7", "int32_-3", "f32_2.5"])
def test_scalar_variable_sliced_with_new_axis(initial, slicing):
    variable = tf.Variable(initial)
    expected, actual = _stock_and_ovtf(lambda: SLICES[slicing](variable))
    for got, want in zip(actual, expected):
        assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
        np.testing.assert_array_equal(got, want)
    stats = ovtf.stats()
    assert stats["device_executions"] == RUNS and stats["fallbacks"] == 0, stats
    assert stats["ops_clustered"] >= 1, stats


def test_assigned_scalar_variable_is_never_stale():
    variable = tf.Variable(7)
    function = tf.function(lambda: variable[None] + 1)
    seen = []
    for value in (7, 11, -2, 11):
        variable.assign(value)
        seen.append(int(function().numpy()[0]))
    assert seen == [8, 12, -1, 12]
    stats = ovtf.stats()
    assert stats["device_executions"] == 4 and stats["fallbacks"] == 0, stats


def test_vector_variable_still_baked():
    """Only rank-0 inputs of a StridedSlice are kept out of the weights."""
    variable = tf.Variable([1.0, 2.0, 3.0])
    expected, actual = _stock_and_ovtf(lambda: variable[None] * 2.0)
    for got, want in zip(actual, expected):
        np.testing.assert_array_equal(got, want)
    assert ovtf.stats()["device_executions"] == RUNS


def test_ref_variable_in_a_session():
    """TF1: a RefVariable read (`VariableV2` + Identity) in a Session graph."""
    def run(enabled):
        (ovtf.enable if enabled else ovtf.disable)()
        ovtf.reset_stats()
        graph = tf.Graph()
        with graph.as_default():
            variable = tf.compat.v1.Variable(7, use_resource=False)
            fetch = [variable[None], tf.cast(variable, tf.float32)[None] * 0.5]
            with tf.compat.v1.Session(graph=graph) as session:
                session.run(variable.initializer)
                return [session.run(fetch) for _ in range(RUNS)]

    expected = run(False)
    actual = run(True)
    stats = ovtf.stats()
    for got_run, want_run in zip(actual, expected):
        for got, want in zip(got_run, want_run):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    assert stats["device_executions"] >= RUNS and stats["fallbacks"] == 0, stats


def test_scalar_slice_inputs_finds_only_rank0_slice_data():
    from ovtf.spec import ClusterSpec
    from ovtf.runtime.device import scalar_slice_inputs

    graph = tf.Graph()
    with graph.as_default():
        scalar = tf.compat.v1.placeholder(tf.int32, [], name="ovtf_arg_0")
        vector = tf.compat.v1.placeholder(tf.int32, [3], name="ovtf_arg_1")
        other = tf.compat.v1.placeholder(tf.int32, [], name="ovtf_arg_2")
        tf.identity(tf.identity(scalar)[None], name="ovtf_ret_0")
        tf.identity(vector[None], name="ovtf_ret_1")
        tf.identity(other * 2, name="ovtf_ret_2")
    spec = ClusterSpec.parse("probe", graph.as_graph_def().SerializeToString())
    assert scalar_slice_inputs(spec) == {0}


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64, tf.float32, tf.int8])
def test_scalar_constant_sliced_with_new_axis_in_a_session(dtype):
    """TF's own StridedSliceTest.test_basic_slice: a Session fetches `c[None]` of a rank-0
    Const, constant folding off as in TF's test sessions (else grappler folds the slice
    before ovtf sees it); the importer lowers a StridedSlice of a rank-0 value to a Reshape."""
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.constant_folding = rewriter_config_pb2.RewriterConfig.OFF
    graph = tf.Graph()
    with graph.as_default():
        c = tf.constant(5, dtype=dtype)
        fetches = [fn(c) for _, fn in sorted(SLICES.items())]
    with tf.compat.v1.Session(graph=graph) as session:
        ovtf.disable()
        expected = session.run(fetches)
    ovtf.enable()
    ovtf.reset_stats()
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        actual = session.run(fetches)
    assert ovtf.stats()["device_executions"] >= 1
    for got, want in zip(actual, expected):
        assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
        np.testing.assert_array_equal(got, want)
