"""The compile bound (issue 18 item 8): a cluster compile that does not finish in time must
not stall the program. Past `ovtf.set_compile_timeout` seconds the call runs in TensorFlow
(fallback on) or raises a clear error (fallback off); the compile itself, which OpenVINO
cannot cancel, is abandoned to its worker. Tested with an injected slow compile (the
`Faulty` backend of test_fallback, held on an event), not with a real hang.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import ovtf  # noqa: E402
from ovtf import config  # noqa: E402
from ovtf.runtime.compiled_cache import PROCESS_CACHE  # noqa: E402
from test_fallback import Faulty, check, data, make_model, use_backend  # noqa: E402,F401


class SlowCompile(Faulty):
    """Compiles like the CPU backend, but each compile first waits for `release` (or
    `hold` seconds)."""

    def __init__(self, hold=30.0):
        super().__init__()
        self.release = threading.Event()
        self.hold = hold
        self.finished = threading.Event()

    def compile(self, spec, input_shapes, constants, precision):
        self.release.wait(self.hold)
        try:
            return super().compile(spec, input_shapes, constants, precision)
        finally:
            self.finished.set()


@pytest.fixture
def slow(use_backend):  # noqa: F811 - the fixture imported from test_fallback
    backend = use_backend(SlowCompile())
    yield backend
    backend.release.set()
    backend.finished.wait(30)


def test_slow_compile_runs_in_tensorflow(slow):
    ovtf.set_compile_timeout(0.5)
    function, body = make_model()
    started = time.perf_counter()
    check(function, body, data(2))
    waited = time.perf_counter() - started
    assert waited < 10, f"the call waited {waited:.1f} s for a compile bounded at 0.5 s"
    check(function, body, data(2))      # the signature is pinned to TF: no second wait
    assert time.perf_counter() - started < 15
    stats = ovtf.stats()
    assert stats["fallback_reasons"] == {"compile": 2}, stats
    assert stats["device_executions"] == 0 and len(slow.compiles) == 0, stats
    # the abandoned compile finishes later and is cached for the cluster's later kernels
    slow.release.set()
    assert slow.finished.wait(30)
    for _ in range(100):
        if len(PROCESS_CACHE) == 1:
            break
        time.sleep(0.05)
    assert len(PROCESS_CACHE) == 1
    assert ovtf.stats()["compiles"] == 1


def test_slow_compile_with_fallback_off_is_a_clear_error(slow):
    ovtf.set_compile_timeout(0.5)
    ovtf.disable_dynamic_fallback()
    function, _ = make_model()
    with pytest.raises(tf.errors.InternalError) as info:
        function(data(2))
    message = str(info.value)
    assert "did not finish within 0.5 s" in message, message
    assert "OVTF_COMPILE_TIMEOUT" in message and "ovtf_cluster" in message, message
    assert "dynamic fallback is off" in message


def test_fast_compile_is_unaffected(use_backend):  # noqa: F811
    use_backend(Faulty())
    ovtf.set_compile_timeout(60)
    function, body = make_model()
    for batch in (1, 2, 2):
        check(function, body, data(batch))
    stats = ovtf.stats()
    assert stats["device_executions"] == 3 and stats["fallbacks"] == 0, stats


def test_zero_means_no_bound(use_backend):  # noqa: F811
    backend = use_backend(SlowCompile(hold=1.0))   # a 1 s compile, waited for in full
    ovtf.set_compile_timeout(0)
    function, body = make_model()
    check(function, body, data(2))
    stats = ovtf.stats()
    assert stats["device_executions"] == 1 and stats["fallbacks"] == 0, stats
    assert backend.finished.is_set()


def test_concurrent_callers_do_not_each_wait_for_a_new_compile(slow):
    """Calls of the same signature that were waiting for the abandoned compile give up with
    it; none starts a second compile while it runs."""
    ovtf.set_compile_timeout(1.0)
    function, body = make_model(signature=True)
    x = data(3)
    errors, results = [], []

    def call():
        try:
            results.append(function(x).numpy())
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert time.perf_counter() - started < 20
    slow.release.set()
    assert slow.finished.wait(30)
    assert len(slow.compiles) == 1, slow.compiles     # one compile attempt, finished late
    assert len(results) == 4
    check(function, body, x)             # and the answer is stock TF's
    for result in results:
        np.testing.assert_allclose(result, results[0])


@pytest.mark.parametrize("value, expected", [(0, 0.0), (2.5, 2.5), ("10", 10.0), (" 0.25 ", 0.25)])
def test_setting_accepts(value, expected):
    ovtf.set_compile_timeout(value)
    assert ovtf.get_compile_timeout() == expected


@pytest.mark.parametrize("value", [-1, "abc", True, None, float("nan"), float("inf"), "-3", [5]])
def test_setting_rejects(value):
    with pytest.raises(ValueError, match="compile timeout.*seconds >= 0"):
        ovtf.set_compile_timeout(value)


def test_environment_variable():
    environment = {"OVTF_COMPILE_TIMEOUT": "12.5"}
    saved = config.settings.compile_timeout
    try:
        config.load_environment(environment)
        assert ovtf.get_compile_timeout() == 12.5
        with pytest.raises(ValueError, match="OVTF_COMPILE_TIMEOUT.*'soon'"):
            config.load_environment({"OVTF_COMPILE_TIMEOUT": "soon"})
    finally:
        config.update(compile_timeout=saved)
    assert config.DEFAULT_COMPILE_TIMEOUT == 300.0
