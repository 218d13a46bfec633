"""The `openvino_tensorflow` compat module: OVTF 2.3's Python API and OPENVINO_TF_* variables
mapped onto ovtf. Environment variables are checked in fresh processes (they are read at
import); the calls in this process, with ovtf's and the module's state restored after each."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import tensorflow as tf

import openvino_tensorflow
import ovtf


@pytest.fixture(autouse=True)
def _restore_compat_state(monkeypatch):
    saved = dict(openvino_tensorflow._state)
    cuda = os.environ.get("CUDA_VISIBLE_DEVICES")
    for name in [name for name in os.environ if name.startswith("OPENVINO_TF_")]:
        monkeypatch.delenv(name)
    yield
    openvino_tensorflow._state.update(saved)
    if cuda is None:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = cuda


def test_offers_ovtf_2_3_public_api():
    for name in openvino_tensorflow.__all__:
        assert hasattr(openvino_tensorflow, name), name
    for name in ("optimize_graph_with_openvino_tf1", "optimize_graph_with_openvino_tf2",
                 "convert_variables_to_constants_with_openvino_tf2", "prepare_model",
                 "prepare_model_with_session", "set_cache_dir"):
        assert callable(getattr(openvino_tensorflow, name)), name
    version = openvino_tensorflow.__version__
    assert "OpenVINO integration with TensorFlow version: 2.3.0" in version
    assert f"ovtf {ovtf.__version__}" in version and f"v{tf.__version__}" in version
    assert openvino_tensorflow.cxx11_abi_flag() in (0, 1)


def test_enable_disable_map_onto_ovtf():
    openvino_tensorflow.disable()
    assert not openvino_tensorflow.is_enabled() and not ovtf.is_enabled()
    openvino_tensorflow.enable()
    assert openvino_tensorflow.is_enabled() and ovtf.is_enabled()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"  # as OVTF: graphs go to the CPU device


def test_enable_honours_openvino_tf_disable(monkeypatch):
    monkeypatch.setenv("OPENVINO_TF_DISABLE", "1")
    openvino_tensorflow.enable()
    assert not ovtf.is_enabled()


def test_disable_deassign_clusters_is_read_again_by_enable(monkeypatch):
    ovtf.set_min_cluster_size(9)
    monkeypatch.setenv("OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS", "1")
    openvino_tensorflow.enable()
    assert ovtf.get_min_cluster_size() == 1
    monkeypatch.delenv("OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS")
    openvino_tensorflow.enable()
    assert ovtf.get_min_cluster_size() == 9


def test_backends():
    assert openvino_tensorflow.list_backends() == ovtf.list_backends()
    assert "CPU" in openvino_tensorflow.list_backends()
    openvino_tensorflow.set_backend("CPU")
    assert openvino_tensorflow.get_backend() == "CPU" == ovtf.get_backend()
    with pytest.raises(ValueError, match="'POTATO' is not available.*available: .*CPU"):
        openvino_tensorflow.set_backend("POTATO")
    for removed in ("MYRIAD", "VAD-M"):
        with pytest.raises(ValueError, match=f"'{removed}'.*removed.*2023.0"):
            openvino_tensorflow.set_backend(removed)
    with pytest.raises(ValueError, match="42 is not a backend name"):
        openvino_tensorflow.set_backend(42)
    assert openvino_tensorflow.get_backend() == "CPU"


def test_gpu_fp16_is_gpu_at_f16(monkeypatch):
    """OVTF's GPU_FP16 backend: ovtf's GPU backend with f16 inference precision, undone when
    another backend is chosen. (ovtf.set_backend is stubbed: this machine may have no GPU.)"""
    chosen = []
    monkeypatch.setattr(ovtf, "set_backend", chosen.append)
    ovtf.set_precision("bf16")
    openvino_tensorflow.set_backend("GPU_FP16")
    assert chosen == ["GPU"] and ovtf.get_precision() == "f16"
    assert openvino_tensorflow.get_backend() == "GPU_FP16"
    openvino_tensorflow.set_backend("CPU")
    assert chosen == ["GPU", "CPU"] and ovtf.get_precision() == "bf16"


def test_disabled_ops_forms():
    assert openvino_tensorflow.get_disabled_ops() == b""
    openvino_tensorflow.set_disabled_ops("Sub,Add")
    assert openvino_tensorflow.get_disabled_ops() == b"Add,Sub"  # OVTF: sorted, bytes
    assert ovtf.get_disabled_ops() == ["Add", "Sub"]
    openvino_tensorflow.set_disabled_ops(b"Squeeze")
    assert openvino_tensorflow.get_disabled_ops() == b"Squeeze"
    openvino_tensorflow.set_disabled_ops(["MatMul", "Relu"])
    assert openvino_tensorflow.get_disabled_ops() == b"MatMul,Relu"
    openvino_tensorflow.set_disabled_ops("")
    assert openvino_tensorflow.get_disabled_ops() == b"" and ovtf.get_disabled_ops() == []
    with pytest.raises(ValueError, match="3 is not an op type name"):
        openvino_tensorflow.set_disabled_ops(["Add", 3])
    with pytest.raises(ValueError, match="neither a comma-separated string"):
        openvino_tensorflow.set_disabled_ops(3.5)


def test_unknown_disabled_op_is_kept_as_ovtf_did_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ovtf"):
        openvino_tensorflow.set_disabled_ops("Add,_InvalidOp")
    assert openvino_tensorflow.get_disabled_ops() == b"Add,_InvalidOp"
    assert ovtf.get_disabled_ops() == ["Add"]
    assert "'_InvalidOp' is not TensorFlow op type" in caplog.text


def test_disabled_ops_variable_is_read_again_by_get(monkeypatch):
    """OVTF's get_disabled_ops() applied OPENVINO_TF_DISABLED_OPS when it was set."""
    openvino_tensorflow.set_disabled_ops("Select,Where")
    monkeypatch.setenv("OPENVINO_TF_DISABLED_OPS", "Squeeze")
    assert openvino_tensorflow.get_disabled_ops() == b"Squeeze"
    assert ovtf.get_disabled_ops() == ["Squeeze"]


