"""The `ovtf` command, run as a user runs it: a separate process (`python -m ovtf.cli`, what the
`ovtf` console script calls). Tiny models are built here, in code: a SavedModel, a `.keras`
file and a frozen GraphDef, each with a known number of compute ops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import tensorflow as tf

LAYERS = 10   # each model below stacks this many layers


def ovtf_command(*arguments, timeout=240):
    environment = dict(os.environ)
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)   # what a user's shell has
    return subprocess.run([sys.executable, "-m", "ovtf.cli", *map(str, arguments)],
                          capture_output=True, text=True, timeout=timeout, env=environment)


class Stack(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.eye(4) * 0.5)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def __call__(self, x):
        for _ in range(LAYERS):
            x = tf.nn.relu(tf.matmul(x, self.w) + 1.0)      # MatMul, AddV2, Relu
        return {"y": x}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import keras

    root = tmp_path_factory.mktemp("models")
    saved = root / "stack"
    tf.saved_model.save(Stack(), str(saved))

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,), name="features")
    hidden = keras.layers.Dense(16, activation="relu")(inputs)      # MatMul, BiasAdd, Relu
    hidden = keras.layers.Dense(16, activation="tanh")(hidden)      # MatMul, BiasAdd, Tanh
    keras.Model(inputs, keras.layers.Dense(3)(hidden)).save(str(root / "mlp.keras"))

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        weight = tf.constant([[0.1] * 4] * 4)
        for _ in range(LAYERS):
            x = tf.tanh(tf.matmul(x, weight) + 0.5)              # MatMul, AddV2, Tanh
        tf.identity(x, name="y")
    (root / "frozen.pb").write_bytes(graph.as_graph_def().SerializeToString())
    (root / "notes.txt").write_text("not a model")
    (root / "garbage.pb").write_bytes(b"\xff\x00 definitely not a GraphDef \x12\x99" * 9)
    (root / "empty_dir").mkdir()
    return root


def _json(process):
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Traceback" not in process.stderr
    return json.loads(process.stdout)


def test_info(models):
    data = _json(ovtf_command("info", "--json"))
    assert data["tensorflow"] == tf.__version__
    assert data["tensorflow_supported"].startswith(">=2.16")
    assert "CPU" in [device["name"] for device in data["devices"]]
    assert "CPU" in [row["name"] for row in data["backends"]]
    assert data["settings"]["min_cluster_size"] == 2          # conftest's OVTF_MIN_CLUSTER_SIZE
    assert data["environment"]["OVTF_MIN_CLUSTER_SIZE"] == "2"
    plain = ovtf_command("info")
    assert plain.returncode == 0 and "OpenVINO devices" in plain.stdout
    # quiet: none of TensorFlow's CPU start-up notices reach the terminal
    assert "cuda" not in plain.stderr.lower() and "oneDNN" not in plain.stderr, plain.stderr


def test_info_marks_emulated_devices():
    from click.testing import CliRunner

    from ovtf import testing
    from ovtf.cli import cli

    with testing.emulated_devices(1, kind="NPU") as names:
        result = CliRunner().invoke(cli, ["info", "--json"], prog_name="ovtf")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["backends"]}
    assert rows[names[0]]["emulated"] is True, rows
    assert rows["CPU"]["emulated"] is False


@pytest.mark.parametrize("name, ops, signature", [
    ("stack", 3 * LAYERS, "serving_default"),
    ("mlp.keras", 8, "call"),
    ("frozen.pb", 3 * LAYERS, "graph"),
])
def test_analyze_json_counts_the_models_ops(models, name, ops, signature):
    document = _json(ovtf_command("analyze", models / name, "--json"))
    assert document["backend"] == "CPU" and document["min_cluster_size"] == 2
    [entry] = document["signatures"]
    assert entry["name"] == signature
    assert entry["ops_total"] == ops == entry["compute_ops"]
    assert entry["ops_clustered"] == ops and entry["rewritten"], entry["headline"]
    assert sum(cluster["size"] for cluster in entry["clusters"]) == ops
    assert len([n for n in entry["nodes"] if n["compute"]]) == ops


def test_analyze_explains_graphs_left_alone_and_draws(models, tmp_path):
    picture = tmp_path / "stack.html"
    process = ovtf_command("analyze", models / "stack", "--min-cluster-size", "100",
                           "--html", picture)
    assert process.returncode == 0, process.stderr
    assert "clusters below minimum size 100" in process.stdout
    assert "CLUSTER_TOO_SMALL" in process.stdout
    text = picture.read_text()
    assert "<svg" in text and "MatMul" in text and "CLUSTER_TOO_SMALL" in text


def test_bench_json(models):
    result = _json(ovtf_command("bench", models / "stack", "--batch", "2", "--iterations", "3",
                                "--warmup", "1", "--json"))
    assert result["batch"] == 2 and result["inputs"][0]["shape"] == [2, 4]
    assert set(result["modes"]) == {"tensorflow", "ovtf", "openvino"}
    for mode in ("tensorflow", "ovtf", "openvino"):
        row = result["modes"][mode]
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"] and row["throughput"] > 0
    assert result["stock_cluster_executions"] == 0               # stock TF really was stock
    assert result["placement"]["ops_clustered"] == 3 * LAYERS
    assert result["device_executions"] >= 4 and result["fallbacks"] == 0
    assert result["max_rel_diff_ovtf"] < 1e-5 and result["max_rel_diff_openvino"] < 1e-5


BAD_ARGUMENTS = [
    (("analyze", "{root}/missing"), "does not exist"),
    (("analyze", "{root}/notes.txt"), "unknown model format"),
    (("analyze", "{root}/empty_dir"), "not a SavedModel"),
    (("analyze", "{root}/garbage.pb"), "cannot read"),
    (("analyze", "{root}/stack/saved_model.pb"), "pass its directory"),
    (("analyze", "{root}/stack", "--backend", "NOPE"), "backend 'NOPE' is not available"),
    (("analyze", "{root}/stack", "--min-cluster-size", "0"), "--min-cluster-size"),
    (("analyze",), "Missing argument 'MODEL'"),
    (("bench", "{root}/stack", "--batch", "0"), "--batch"),
    (("bench", "{root}/stack", "--precision", "f8"), "'f8' is not one of"),
    (("bench", "{root}/stack", "--iterations", "x"), "--iterations"),
    (("bench", "{root}/stack", "--signature", "nope"), "not a signature"),
    (("bench", "{root}/missing.keras"), "does not exist"),
    (("frobnicate",), "No such command"),
]


def _check_error(arguments, expected, code, stdout, stderr):
    assert code == 2, (arguments, code, stderr)
    assert "Traceback" not in stderr, (arguments, stderr)
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, (arguments, stderr)
    assert expected in stderr, (arguments, stderr)
    assert stdout == "", (arguments, stdout)


def test_bad_arguments_exit_2_with_one_message(models):
    """Every case through click's own runner (in this process: fast)."""
    from click.testing import CliRunner

    from ovtf.cli import cli

    runner = CliRunner()
    for arguments, expected in BAD_ARGUMENTS:
        arguments = [a.format(root=models) for a in arguments]
        result = runner.invoke(cli, arguments, prog_name="ovtf")
        _check_error(arguments, expected, result.exit_code, result.stdout, result.stderr)


def test_bad_arguments_in_a_real_process(models):
    """A few of them as a user meets them: a process of its own, its real exit status."""
    cases = [BAD_ARGUMENTS[i] for i in (0, 1, 5, 9)]

    def run(case):
        return ovtf_command(*[a.format(root=models) for a in case[0]])

    with ThreadPoolExecutor(max_workers=2) as pool:
        processes = list(pool.map(run, cases))
    for (arguments, expected), process in zip(cases, processes):
        _check_error(arguments, expected, process.returncode, process.stdout, process.stderr)
