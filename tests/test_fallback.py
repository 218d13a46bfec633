"""Dynamic fallback through the real pipeline, with faults injected by registered backends.

Each test registers a backend (`ovtf.backends.register`) that delegates to OpenVINO's CPU
backend but fails where the test says: at compile, at import, on the N-th inference, for
one input shape. With fallback on, every result must equal stock TensorFlow and the
counters must say which calls ran on the device and which fell back, and why. With fallback
off, the TensorFlow error must name the cluster, its op types and the cause.
"""

from __future__ import annotations

import itertools
import logging
import threading

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import ovtf  # noqa: E402
from ovtf import backends  # noqa: E402
from ovtf.backends import Backend, BackendError, Executable  # noqa: E402
from ovtf.runtime import cluster as cluster_module  # noqa: E402
from ovtf.runtime.compiled_cache import PROCESS_CACHE  # noqa: E402

_names = itertools.count()


class Faulty(Backend):
    """CPU backend with injected faults. `compile_fails(shapes)` / `run_fails(n, shapes)`
    decide per call; `stage` is what a compile-time fault claims to be."""

    def __init__(self, compile_fails=None, run_fails=None, stage="compile", run_error=None,
                 allocate_first=False):
        self.inner = backends.get("CPU")
        self.compile_fails = compile_fails or (lambda shapes: False)
        self.run_fails = run_fails or (lambda n, shapes: False)
        self.stage = stage
        self.run_error = run_error
        self.allocate_first = allocate_first
        self.lock = threading.Lock()
        self.compiles = []          # input shapes of every compile attempt
        self.runs = 0               # inference attempts (failed ones included)

    def compile(self, spec, input_shapes, constants, precision):
        with self.lock:
            self.compiles.append(tuple(map(tuple, input_shapes)))
        if self.compile_fails(input_shapes):
            raise BackendError(self.stage, f"injected {self.stage} failure for {input_shapes[0]}")
        return _Counting(self, self.inner.compile(spec, input_shapes, constants, precision),
                         tuple(map(tuple, input_shapes)))


class _Counting(Executable):
    def __init__(self, backend, inner, shapes):
        self.backend, self.inner, self.shapes = backend, inner, shapes

    def run(self, inputs, outputs):
        with self.backend.lock:
            self.backend.runs += 1
            n = self.backend.runs
        if self.backend.run_fails(n, self.shapes):
            if self.backend.run_error is not None:
                raise self.backend.run_error
            if self.backend.allocate_first:
                # Write garbage into the output first (right shape: batch x units); the
                # fallback gets the same buffer back and must overwrite all of it.
                outputs.allocate(0, (self.shapes[0][0], W.shape[1]))[...] = 12345.0
            raise BackendError("run", f"injected run failure on call {n}")
        self.inner.run(inputs, outputs)


@pytest.fixture
def use_backend():
    """use_backend(backend) registers it under a fresh name and selects it."""
    names = []

    def install(backend):
        name = f"FAULTY-{next(_names)}"
        backends.register(name, lambda: backend)
        names.append(name)
        ovtf.set_backend(name)
        return backend

    PROCESS_CACHE.clear()
    cluster_module.forget_reported_failures()
    yield install
    for name in names:
        backends.unregister(name)
    PROCESS_CACHE.clear()


W = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
B = np.random.default_rng(1).standard_normal(8).astype(np.float32)


def make_model(variant=0, signature=False):
    """A fresh tf.function (so a fresh cluster kernel) over variables: one cluster.
    Variants differ in structure (so they are different clusters to the fallback log)."""
    w, b = tf.Variable(W), tf.Variable(B)

    def body(x):
        y = tf.nn.relu(tf.matmul(x, w) + b) * 2.0 - 1.0
        return tf.tanh(y) if variant else y

    if signature:   # one instantiation for every batch size
        return tf.function(body, input_signature=[tf.TensorSpec([None, 16], tf.float32)]), body
    return tf.function(body), body


def stock(body, x):
    """Stock TensorFlow's answer: ovtf disabled while the function is instantiated."""
    was = ovtf.is_enabled()
    ovtf.disable()
    try:
        return tf.function(body)(x).numpy()
    finally:
        if was:
            ovtf.enable()


def data(batch, seed=0):
    return np.random.default_rng(seed + 100 * batch).standard_normal((batch, 16)).astype(np.float32)