def test_logging_placement_and_dynamic_fallback():
    openvino_tensorflow.start_logging_placement()
    assert openvino_tensorflow.is_logging_placement() and ovtf.is_logging_placement()
    openvino_tensorflow.disable()
    assert not openvino_tensorflow.is_logging_placement()  # OVTF: only while enabled
    openvino_tensorflow.enable()
    openvino_tensorflow.stop_logging_placement()
    assert not openvino_tensorflow.is_logging_placement()
    openvino_tensorflow.disable_dynamic_fallback()
    assert not ovtf.is_dynamic_fallback_enabled()
    openvino_tensorflow.enable_dynamic_fallback()
    assert ovtf.is_dynamic_fallback_enabled()


def test_export_ir_says_what_to_use_instead(tmp_path):
    with pytest.raises(NotImplementedError, match="set_cache_dir"):
        openvino_tensorflow.export_ir(str(tmp_path))


def _frozen_graph(path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=(2, 3), name="x")
        weights = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4) / 10.0)
        y = tf.nn.relu(tf.matmul(tf.abs(x) * 2.0 + 1.0, weights), name="y")
        del y
    with open(path, "wb") as handle:
        handle.write(graph.as_graph_def().SerializeToString())


def test_optimize_graph_tf1_returns_a_graph_that_runs(tmp_path):
    path = str(tmp_path / "frozen.pb")
    _frozen_graph(path)
    graph_def = openvino_tensorflow.optimize_graph_with_openvino_tf1(path, ["y"])
    x = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], dtype=np.float32)
    results = []
    for enabled in (False, True):
        (openvino_tensorflow.enable if enabled else openvino_tensorflow.disable)()
        with tf.Graph().as_default() as graph:
            tf.import_graph_def(graph_def, name="")
            with tf.compat.v1.Session(graph=graph) as session:
                results.append(session.run("y:0", {"x:0": x}))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)
    assert ovtf.stats()["graphs_seen"] >= 1

    with pytest.raises(ValueError, match="does not exist") as error:
        openvino_tensorflow.optimize_graph_with_openvino_tf1(str(tmp_path / "missing.pb"), ["y"])
    assert isinstance(error.value, AssertionError)  # what OVTF raised
    with pytest.raises(ValueError, match="'nope'"):
        openvino_tensorflow.optimize_graph_with_openvino_tf1(path, ["nope"])


