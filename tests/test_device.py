"""DeviceCluster: compiled-cluster cache, weights staleness, failures, threads, disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("openvino")

from ovtf import backends, config  # noqa: E402
from ovtf.backends import Backend, BackendError, Executable  # noqa: E402
from ovtf.runtime import compiled_cache, shape_plan  # noqa: E402
from ovtf.runtime import device as device_module  # noqa: E402
from ovtf.runtime.compiled_cache import PROCESS_CACHE  # noqa: E402
from ovtf.backends import BackendError  # noqa: E402
from ovtf.runtime.device import DeviceCluster  # noqa: E402
from test_importer import ListSink, assert_close, make_spec, rand, run_tf  # noqa: E402
from concurrency import run_in_threads

try:
    from ovtf import counters
except ImportError:  # pragma: no cover
    from ovtf import stats as counters


@pytest.fixture(autouse=True)
def clean_state():
    saved = (config.settings.backend, config.settings.precision, config.settings.cache_dir)
    PROCESS_CACHE.clear()
    counters.reset()
    yield
    config.update(backend=saved[0], precision=saved[1], cache_dir=saved[2])
    PROCESS_CACHE.set_capacity(compiled_cache.DEFAULT_CACHE_SIZE)
    PROCESS_CACHE.clear()


def dense_spec(name="dense"):
    return make_spec(lambda x, w, b: [tf.nn.relu(tf.matmul(x, w) + b), tf.reduce_mean(x, axis=1)],
                     [(tf.float32, (None, 8)), (tf.float32, (8, 4)), (tf.float32, (4,))],
                     variables=(1, 2), name=name)


def readonly(array):
    """Like the native kernel's inputs: a read-only view of someone else's buffer."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view


def run(device, spec, inputs):
    sink = ListSink(spec)
    device.run([readonly(a) for a in inputs], sink)
    return sink.arrays


def check(device, spec, inputs):
    for actual, expected in zip(run(device, spec, inputs), run_tf(spec, inputs)):
        assert_close(actual, expected)


def test_batch_sizes_compile_once_then_hit():
    spec = dense_spec()
    device = DeviceCluster(spec, settings=config.current)
    w, b = rand(8, 4), rand(4)
    for batch in (1, 3, 8):
        check(device, spec, [rand(batch, 8), w, b])
    assert counters.snapshot()["compiles"] == 3
    for batch in (1, 3, 8, 3):
        check(device, spec, [rand(batch, 8), w, b])
    snapshot = counters.snapshot()
    assert snapshot["compiles"] == 3 and snapshot["cache_hits"] == 4


def test_weights_are_constants_but_never_stale():
    spec = dense_spec()
    device = DeviceCluster(spec, settings=config.current)
    x, w, b = rand(2, 8), rand(8, 4), rand(4)
    check(device, spec, [x, w, b])
    check(device, spec, [x, w, b])
    assert counters.snapshot()["compiles"] == 1
    # A variable assign: TF copies-on-write while the entry holds the old buffer, so the next
    # call sees a new pointer. Simulated with a fresh array.
    w2 = rand(8, 4)
    check(device, spec, [x, w2, b])
    assert counters.snapshot()["compiles"] == 2
    check(device, spec, [x, w2, b])
    assert counters.snapshot()["compiles"] == 2
    assert not device.weights_as_parameters


def test_same_buffer_same_weights_even_through_new_views():
    spec = dense_spec()
    device = DeviceCluster(spec, settings=config.current)
    x, w, b = rand(2, 8), rand(8, 4), rand(4)
    check(device, spec, [x, w[:], b.view()])   # new view objects of the same buffers
    check(device, spec, [x, w.view(), b[:]])
    assert counters.snapshot()["compiles"] == 1


