"""The kernel's fast path (csrc/fast_path.cc): after a device run, calls that
repeat it (same input dims, same weight buffers, same baked values) run the compiled model
from native code without Python. Each test compares with stock TensorFlow and reads
`fast_path_executions` from ovtf.stats(), so a path that silently stopped (or started)
being taken shows."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from ovtf.backends.openvino import native
from ovtf.runtime.compiled_cache import PROCESS_CACHE


def _chain(x):
    return tf.tanh(x * 0.5 + 1.0) * 2.0 - tf.sigmoid(x)


def _stock(function, *args):
    """Stock TF's answer. (Computed before the accelerated calls: disable/enable is a
    settings change, which disarms every kernel.)"""
    ovtf.disable()
    try:
        return tf.function(function)(*args).numpy()
    finally:
        ovtf.enable()


def _calls_match_stock(accelerated, values):
    """Stock TF's answers first (see `_stock`), then one accelerated call per value, each
    compared with its answer; counters are reset in between, so they count these calls."""
    expected = [_stock(_chain, value) for value in values]
    ovtf.reset_stats()
    for value, want in zip(values, expected):
        np.testing.assert_allclose(accelerated(value).numpy(), want, rtol=1e-5, atol=1e-6)


def _inputs(count, shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(count)]


def test_repeated_calls_run_on_the_fast_path_with_each_calls_values():
    accelerated = tf.function(_chain)
    values = _inputs(5, (3, 4))
    _calls_match_stock(accelerated, values)
    stats = ovtf.stats()
    assert stats["device_executions"] == 5 and stats["fallbacks"] == 0, stats
    assert stats["fast_path_executions"] == 4, stats      # every call after the first
    assert stats["devices"]["CPU"]["calls"] == 5 and stats["devices"]["CPU"]["rows"] == 15


def test_another_shape_goes_the_python_way_and_arms_again():
    accelerated = tf.function(_chain, input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    values = _inputs(2, (2, 4)) + _inputs(2, (3, 4), seed=1) + _inputs(1, (2, 4), seed=2)
    _calls_match_stock(accelerated, values)
    stats = ovtf.stats()
    assert stats["device_executions"] == 5, stats
    # (2,4) arms, (2,4) fast, (3,4) re-arms, (3,4) fast, (2,4) re-arms
    assert stats["fast_path_executions"] == 2, stats


def test_an_assigned_weight_is_never_stale():
    weight = tf.Variable(np.full((4, 4), 0.5, np.float32))

    def model(x):
        return tf.nn.relu(tf.matmul(x, weight) + 1.0) * 2.0 - 0.25

    accelerated = tf.function(model)
    x = _inputs(1, (2, 4))[0]
    expected = []
    for round_ in range(3):
        weight.assign(np.full((4, 4), 0.5 + round_, np.float32))
        expected.append(_stock(model, x))
    weight.assign(np.full((4, 4), 0.5, np.float32))
    ovtf.reset_stats()
    for round_ in range(3):
        for _ in range(3):
            np.testing.assert_allclose(accelerated(x).numpy(), expected[round_], rtol=1e-5)
        weight.assign(np.full((4, 4), 0.5 + round_ + 1, np.float32))
    stats = ovtf.stats()
    assert stats["device_executions"] == 9 and stats["fallbacks"] == 0, stats
    assert stats["fast_path_executions"] >= 4, stats   # 2 per round while the weight held


def test_a_baked_value_that_changes_goes_the_python_way():
    def model(x, shape):
        return tf.reshape(tf.tanh(x * 2.0) + 1.0, shape) * 3.0

    accelerated = tf.function(model)
    x = _inputs(1, (2, 6))[0]
    shapes = [tf.constant(shape) for shape in ([3, 4], [3, 4], [4, 3], [4, 3], [3, 4])]
    expected = [_stock(model, x, shape) for shape in shapes]
    ovtf.reset_stats()
    for shape, want in zip(shapes, expected):
        np.testing.assert_allclose(accelerated(x, shape).numpy(), want, rtol=1e-5, atol=1e-6)
    stats = ovtf.stats()
    assert stats["device_executions"] == 5, stats
    assert stats["fast_path_executions"] == 2, stats


def _armed_chain():
    """(accelerated `_chain`, its input, stock TF's answer), called twice: the kernel armed."""
    accelerated = tf.function(_chain)
    x = _inputs(1, (3, 4))[0]
    want = _stock(_chain, x)
    accelerated(x)
    accelerated(x)
    return accelerated, x, want


def test_a_settings_change_disarms_every_kernel():
    accelerated, x, want = _armed_chain()
    ovtf.reset_stats()
    ovtf.set_precision("bf16")
    try:
        got = accelerated(x).numpy()
        stats = ovtf.stats()
        assert stats["fast_path_executions"] == 0 and stats["compiles"] == 1, stats
        np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2)
        accelerated(x)
        assert ovtf.stats()["fast_path_executions"] == 1
    finally:
        ovtf.set_precision("f32")
    accelerated(x)
    assert ovtf.stats()["fast_path_executions"] == 1     # f32 again: the Python way first


def test_cost_placement_decides_every_call_itself():
    accelerated = tf.function(_chain)
    ovtf.enable_cost_placement()
    try:
        _calls_match_stock(accelerated, _inputs(4, (3, 4)))
        assert ovtf.stats()["fast_path_executions"] == 0
    finally:
        ovtf.disable_cost_placement()