def test_convert_variables_to_constants_tf2(tmp_path):
    class Affine(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) / 10.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def __call__(self, x):
            return {"y": tf.nn.relu(tf.matmul(x, self.w) - 0.5)}

    module = Affine()
    tf.saved_model.save(module, str(tmp_path), signatures=module.__call__)
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
    frozen = openvino_tensorflow.convert_variables_to_constants_with_openvino_tf2(str(tmp_path), x)
    expected = module(x)["y"].numpy()
    np.testing.assert_allclose(frozen(x)[0].numpy(), expected, rtol=1e-5)  # flat, as in OVTF
    optimized = openvino_tensorflow.optimize_graph_with_openvino_tf2(str(tmp_path), [x])
    np.testing.assert_allclose(optimized(x)[0].numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="signature 'nope' is not in"):
        openvino_tensorflow.convert_variables_to_constants_with_openvino_tf2(
            str(tmp_path), x, saved_model_signature="nope")
    with pytest.raises(ValueError, match="save_optimized_function_signature"):
        openvino_tensorflow.optimize_graph_with_openvino_tf2(
            str(tmp_path), x, save_optimized_function_signature=True)


# --- OPENVINO_TF_* variables, read at import: fresh processes -----------------------------

def test_environment_variables_map_onto_ovtf(fresh_process, tmp_path):
    result = fresh_process("""
        import json, os
        import openvino_tensorflow, ovtf
        print(json.dumps({
            "backend": openvino_tensorflow.get_backend(),
            "disabled": openvino_tensorflow.get_disabled_ops().decode(),
            "ovtf_disabled": ovtf.get_disabled_ops(),
            "fallback": ovtf.is_dynamic_fallback_enabled(),
            "placement": openvino_tensorflow.is_logging_placement(),
            "min": ovtf.get_min_cluster_size(),
            "cache": ovtf.get_cache_dir(),
            "enabled": ovtf.is_enabled(),
            "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }))
    """, env={"OPENVINO_TF_BACKEND": "CPU", "OPENVINO_TF_DISABLED_OPS": "Squeeze,Add",
              "OPENVINO_TF_DYNAMIC_FALLBACK": "0", "OPENVINO_TF_LOG_PLACEMENT": "1",
              "OPENVINO_TF_MIN_NONTRIVIAL_NODES": "7",
              "OPENVINO_TF_MODEL_CACHE_DIR": str(tmp_path / "cache")})
    assert result == {"backend": "CPU", "disabled": "Add,Squeeze", "ovtf_disabled": ["Add", "Squeeze"],
                      "fallback": False, "placement": True, "min": 7,
                      "cache": str(tmp_path / "cache"), "enabled": True, "cuda": "-1"}


def test_disable_variable_and_deassign(fresh_process):
    result = fresh_process("""
        import json, os
        import openvino_tensorflow, ovtf
        print(json.dumps({"enabled": ovtf.is_enabled(), "min": ovtf.get_min_cluster_size(),
                          "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}))
    """, env={"OPENVINO_TF_DISABLE": "1", "OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS": "1",
              "CUDA_VISIBLE_DEVICES": "0"})
    assert result == {"enabled": False, "min": 1, "cuda": "0"}


