"""The native bridge on real TensorFlow, driven by a test rewriter and a numpy "device".

`bridge_testing.chain_rewriter` wraps chains of elementwise ops into `OVTFCluster` nodes,
and `NumpyDevice` runs them: every test checks the numbers against stock TensorFlow and that
clusters really ran (device calls, cluster executions), so a no-op bridge cannot pass.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf

import ovtf
from ovtf import _native
from ovtf import hook as bridge
from ovtf.spec import FALLBACK_ATTR

import bridge_testing
from bridge_testing import chain_rewriter, use_test_bridge
from concurrency import run_in_threads


def affine_tanh(x):
    return tf.tanh(x * 0.5 + 1.0) * 2.0 - 0.5


def reference(x):
    return np.tanh(x * 0.5 + 1.0) * 2.0 - 0.5


def random_input(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_plugin_is_loaded_and_sees_graphs():
    assert _native.plugin_initialized()
    before = _native.optimizer_calls()
    tf.function(affine_tanh)(random_input(2, 3))
    assert _native.optimizer_calls() > before


def test_tf_function_runs_cluster():
    function = tf.function(affine_tanh)
    x = random_input(4, 5)
    with use_test_bridge() as device:
        result = function(x).numpy()
        np.testing.assert_allclose(result, reference(x), rtol=1e-6, atol=1e-6)
        assert device.device_calls == 1
        stats = ovtf.stats()
        assert stats["cluster_executions"] == 1 and stats["device_executions"] == 1
        assert stats["fallbacks"] == 0


def test_keras_predict_runs_cluster():
    import keras

    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8)(inputs)
    outputs = keras.layers.Lambda(lambda t: tf.tanh(t * 0.5 + 1.0) * 2.0 - 0.5)(hidden)
    model = keras.Model(inputs, outputs)
    x = random_input(5, 6)
    expected = model(x).numpy()
    with use_test_bridge() as device:
        result = model.predict(x, verbose=0)
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
        assert device.device_calls >= 1


def test_tf1_session_runs_cluster():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        y = tf.identity(affine_tanh(x), name="y")
    data = random_input(4, 3)
    with use_test_bridge() as device, tf.compat.v1.Session(graph=graph) as session:
        result = session.run(y, {x: data})
        np.testing.assert_allclose(result, reference(data), rtol=1e-6, atol=1e-6)
        assert device.device_calls == 1


def test_fallback_gives_right_numbers():
    function = tf.function(affine_tanh)
    x = random_input(3, 7)
    with use_test_bridge() as device:
        device.fail = True
        result = function(x).numpy()
        np.testing.assert_allclose(result, reference(x), rtol=1e-6, atol=1e-6)
        stats = ovtf.stats()
        assert device.device_calls == 1
        assert stats["fallbacks"] == 1 and stats["fallback_reasons"] == {"run": 1}
        assert stats["device_executions"] == 0


def test_fallback_in_tf1_session():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        y = tf.identity(affine_tanh(x), name="y")
    data = random_input(2, 3)
    with use_test_bridge() as device, tf.compat.v1.Session(graph=graph) as session:
        device.fail = True
        np.testing.assert_allclose(session.run(y, {x: data}), reference(data), rtol=1e-6)
        assert ovtf.stats()["fallbacks"] == 1


def test_python_error_becomes_tf_error_naming_the_cluster():
    class Broken(Exception):
        pass

    def broken_factory(name, graph_bytes, tin, tout, backend=""):
        handle = bridge_testing.numpy_cluster_factory(name, graph_bytes, tin, tout)

        def run(inputs, outputs):
            raise Broken("device exploded")
        handle.run = run
        return handle

    function = tf.function(affine_tanh)
    with use_test_bridge():
        with bridge.override(cluster_factory=broken_factory):
            with pytest.raises(tf.errors.InternalError, match=r"test_cluster_0.*device exploded"):
                function(random_input(2, 2))


def test_rewrite_is_idempotent():
    graph_def = tf.function(affine_tanh).get_concrete_function(
        tf.TensorSpec([None, 3], tf.float32)).graph.as_graph_def()
    first = chain_rewriter(graph_def, [], [])
    assert first is not None
    assert sum(node.op == "OVTFCluster" for node in first.node) == 1
    assert chain_rewriter(first, [], []) is None
    with bridge.override(graph_rewriter=chain_rewriter):
        assert bridge.on_graph(first.SerializeToString(), [], []) is None


def test_rewriter_exception_leaves_program_working_and_warns(caplog):
    calls = []

    def exploding_rewriter(graph_def, fetch, preserve):
        calls.append(1)
        raise RuntimeError("rewriter bug")

    function = tf.function(lambda x: affine_tanh(x) + 1.0)
    x = random_input(3, 3)
    with caplog.at_level(logging.WARNING, logger="ovtf"):
        with use_test_bridge(graph_rewriter=exploding_rewriter):
            result = function(x).numpy()
    np.testing.assert_allclose(result, reference(x) + 1.0, rtol=1e-6)
    assert calls, "the rewriter was never called"
    warnings = [r for r in caplog.records if "could not rewrite" in r.getMessage()]
    # TF hands the same graph to the optimizer twice: still one warning for it.
    assert len(warnings) == 1 and "rewriter bug" in warnings[0].getMessage()


def test_disable_leaves_new_graphs_alone():
    function = tf.function(affine_tanh)
    with use_test_bridge() as device:
        ovtf.disable()
        assert not ovtf.is_enabled()
        np.testing.assert_allclose(function(random_input(2, 2)).numpy(),
                                   reference(random_input(2, 2)), rtol=1e-6)
        assert device.device_calls == 0
        ovtf.enable()
        bridge.clear_function_cache()
        function(random_input(2, 2))
        assert device.device_calls == 1


@pytest.mark.timeout(120)
def test_four_threads_same_and_different_functions():
    functions = [tf.function(affine_tanh), tf.function(lambda x: affine_tanh(x) * 3.0)]
    expected = [reference, lambda x: reference(x) * 3.0]
    def worker(seed):
        for step in range(20):
            which = (seed + step) % 2
            x = random_input(2 + seed, 3, seed=seed * 100 + step)
            np.testing.assert_allclose(functions[which](x).numpy(), expected[which](x),
                                       rtol=1e-5, atol=1e-6)

    with use_test_bridge() as device:
        run_in_threads(worker, 4, timeout=100)
        assert device.device_calls == 80


def test_savedmodel_in_fresh_process(tmp_path, fresh_process):
    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            return affine_tanh(x)

    path = str(tmp_path / "saved")
    tf.saved_model.save(Module(), path)
    result = fresh_process(f"""
        import json, numpy as np, tensorflow as tf
        import ovtf
        from bridge_testing import use_test_bridge
        x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
        with use_test_bridge() as device:
            loaded = tf.saved_model.load({path!r})
            y = loaded(x).numpy()
            diff = float(np.abs(y - (np.tanh(x * 0.5 + 1.0) * 2.0 - 0.5)).max())
            print(json.dumps({{"diff": diff, "device_calls": device.device_calls}}))
    """)
    assert result["diff"] < 1e-5
    assert result["device_calls"] == 1


def test_graph_built_before_import_is_rewritten(fresh_process):
    result = fresh_process("""
        import json, numpy as np, tensorflow as tf
        f = tf.function(lambda x: tf.tanh(x * 0.5 + 1.0) * 2.0 - 0.5)
        x = np.ones((2, 2), np.float32)
        before = f(x).numpy()              # traced and instantiated before ovtf exists
        import ovtf
        from ovtf import hook as bridge
        import bridge_testing
        with bridge.override(graph_rewriter=bridge_testing.chain_rewriter,
                             cluster_factory=bridge_testing.numpy_cluster_factory):
            bridge.clear_function_cache()  # what import ovtf did, redone under the test bridge
            after = f(x).numpy()
        print(json.dumps({"same": bool(np.allclose(before, after)),
                          "device_calls": bridge_testing.SWITCHES.device_calls}))
    """)
    assert result == {"same": True, "device_calls": 1}


def test_import_clears_function_cache_for_earlier_graphs(fresh_process):
    # Without any test hook: the real import must make TF hand an already-instantiated
    # function's graph to ovtf again.
    result = fresh_process("""
        import json, numpy as np, tensorflow as tf
        f = tf.function(lambda x: tf.tanh(x * 0.5 + 1.0) * 2.0 - 0.5)
        f(np.ones((2, 2), np.float32))
        import ovtf
        from ovtf import _native
        before = _native.optimizer_calls()
        f(np.ones((2, 2), np.float32))
        print(json.dumps({"new_optimizer_calls": _native.optimizer_calls() - before}))
    """)
    assert result["new_optimizer_calls"] >= 1


@pytest.mark.timeout(300)
def test_fallback_with_one_inter_op_thread_and_parallel_clusters(fresh_process):
    result = fresh_process("""
        import json, numpy as np, tensorflow as tf
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        import ovtf
        from bridge_testing import use_test_bridge

        @tf.function
        def four_branches(x):
            # Four independent chains -> four clusters that can run (and fall back) at once.
            return [tf.tanh(x * float(k) + 1.0) * 2.0 - 0.5 for k in range(1, 5)]

        x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
        expected = [np.tanh(x * float(k) + 1.0) * 2.0 - 0.5 for k in range(1, 5)]
        with use_test_bridge() as device:
            device.fail = True
            outputs = [o.numpy() for o in four_branches(x)]
            stats = ovtf.stats()
        print(json.dumps({
            "diff": max(float(np.abs(o - e).max()) for o, e in zip(outputs, expected)),
            "fallbacks": stats["fallbacks"], "device_calls": device.device_calls}))
    """, timeout=240)
    assert result["diff"] < 1e-5
    assert result["fallbacks"] == 4 and result["device_calls"] == 4


def test_import_twice_reload_and_threads_do_not_abort(fresh_process):
    result = fresh_process("""
        import importlib, json, threading
        results = []
        def load():
            import ovtf
            results.append(ovtf.is_enabled())
        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads: t.start()
        for t in threads: t.join()
        import ovtf
        import ovtf as again
        importlib.reload(ovtf)
        import numpy as np, tensorflow as tf
        from ovtf import _native
        value = tf.function(lambda x: tf.tanh(x) * 2.0 + 1.0)(np.ones(3, np.float32)).numpy()
        print(json.dumps({"threads": results, "initialized": _native.plugin_initialized(),
                          "value": value.tolist()}))
    """)
    assert result["threads"] == [True, True] and result["initialized"]
    np.testing.assert_allclose(result["value"], np.tanh(1.0) * 2.0 + 1.0, rtol=1e-6)


def test_fallback_graphs_never_reach_the_rewriter():
    seen_fallback_graphs = []

    def recording_rewriter(graph_def, fetch, preserve):
        if any(FALLBACK_ATTR in node.attr for node in graph_def.node):
            seen_fallback_graphs.append(graph_def)
        return chain_rewriter(graph_def, fetch, preserve)

    function = tf.function(lambda x: affine_tanh(x) * 4.0)
    x = random_input(2, 5)
    with use_test_bridge(graph_rewriter=recording_rewriter) as device:
        device.fail = True
        np.testing.assert_allclose(function(x).numpy(), reference(x) * 4.0, rtol=1e-6)
        assert ovtf.stats()["fallbacks"] == 1
    # The worker thread's "in fallback" guard keeps TF from even asking.
    assert seen_fallback_graphs == []


def test_tensorflow_version_check():
    from ovtf import _compat

    assert _compat.parse_version("2.21.0") == (2, 21)
    assert _compat.parse_version("2.22.0rc1") == (2, 22)
    assert _compat.MIN_TENSORFLOW <= _compat.parse_version(tf.__version__) \
        < _compat.MAX_TENSORFLOW_EXCLUSIVE


def test_unsupported_tensorflow_version_is_a_clear_import_error(monkeypatch):
    from ovtf import _compat

    monkeypatch.setattr(tf, "__version__", "2.12.0")
    with pytest.raises(ImportError, match=r"supports TensorFlow >=2.16,<2.22.*2\.12\.0"):
        _compat.check_tensorflow()


def test_tensorflow_libraries_are_in_global_scope():
    """TF 2.16-2.18 load their libraries RTLD_LOCAL; ovtf promotes them after import (a no-op
    on 2.19+), so every TF C API symbol the bridge uses resolves process-wide."""
    import ctypes
    import os

    from ovtf import _compat

    promoted = _compat.promote_tensorflow_libraries(os.path.dirname(tf.__file__))
    assert any(path.endswith("libtensorflow_cc.so.2") for path in promoted), promoted
    everything = ctypes.CDLL(None)
    for symbol in ("TF_GetNodesToPreserveList", "TF_NewKernelBuilder", "TF_RegisterKernelBuilder"):
        assert hasattr(everything, symbol), symbol