def test_frequent_weight_changes_switch_to_parameters():
    spec = dense_spec()
    device = DeviceCluster(spec, settings=config.current)
    x = rand(2, 8)
    for _ in range(device_module.WEIGHT_CHANGES_BEFORE_PARAMETERS + 3):
        check(device, spec, [x, rand(8, 4), rand(4)])
    assert device.weights_as_parameters
    compiles = counters.snapshot()["compiles"]
    assert compiles <= device_module.WEIGHT_CHANGES_BEFORE_PARAMETERS + 1
    for _ in range(3):
        check(device, spec, [x, rand(8, 4), rand(4)])
    assert counters.snapshot()["compiles"] == compiles


def test_lru_bound(monkeypatch):
    # three batch sizes would otherwise compile the batch dim dynamic (test_variable_shapes)
    monkeypatch.setattr(shape_plan, "DYNAMIC_AFTER_SHAPES", 100)
    PROCESS_CACHE.set_capacity(2)
    spec = dense_spec()
    device = DeviceCluster(spec, settings=config.current)
    w, b = rand(8, 4), rand(4)
    for batch in (1, 2, 3):
        check(device, spec, [rand(batch, 8), w, b])
    assert len(PROCESS_CACHE) == 2
    check(device, spec, [rand(1, 8), w, b])   # evicted: compiles again
    assert counters.snapshot()["compiles"] == 4
    check(device, spec, [rand(1, 8), w, b])
    assert counters.snapshot()["cache_hits"] == 1
    with pytest.raises(ValueError):
        PROCESS_CACHE.set_capacity(0)


def test_precision_and_backend_are_part_of_the_key():
    spec = dense_spec()
    device = DeviceCluster(spec, settings=config.current)
    inputs = [rand(2, 8), rand(8, 4), rand(4)]
    run(device, spec, inputs)
    config.update(precision="bf16")
    run(device, spec, inputs)
    assert counters.snapshot()["compiles"] == 2


def test_compile_time_input_values_are_part_of_the_key():
    spec = make_spec(lambda x, s: [tf.reshape(x, s) + 1.0], [(tf.float32, (None,)), (tf.int32, (2,))])
    device = DeviceCluster(spec, settings=config.current)
    assert device.compile_time_inputs == (1,)
    x = rand(12)
    for shape in ([3, 4], [4, 3], [3, 4]):
        out = run(device, spec, [x, np.array(shape, np.int32)])[0]
        assert out.shape == tuple(shape)
        assert_close(out, x.reshape(shape) + 1.0)
    snapshot = counters.snapshot()
    assert snapshot["compiles"] == 2 and snapshot["cache_hits"] == 1


class _Injected(Backend):
    def __init__(self, stage):
        self.stage = stage

    def compile(self, spec, input_shapes, constants, precision):
        if self.stage == "compile":
            raise BackendError("compile", "injected")
        if self.stage == "crash":
            raise RuntimeError("backend bug")
        return _RunFails()


class _RunFails(Executable):
    def run(self, inputs, outputs):
        raise RuntimeError("injected run failure")


@pytest.mark.parametrize("stage, expected", [("compile", "compile"), ("crash", "compile"),
                                             ("run", "run")])
def test_backend_failures_become_cluster_failures(stage, expected):
    backends.register("INJECTED", lambda: _Injected(stage))
    try:
        config.update(backend="INJECTED")
        spec = dense_spec()
        device = DeviceCluster(spec, settings=config.current)
        with pytest.raises(BackendError) as info:
            run(device, spec, [rand(2, 8), rand(8, 4), rand(4)])
        assert info.value.stage == expected
    finally:
        backends.unregister("INJECTED")


def test_import_failure_stage():
    spec = make_spec(lambda s: [tf.strings.length(s)], [(tf.string, (2,))])
    with pytest.raises(BackendError) as info:
        run(DeviceCluster(spec, settings=config.current), spec, [np.array([b"a", b"bc"], dtype=object)])
    assert info.value.stage == "import"