def test_bad_and_unused_variables(fresh_process):
    """A bad value fails the import with a ValueError naming the variable and the value; a
    variable OVTF had that changes nothing here, or an unknown one, is logged."""
    result = fresh_process("""
        import importlib, json, logging, os, sys
        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())
        logging.getLogger("ovtf").addHandler(Keep())
        errors = {}
        for name, value in [("OPENVINO_TF_BACKEND", "POTATO"),
                            ("OPENVINO_TF_MIN_NONTRIVIAL_NODES", "many"),
                            ("OPENVINO_TF_DYNAMIC_FALLBACK", "maybe"),
                            ("OPENVINO_TF_VLOG_LEVEL", "9")]:
            os.environ[name] = value
            sys.modules.pop("openvino_tensorflow", None)
            try:
                importlib.import_module("openvino_tensorflow")
                errors[name] = None
            except ValueError as error:
                errors[name] = str(error)
            del os.environ[name]
        os.environ["OPENVINO_TF_CONSTANT_FOLDING"] = "1"
        os.environ["OPENVINO_TF_NO_SUCH_THING"] = "1"
        sys.modules.pop("openvino_tensorflow", None)
        importlib.import_module("openvino_tensorflow")
        print(json.dumps({"errors": errors, "records": records}))
    """)
    errors = result["errors"]
    assert "OPENVINO_TF_BACKEND" in errors["OPENVINO_TF_BACKEND"] and "'POTATO'" in errors["OPENVINO_TF_BACKEND"]
    assert "'many' is not an integer >= 1" in errors["OPENVINO_TF_MIN_NONTRIVIAL_NODES"]
    assert "'maybe' is not a boolean" in errors["OPENVINO_TF_DYNAMIC_FALLBACK"]
    assert "'9' is not an integer from 0 to 5" in errors["OPENVINO_TF_VLOG_LEVEL"]
    text = "\n".join(result["records"])
    assert "OPENVINO_TF_CONSTANT_FOLDING=1 has no effect" in text
    assert "OPENVINO_TF_NO_SUCH_THING is not an OpenVINO integration with TensorFlow setting" in text


def test_ovtf_style_session_program_runs_on_the_device(fresh_process):
    """An OVTF 2.3 program, unchanged: import openvino_tensorflow, a TF1 Session graph, and
    OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS=1 (OVTF's test harness sets it) for a small graph."""
    result = fresh_process("""
        import json
        import numpy as np
        import tensorflow as tf
        tf.compat.v1.disable_eager_execution()
        import openvino_tensorflow, ovtf

        x = tf.compat.v1.placeholder(tf.float32, shape=(2, 3))
        y = tf.nn.relu(tf.abs(x) * 2.0 - 3.0 + tf.sin(x))
        feed = {x: np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], dtype=np.float32)}
        results = []
        for enabled in (False, True):
            (openvino_tensorflow.enable if enabled else openvino_tensorflow.disable)()
            ovtf.reset_stats()
            with tf.compat.v1.Session() as session:
                results.append(session.run(y, feed))
        print(json.dumps({"same": bool(np.allclose(results[0], results[1], rtol=1e-5)),
                          "device": ovtf.stats()["device_executions"],
                          "min": ovtf.get_min_cluster_size()}))
    """, env={"OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS": "1"})
    assert result["same"] and result["min"] == 1
    assert result["device"] >= 1


def test_single_op_session_runs_on_the_device_when_every_cluster_is_kept(monkeypatch):
    """OVTF's harness style: OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS=1 and a plain ConfigProto;
    a 2-node graph (grappler would skip it) runs on the device, and the caller's ConfigProto
    is left as it was."""
    import numpy as np
    import tensorflow as tf

    import openvino_tensorflow
    import ovtf

    monkeypatch.setenv("OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS", "1")
    openvino_tensorflow.enable()
    try:
        ovtf.reset_stats()
        config = tf.compat.v1.ConfigProto()
        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32, (2, 3))
            y = tf.abs(x)
            with tf.compat.v1.Session(graph=graph, config=config) as session:
                got = session.run(y, {x: -np.ones((2, 3), np.float32)})
        np.testing.assert_array_equal(got, np.ones((2, 3), np.float32))
        assert ovtf.stats()["device_executions"] == 1, ovtf.stats()
        assert config.graph_options.rewrite_options.min_graph_nodes == 0
    finally:
        monkeypatch.delenv("OPENVINO_TF_DISABLE_DEASSIGN_CLUSTERS")
        openvino_tensorflow.enable()


# --- graphs saved by OVTF 2.x: `_nGraphEncapsulate` cluster nodes ---------------------------