def check(function, body, x):
    np.testing.assert_allclose(function(x).numpy(), stock(body, x), rtol=1e-5, atol=1e-5)


def warnings_about_fallback(caplog):
    return [r for r in caplog.records if r.name == "ovtf" and r.levelno == logging.WARNING
            and "runs in TensorFlow" in r.getMessage()]


# --- fallback on ----------------------------------------------------------------------------

def test_healthy_backend_runs_on_device(use_backend):
    backend = use_backend(Faulty())
    function, body = make_model()
    for batch in (1, 2, 2):
        check(function, body, data(batch))
    stats = ovtf.stats()
    assert stats["device_executions"] == 3 and stats["fallbacks"] == 0, stats
    assert backend.runs == 3


def test_compile_failure_falls_back_and_is_not_retried(use_backend, caplog):
    backend = use_backend(Faulty(compile_fails=lambda shapes: True))
    function, body = make_model()
    with caplog.at_level(logging.WARNING, logger="ovtf"):
        for _ in range(4):
            check(function, body, data(3))
    stats = ovtf.stats()
    assert stats["device_executions"] == 0
    assert stats["fallbacks"] == 4 and stats["fallback_reasons"] == {"compile": 4}, stats
    assert len(backend.compiles) == 1, "a compile failure for a signature must not be retried"
    warnings = warnings_about_fallback(caplog)
    assert len(warnings) == 1, [w.getMessage() for w in warnings]
    message = warnings[0].getMessage()
    assert "ovtf_cluster" in message and "MatMul" in message
    assert "injected compile failure" in message


def test_import_failure_reason(use_backend):
    use_backend(Faulty(compile_fails=lambda shapes: True, stage="import"))
    function, body = make_model()
    check(function, body, data(2))
    assert ovtf.stats()["fallback_reasons"] == {"import": 1}


def test_compile_failure_for_one_shape_leaves_others_on_device(use_backend):
    backend = use_backend(Faulty(compile_fails=lambda shapes: shapes[0][0] == 3))
    function, body = make_model()
    batches = [1, 3, 2, 3, 1, 3, 4, 2]
    for step, batch in enumerate(batches):
        check(function, body, data(batch, seed=step))
    stats = ovtf.stats()
    assert stats["fallbacks"] == 3 and stats["fallback_reasons"] == {"compile": 3}, stats
    assert stats["device_executions"] == 5, stats
    # batch 3 was attempted once; 1, 2, 4 compiled once each
    assert sorted(shapes[0][0] for shapes in backend.compiles) == [1, 2, 3, 4]


def test_run_failure_on_nth_call_only_costs_that_call(use_backend, caplog):
    backend = use_backend(Faulty(run_fails=lambda n, shapes: n == 3))
    function, body = make_model()
    with caplog.at_level(logging.WARNING, logger="ovtf"):
        for step in range(7):
            check(function, body, data(2, seed=step))
    stats = ovtf.stats()
    assert stats["fallbacks"] == 1 and stats["fallback_reasons"] == {"run": 1}, stats
    assert stats["device_executions"] == 6, stats
    assert backend.runs == 7 and len(backend.compiles) == 1
    warnings = warnings_about_fallback(caplog)
    assert len(warnings) == 1 and "injected run failure on call 3" in warnings[0].getMessage()


def test_persistent_run_failure_stops_asking_the_device(use_backend):
    backend = use_backend(Faulty(run_fails=lambda n, shapes: shapes[0][0] == 5))
    function, body = make_model()
    for step in range(8):
        check(function, body, data(5, seed=step))
    check(function, body, data(2))
    stats = ovtf.stats()
    assert stats["fallback_reasons"] == {"run": 8}, stats
    limit = cluster_module.RUN_FAILURES_BEFORE_GIVING_UP
    assert backend.runs == limit + 1, "after the limit only other shapes reach the device"
    assert stats["device_executions"] == 1


def test_non_backend_exception_in_run_is_a_run_fallback(use_backend):
    use_backend(Faulty(run_fails=lambda n, shapes: n == 1, run_error=ZeroDivisionError("bug")))
    function, body = make_model()
    check(function, body, data(2))
    check(function, body, data(2))
    stats = ovtf.stats()
    assert stats["fallback_reasons"] == {"run": 1} and stats["device_executions"] == 1, stats