def test_eight_threads():
    spec = dense_spec()
    device = DeviceCluster(spec, settings=config.current)
    w, b = rand(8, 4), rand(4)
    inputs = [rand(1 + i % 3, 8) for i in range(8)]
    expected = [run_tf(spec, [x, w, b]) for x in inputs]
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(25):
            for actual, reference in zip(run(device, spec, [inputs[i], w, b]), expected[i]):
                assert_close(actual, reference)

    run_in_threads(work, 8)
    assert counters.snapshot()["compiles"] == 3   # batch 1, 2, 3: each compiled once


_CHILD = textwrap.dedent("""
    import json, sys, time
    sys.path[:0] = {paths!r}
    import numpy as np
    import tensorflow as tf
    from ovtf import config
    from ovtf.runtime.device import DeviceCluster
    from test_importer import ListSink, make_spec
    try:
        from ovtf import counters
    except ImportError:
        from ovtf import stats as counters
    config.update(cache_dir=sys.argv[1])

    def conv_stack(x, *ws):
        for w in ws:
            x = tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME"))
        return [x]

    specs = [(tf.float32, (1, 56, 56, 64))] + [(tf.float32, (3, 3, 64, 64))] * 6
    spec = make_spec(conv_stack, specs, variables=range(1, 7))
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal(s, dtype=np.float32) * 0.1 for _, s in specs]
    start = time.perf_counter()
    sink = ListSink(spec)
    DeviceCluster(spec, settings=config.current).run(inputs, sink)
    print(json.dumps({{"seconds": time.perf_counter() - start, "stats": counters.snapshot(),
                      "checksum": float(sink.arrays[0].sum())}}))
""")


def test_cache_dir_second_process_skips_compilation(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [here, os.path.dirname(here)]
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(paths=paths))
    cache = tmp_path / "cache"
    results = []
    for _ in range(2):
        done = subprocess.run([sys.executable, str(script), str(cache)], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first, second = results
    assert first["stats"]["compiles"] == 1 and first["stats"]["disk_cache_hits"] == 0
    assert second["stats"]["compiles"] == 0 and second["stats"]["disk_cache_hits"] == 1
    assert abs(first["checksum"] - second["checksum"]) <= 1e-3 * max(1.0, abs(first["checksum"]))
    print(f"\ncache dir: first process {first['seconds']:.3f}s, second {second['seconds']:.3f}s")


def _tf_reference(function_body, *args):
    import ovtf
    ovtf.disable()
    try:
        return tf.function(function_body)(*args).numpy()
    finally:
        ovtf.enable()


@pytest.mark.parametrize("update", ["assign", "assign_add", "optimizer"])
def test_variable_updates_are_never_stale_end_to_end(update):
    """Through the real bridge: weights are compiled in as constants, yet every kind of
    variable update shows up on the next call."""
    import ovtf
    ovtf.enable()
    w = tf.Variable(rand(8, 16))
    b = tf.Variable(rand(16))

    def body(x):
        return tf.nn.relu(tf.matmul(x, w) + b) * 2.0 - 1.0

    f = tf.function(body)
    x = tf.constant(rand(4, 8))
    optimizer = tf.keras.optimizers.SGD(0.1) if update == "optimizer" else None
    for step in range(5):
        got = f(x).numpy()
        assert_close(got, _tf_reference(body, x))
        if update == "assign":
            w.assign(rand(8, 16))
        elif update == "assign_add":
            w.assign_add(np.ones((8, 16), np.float32))
            b.assign_add(np.full(16, 0.5, np.float32))
        else:
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(body(x) ** 2)
            optimizer.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
    snapshot = counters.snapshot()
    assert snapshot["device_executions"] >= 5, snapshot
    # the weights were baked in (each new value compiled, until the switch to parameters)
    assert 2 <= snapshot["compiles"] <= device_module.WEIGHT_CHANGES_BEFORE_PARAMETERS + 1, snapshot