def _ovtf2_graph(with_function=True, control_input=False):
    """A GraphDef as OVTF 2.x saved it after its rewrite: placeholders x, y, z, one
    `_nGraphEncapsulate` node whose function (in the library) computes (a + b) * c and
    sigmoid of that, and IdentityN consumers of both results."""
    from tensorflow.core.framework import graph_pb2

    def body(a, b, c):
        total = (a + b) * c
        return tf.tanh(total) + 1.0, tf.sigmoid(total) * 2.0

    spec = tf.TensorSpec((2, 3), tf.float32)
    function = tf.function(body).get_concrete_function(spec, spec, spec).function_def
    function.signature.name = "ovtf_cluster_0"
    graph = graph_pb2.GraphDef()
    for name in ("x", "y", "z"):
        node = graph.node.add(name=name, op="Placeholder")
        node.attr["dtype"].type = tf.float32.as_datatype_enum
    cluster = graph.node.add(name="ovtf_cluster_0", op="_nGraphEncapsulate",
                             input=["x", "y", "z"] + (["^z"] if control_input else []))
    cluster.attr["Targuments"].list.type.extend([tf.float32.as_datatype_enum] * 3)
    cluster.attr["Tresults"].list.type.extend([tf.float32.as_datatype_enum] * 2)
    cluster.attr["ovtf_cluster"].i = 0
    cluster.attr["ngraph_graph_id"].i = 0
    for name, source in (("first", "ovtf_cluster_0"), ("second", "ovtf_cluster_0:1")):
        node = graph.node.add(name=name, op="IdentityN", input=[source])
        node.attr["T"].list.type.append(tf.float32.as_datatype_enum)
    if with_function:
        graph.library.function.add().CopyFrom(function)
    return graph


def _run_ovtf2_graph(graph_def, fetches):
    values = {name: np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3) * k
              for k, name in enumerate("xyz", start=1)}
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        feeds = {graph.get_tensor_by_name(f"{name}:0"): value for name, value in values.items()}
        with tf.compat.v1.Session(graph=graph) as session:
            got = session.run([graph.get_tensor_by_name(name) for name in fetches], feeds)
    total = (values["x"] + values["y"]) * values["z"]
    return got, [np.tanh(total) + 1.0, 1.0 / (1.0 + np.exp(-total)) * 2.0]


def test_ovtf2_saved_cluster_runs_on_the_device():
    """A graph OVTF 2.x saved with its cluster op imports and runs: the cluster's function is
    opened back into TF ops and partitioned again, so it runs on the device, fetched through
    its consumers and through the cluster node's own ports."""
    ovtf.reset_stats()
    got, expected = _run_ovtf2_graph(_ovtf2_graph(), ["first:0", "second:0", "ovtf_cluster_0:1"])
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    np.testing.assert_allclose(got[2], expected[1], rtol=1e-6)
    stats = ovtf.stats()
    assert stats["device_executions"] == 1 and stats["fallbacks"] == 0, stats
    assert stats["ops_clustered"] >= 5, stats      # add, mul, tanh, add, sigmoid, mul


def test_ovtf2_saved_cluster_runs_in_tensorflow_when_disabled():
    openvino_tensorflow.disable()
    try:
        ovtf.reset_stats()
        got, expected = _run_ovtf2_graph(_ovtf2_graph(control_input=True), ["first:0", "second:0"])
    finally:
        openvino_tensorflow.enable()
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    assert ovtf.stats()["cluster_executions"] == 0


def test_ovtf2_cluster_without_its_function_fails_naming_the_op():
    with pytest.raises(tf.errors.InternalError, match="_nGraphEncapsulate.*not opened"):
        _run_ovtf2_graph(_ovtf2_graph(with_function=False), ["first:0"])


def test_ovtf2_cluster_opened_keeps_names_ports_and_control_inputs():
    from ovtf.partitioner import ovtf2_clusters

    graph_def = _ovtf2_graph(control_input=True)
    opened = ovtf2_clusters.inline(graph_def)
    by_name = {node.name: node for node in opened.node}
    assert not ovtf2_clusters.has_clusters(opened)
    alias = by_name["ovtf_cluster_0"]
    assert alias.op == "IdentityN" and len(alias.input) == 3 and alias.input[2] == "^z"
    body = [node for node in opened.node if node.name.startswith("ovtf_cluster_0/")]
    assert body and all("^z" in node.input for node in body)
    # the function's arguments (a, b, c) became the cluster node's inputs (x, y, z)
    assert {source.split(":")[0].lstrip("^") for node in body for source in node.input
            if not source.startswith("ovtf_cluster_0/")} <= {"x", "y", "z"}
    assert list(by_name["second"].input) == ["ovtf_cluster_0:1"]
    assert ovtf2_clusters.inline(opened) is opened        # nothing left to open