def test_run_failure_after_an_output_was_allocated(use_backend):
    use_backend(Faulty(run_fails=lambda n, shapes: n == 1, allocate_first=True))
    function, body = make_model()
    check(function, body, data(2))
    assert ovtf.stats()["fallback_reasons"] == {"run": 1}


def test_output_allocated_with_a_wrong_shape_is_a_clear_error(use_backend):
    # TF allows one allocation per output: a fallback cannot replace an output the device
    # allocated with another shape. That is a backend bug; it must be an error naming the
    # cluster, not a crash or a wrong answer.
    class WrongShape(Faulty):
        def compile(self, spec, input_shapes, constants, precision):
            executable = super().compile(spec, input_shapes, constants, precision)

            def run(inputs, outputs):
                outputs.allocate(0, (1,))[...] = 12345.0
                raise BackendError("run", "fails after allocating a wrong shape")
            executable.run = run
            return executable

    use_backend(WrongShape())
    function, _ = make_model()
    with pytest.raises(tf.errors.InternalError, match=r"ovtf_cluster_\d+.*another shape"):
        function(data(2))


def test_one_warning_per_cluster_not_per_call(use_backend, caplog):
    use_backend(Faulty(compile_fails=lambda shapes: True))
    functions = [make_model(variant) for variant in (0, 1, 0)]
    with caplog.at_level(logging.WARNING, logger="ovtf"):
        for batch in (1, 2, 3):
            for function, body in functions:
                check(function, body, data(batch))
    assert ovtf.stats()["fallbacks"] == 9
    # one per cluster: not per call, per retraced shape or per identical function
    assert len(warnings_about_fallback(caplog)) == 2


# --- fallback off ---------------------------------------------------------------------------

def _expect_cluster_error(function, x, cause):
    with pytest.raises(tf.errors.InternalError) as info:
        function(x)
    message = str(info.value)
    assert "ovtf_cluster" in message, message          # the cluster
    for op in ("MatMul", "Mul", "Sub"):                # the op types inside (fused or not)
        assert op in message, message
    assert cause in message, message                   # the underlying cause
    assert "dynamic fallback is off" in message
    return message


def test_fallback_off_compile_failure_message(use_backend):
    use_backend(Faulty(compile_fails=lambda shapes: True))
    ovtf.disable_dynamic_fallback()
    function, _ = make_model()
    message = _expect_cluster_error(function, data(2), "injected compile failure")
    assert "compile failed" in message
    # the pinned signature raises the same way on the next call
    _expect_cluster_error(function, data(2), "injected compile failure")
    assert ovtf.stats()["fallbacks"] == 0


def test_fallback_off_run_failure_message_then_on_again(use_backend):
    use_backend(Faulty(run_fails=lambda n, shapes: n == 2))
    function, body = make_model()
    check(function, body, data(2))
    ovtf.disable_dynamic_fallback()
    _expect_cluster_error(function, data(2), "injected run failure on call 2")
    check(function, body, data(2))          # call 3 is fine again
    ovtf.enable_dynamic_fallback()
    assert ovtf.stats()["device_executions"] == 2


def test_fallback_off_shape_specific(use_backend):
    use_backend(Faulty(compile_fails=lambda shapes: shapes[0][0] == 3))
    ovtf.disable_dynamic_fallback()
    function, body = make_model()
    check(function, body, data(2))
    _expect_cluster_error(function, data(3), "injected compile failure for (3, 16)")
    check(function, body, data(4))
    assert ovtf.stats()["device_executions"] == 2