def test_a_model_that_left_the_cache_is_not_run_by_the_kernel():
    accelerated, x, want = _armed_chain()
    PROCESS_CACHE.clear()
    ovtf.reset_stats()
    np.testing.assert_allclose(accelerated(x).numpy(), want, rtol=1e-5, atol=1e-6)
    stats = ovtf.stats()
    assert stats["fast_path_executions"] == 0 and stats["compiles"] == 1, stats


def test_concurrent_callers_get_their_own_answers():
    accelerated = tf.function(_chain)
    values = _inputs(8, (3, 4))
    expected = [_stock(_chain, value) for value in values]
    accelerated(values[0])
    errors = []

    def caller(index):
        try:
            for _ in range(25):
                np.testing.assert_allclose(accelerated(values[index]).numpy(), expected[index],
                                           rtol=1e-5, atol=1e-6)
        except Exception as error:  # reported below
            errors.append(error)

    ovtf.reset_stats()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(values))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    stats = ovtf.stats()
    assert stats["device_executions"] == 200 and stats["fast_path_executions"] > 100, stats


def test_without_the_c_api_clusters_run_through_the_python_api(monkeypatch):
    monkeypatch.setitem(native._native_state, "tried", True)
    monkeypatch.setitem(native._native_state, "runtime", None)
    PROCESS_CACHE.clear()
    accelerated = tf.function(_chain)
    values = _inputs(3, (3, 4))
    _calls_match_stock(accelerated, values)
    stats = ovtf.stats()
    assert stats["device_executions"] == 3 and stats["fast_path_executions"] == 0, stats
    PROCESS_CACHE.clear()


@pytest.mark.parametrize("dtype", [np.float16, np.int16, np.int32, np.int64, np.bool_])
def test_other_dtypes_and_scalars(dtype):
    if dtype is np.bool_:
        def model(x, y):
            return tf.logical_and(tf.logical_or(x, y), tf.logical_not(tf.logical_and(x, y)))
        x = np.array([[True, False], [True, True]])
        y = np.array(False)
    else:
        def model(x, y):
            return tf.maximum(x * y + y, x - y) * 2

        x = np.arange(6, dtype=dtype).reshape(2, 3)
        y = np.array(3, dtype=dtype)
    accelerated = tf.function(model)
    want = _stock(model, x, y)
    ovtf.reset_stats()
    for _ in range(3):
        np.testing.assert_array_equal(accelerated(x, y).numpy(), want)
    stats = ovtf.stats()
    if dtype is np.int64:
        # int64 arguments are not provably within int32 (OpenVINO's CPU computes int64
        # through int32): the graph stays in TF, reason RANGE (ovtf/ocm/ranges.py)
        assert stats["device_executions"] == 0, stats
        return
    assert stats["device_executions"] == 3 and stats["fast_path_executions"] == 2, stats


def test_a_cluster_loaded_from_the_disk_cache_runs_on_the_fast_path(tmp_path):
    """With a cache dir, the C API path exports its blob and a later load imports it through
    the C API (at f32, as compiled: a bf16 import would miss rtol 1e-5 on this matmul)."""
    rng = np.random.default_rng(3)
    weight = tf.Variable(rng.standard_normal((64, 64)).astype(np.float32))

    def model(x):
        return tf.tanh(tf.matmul(x, weight) * 0.1) + tf.reduce_sum(x, axis=1, keepdims=True)

    values = _inputs(4, (2, 64))
    expected = [_stock(model, value) for value in values]
    ovtf.set_cache_dir(tmp_path)
    accelerated = tf.function(model)
    np.testing.assert_allclose(accelerated(values[0]).numpy(), expected[0], rtol=1e-5, atol=1e-5)
    assert ovtf.stats()["compiles"] == 1
    assert len(list(tmp_path.iterdir())) == 1   # one blob, exported through the C API
    PROCESS_CACHE.clear()   # what a new process starts with: only the disk
    ovtf.reset_stats()
    for value, want in zip(values, expected):
        np.testing.assert_allclose(accelerated(value).numpy(), want, rtol=1e-5, atol=1e-5)
    stats = ovtf.stats()
    assert stats["compiles"] == 0 and stats["disk_cache_hits"] == 1, stats
    assert stats["device_executions"] == 4 and stats["fast_path_executions"] == 3, stats
    PROCESS_CACHE.clear()


def test_an_imported_blob_that_reports_other_settings_is_refused(tmp_path):
    """The C API imports without settings (they become the device defaults of the core it
    imports into): a model that then reports any setting otherwise is never used.
    NUM_STREAMS=AUTO makes the CPU plugin report PERFORMANCE_HINT THROUGHPUT."""
    import openvino as ov
    import openvino.opset13 as opset

    runtime = native.native_runtime()
    assert runtime is not None
    parameter = opset.parameter([1, 8], np.float32)
    ov.serialize(ov.Model([opset.relu(parameter)], [parameter]),
                 str(tmp_path / "m.xml"), str(tmp_path / "m.bin"))
    settings = [("PERFORMANCE_HINT", "LATENCY"), ("INFERENCE_PRECISION_HINT", "f32")]
    compiled = runtime.OpenVINOModel.compile(str(tmp_path / "m.xml"), str(tmp_path / "m.bin"),
                                             "CPU", settings)
    compiled.export_model(str(tmp_path / "blob"))
    blob = (tmp_path / "blob").read_bytes()
    imported = runtime.OpenVINOModel.import_model(blob, "CPU", settings)
    assert (imported.num_inputs, imported.num_outputs) == (1, 1)
    with pytest.raises(RuntimeError, match="PERFORMANCE_HINT THROUGHPUT, not LATENCY"):
        runtime.OpenVINOModel.import_model(blob, "CPU", settings + [("NUM_STREAMS", "AUTO")])
