"""Backend registry and the OpenVINO CPU backend."""

from __future__ import annotations


import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("openvino")

from ovtf import backends, ocm  # noqa: E402
from ovtf.backends import Backend, BackendError, Executable  # noqa: E402
from test_importer import ListSink, assert_close, make_spec, rand, run_tf  # noqa: E402
from concurrency import run_in_threads


class Failing(Backend):
    def __init__(self, stage):
        self.stage = stage

    def compile(self, spec, input_shapes, constants, precision):
        if self.stage == "compile":
            raise BackendError("compile", "injected compile failure")
        return FailingExecutable()


class FailingExecutable(Executable):
    def run(self, inputs, outputs):
        raise BackendError("run", "injected run failure")


@pytest.fixture
def registered():
    names = []

    def add(name, factory):
        backends.register(name, factory)
        names.append(name)

    yield add
    for name in names:
        backends.unregister(name)


def test_cpu_is_listed_and_cached():
    assert "CPU" in backends.list_backends()
    assert backends.get("CPU") is backends.get("cpu")
    assert backends.is_available("CPU")


def test_unknown_backend_error_lists_available():
    with pytest.raises(ValueError, match=r"'NOPE'.*available: .*CPU"):
        backends.get("NOPE")
    assert not backends.is_available("NOPE")
    assert backends.canonical_name("HETERO:NOPE,CPU") is None


def test_openvino_device_strings():
    assert backends.canonical_name("hetero:cpu") == "HETERO:CPU"
    assert backends.canonical_name("AUTO") == "AUTO"
    assert backends.canonical_name("MULTI:CPU") == "MULTI:CPU"


def test_register_list_get_unregister(registered):
    registered("Failing-Compile", lambda: Failing("compile"))
    assert "Failing-Compile" in backends.list_backends()
    backend = backends.get("failing-compile")
    assert isinstance(backend, Failing) and backend is backends.get("FAILING-COMPILE")
    assert backend.name == "Failing-Compile"
    with pytest.raises(BackendError) as info:
        backend.compile(None, [], {}, "f32")
    assert info.value.stage == "compile"
    backends.unregister("Failing-Compile")
    assert "Failing-Compile" not in backends.list_backends()


def test_register_validates(registered):
    with pytest.raises(ValueError):
        backends.register("", lambda: Failing("run"))
    with pytest.raises(ValueError):
        backends.register("X", "not callable")
    registered("NOT-A-BACKEND", lambda: object())
    with pytest.raises(ValueError, match="not an ovtf.backends.Backend"):
        backends.get("NOT-A-BACKEND")


def test_default_support_is_the_openvino_registry(registered):
    registered("DEFAULT-SUPPORT", lambda: Failing("run"))
    support = backends.get("DEFAULT-SUPPORT").operator_support()
    assert ocm.supported_ops(support) == ocm.supported_ops(backends.get("CPU").operator_support())
    assert {"Conv2D", "Relu"} <= set(ocm.supported_ops(support))
    assert support.target == "DEFAULT-SUPPORT"   # what the partitioner writes on its clusters


def _spec():
    return make_spec(lambda x, w: [tf.nn.relu(tf.matmul(x, w)), tf.reduce_sum(x, axis=1)],
                     [(tf.float32, (None, 16)), (tf.float32, (16, 8))], variables=(1,))


@pytest.mark.parametrize("precision", ["f32", "bf16", "f16"])
def test_cpu_compile_and_run(precision):
    spec = _spec()
    backend = backends.get("CPU")
    w = rand(16, 8)
    w.flags.writeable = False
    executable = backend.compile(spec, [(4, 16), (16, 8)], {1: w}, precision)
    x = rand(4, 16)
    x.flags.writeable = False   # the native kernel's inputs are read-only views
    sink = ListSink(spec)
    executable.run([x, None], sink)
    expected = run_tf(spec, [x, w])
    tolerance = 1e-5 if precision == "f32" else 5e-2
    for actual, reference in zip(sink.arrays, expected):
        assert_close(actual, reference, rtol=tolerance, atol=tolerance * 10)


def test_outputs_do_not_alias_request_buffers():
    spec = _spec()
    executable = backends.get("CPU").compile(spec, [(2, 16), (16, 8)], {}, "f32")
    w = rand(16, 8)
    first_x, second_x = rand(2, 16), rand(2, 16)
    first, second = ListSink(spec), ListSink(spec)
    executable.run([first_x, w], first)
    kept = [a.copy() for a in first.arrays]
    executable.run([second_x, w], second)
    for a, b in zip(first.arrays, kept):
        np.testing.assert_array_equal(a, b)  # the second run did not overwrite the first's


def test_non_contiguous_inputs():
    spec = _spec()
    executable = backends.get("CPU").compile(spec, [(3, 16), (16, 8)], {}, "f32")
    x = rand(16, 3).T  # Fortran order view
    w = rand(8, 16).T
    sink = ListSink(spec)
    executable.run([x, w], sink)
    for actual, reference in zip(sink.arrays, run_tf(spec, [np.ascontiguousarray(x), np.ascontiguousarray(w)])):
        assert_close(actual, reference)


def test_concurrent_runs_on_one_executable():
    spec = _spec()
    w = rand(16, 8)
    executable = backends.get("CPU").compile(spec, [(5, 16), (16, 8)], {1: w}, "f32")
    inputs = [rand(5, 16) for _ in range(8)]
    expected = [run_tf(spec, [x, w]) for x in inputs]

    def work(i):
        for _ in range(20):
            sink = ListSink(spec)
            executable.run([inputs[i], None], sink)
            for actual, reference in zip(sink.arrays, expected[i]):
                assert_close(actual, reference)

    run_in_threads(work, 8)


def test_import_failure_is_an_import_stage_error():
    spec = make_spec(lambda s: [tf.strings.length(s)], [(tf.string, (2,))])
    with pytest.raises(BackendError) as info:
        backends.get("CPU").compile(spec, [(2,)], {}, "f32")
    assert info.value.stage == "import"


@pytest.mark.parametrize("name", ["HETERO:CPU", "AUTO", "MULTI:CPU"])
def test_composite_device_strings_compile_and_run(name):
    spec = _spec()
    w = rand(16, 8)
    executable = backends.get(name).compile(spec, [(2, 16), (16, 8)], {1: w}, "f32")
    x = rand(2, 16)
    sink = ListSink(spec)
    executable.run([x, None], sink)
    for actual, reference in zip(sink.arrays, run_tf(spec, [x, w])):
        assert_close(actual, reference)