@pytest.mark.parametrize("mode", ["function", "session"])
def test_fallback_off_bad_input_raises_tensorflows_error(mode):
    """Split sizes that do not add up: OpenVINO refuses the import (its shape inference),
    TF's kernel raises InvalidArgumentError. With fallback off the user sees TF's error, as
    without ovtf, not a ClusterError (TF's SplitOpTest.testShapeInference); nothing is
    counted as a fallback."""
    ovtf.disable_dynamic_fallback()
    ovtf.set_min_cluster_size(1)
    good, bad = np.ones((6, 3), np.float32), np.ones((5, 3), np.float32)
    if mode == "function":
        function = tf.function(lambda x: [part * 2.0 for part in tf.split(x * 3.0, [4, 2])],
                               input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        run = lambda value: function(tf.constant(value))  # noqa: E731
    else:
        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32)
            parts = [part * 2.0 for part in tf.split(x * 3.0, [4, 2])]
        session = tf.compat.v1.Session(graph=graph)
        run = lambda value: session.run(parts, {x: value})  # noqa: E731
    np.testing.assert_array_equal(run(good)[1], np.full((2, 3), 6.0, np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError):
        run(bad)
    assert ovtf.stats()["device_executions"] >= 1 and ovtf.stats()["fallbacks"] == 0


def test_fallback_off_via_environment(fresh_process):
    result = fresh_process("""
        import json, numpy as np, tensorflow as tf, ovtf
        from ovtf import backends
        from ovtf.backends import Backend, BackendError
        class Broken(Backend):
            def compile(self, spec, shapes, constants, precision):
                raise BackendError("compile", "env-injected failure")
        backends.register("BROKEN", Broken)
        ovtf.set_backend("BROKEN")
        w = tf.Variable(np.ones((4, 4), np.float32))
        f = tf.function(lambda x: tf.nn.relu(tf.matmul(x, w) + 1.0) * 2.0)
        try:
            f(np.ones((2, 4), np.float32))
            message = None
        except tf.errors.InternalError as error:
            message = str(error)
        print(json.dumps({"fallback": ovtf.is_dynamic_fallback_enabled(), "message": message}))
    """, env={"OVTF_DYNAMIC_FALLBACK": "0"})
    assert result["fallback"] is False
    assert result["message"] and "env-injected failure" in result["message"]
    assert "MatMul" in result["message"] and "ovtf_cluster" in result["message"]


# --- disable() / enable() at run time ---------------------------------------------------------

def test_disable_affects_new_functions_only(use_backend):
    use_backend(Faulty())
    function, body = make_model()
    check(function, body, data(2))
    assert ovtf.stats()["device_executions"] == 1
    ovtf.disable()
    check(function, body, data(2))                    # instantiated before: still on device
    other, other_body = make_model()
    check(other, other_body, data(2))                 # instantiated while disabled: pure TF
    stats = ovtf.stats()
    assert stats["device_executions"] == 2 and stats["cluster_executions"] == 2, stats
    ovtf.enable()
    third, third_body = make_model()
    check(third, third_body, data(2))
    assert ovtf.stats()["device_executions"] == 3


@pytest.mark.timeout(180)
def test_toggling_while_functions_run(use_backend):
    use_backend(Faulty())
    models = [make_model(signature=True) for _ in range(2)]
    inputs = [data(1 + i % 3, seed=i) for i in range(6)]
    expected = [[stock(body, x) for x in inputs] for _, body in models]
    for function, _ in models:
        function(inputs[0])                          # instantiate while enabled
    errors, stop = [], threading.Event()

    def worker(index):
        function = models[index % 2][0]
        try:
            for step in range(60):
                which = (index + step) % len(inputs)
                np.testing.assert_allclose(function(inputs[which]).numpy(),
                                           expected[index % 2][which], rtol=1e-5, atol=1e-5)
        except Exception as error:  # noqa: BLE001 - collected
            errors.append(error)

    def toggler():
        while not stop.is_set():
            ovtf.disable()
            fresh, body = make_model()               # instantiated disabled or enabled
            np.testing.assert_allclose(fresh(inputs[1]).numpy(), expected[0][1], rtol=1e-5,
                                       atol=1e-5)
            ovtf.enable()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    switch = threading.Thread(target=toggler)
    switch.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=150)
    stop.set()
    switch.join(timeout=30)
    assert not any(t.is_alive() for t in threads + [switch]), "hung"
    assert not errors, errors[0]
    assert ovtf.stats()["device_executions"] >= 240  # the running functions stayed on device


def test_fallback_with_dynamic_batch_dimension(use_backend):
    """The fallback subgraph of a function traced with an unknown batch size (TF's -1 dims)."""
    use_backend(Faulty(compile_fails=lambda shapes: shapes[0][0] == 2))
    function, body = make_model(signature=True)
    for batch in (1, 2, 5, 2):
        check(function, body, data(batch))
    stats = ovtf.stats()
    assert stats["fallback_reasons"] == {"compile": 2} and stats["device_executions"] == 2, stats
