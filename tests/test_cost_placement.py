"""Cost placement: a (cluster, signature) measured slower on the device than in TensorFlow is
pinned to TensorFlow; a faster one stays on the device; switched off, nothing is measured.

No timing assertions: clusters are built with a virtual clock (handed to the hook's cluster
factory, which hands it to each cluster's cost placement). Device time passes only inside the
injected backend's run (it advances the clock by a duration chosen per input shape); a
TensorFlow fallback reads the clock `tf_seconds` later than it is (on the fallback thread,
`ovtf._native.in_fallback()`). So every device sample is exactly the device duration and every
TensorFlow sample exactly `tf_seconds`, and the decision is known in advance.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import ovtf  # noqa: E402
from ovtf import _native, config, hook  # noqa: E402
from ovtf.runtime import cost_placement as cost_module  # noqa: E402
from ovtf.runtime import fallback as fallback_module  # noqa: E402
from test_fallback import Faulty, check, data, make_model, stock, use_backend  # noqa: E402,F401
from concurrency import run_in_threads

WARMUP, SAMPLES = cost_module.COST_WARMUP, cost_module.COST_SAMPLES
PROBE_DEVICE = PROBE_TF = WARMUP + SAMPLES      # calls measured on each side
PROBE_CALLS = PROBE_DEVICE + PROBE_TF           # calls until a signature is decided


class VirtualClock:
    def __init__(self, device_seconds, tf_seconds):
        self.now = 0.0
        self.device_seconds = device_seconds    # batch size -> seconds, or one number
        self.tf_seconds = tf_seconds
        self.lock = threading.Lock()

    def __call__(self):
        return self.now + (self.tf_seconds if _native.in_fallback() else 0.0)

    def device_run(self, n, shapes):
        """Faulty's run hook: the device 'takes' its time; never fails."""
        seconds = self.device_seconds
        if isinstance(seconds, dict):
            seconds = seconds[shapes[0][0]]
        with self.lock:
            self.now += seconds
        return False


@pytest.fixture
def clock():
    """clock(device_seconds, tf_seconds) installs a virtual clock and a CPU backend whose
    runs advance it; returns (clock, backend). Cost placement is switched on. Clusters
    instantiated from then on (make a fresh function) measure with the virtual clock."""
    with contextlib.ExitStack() as installed:
        def install(device_seconds, tf_seconds, use):
            virtual = VirtualClock(device_seconds, tf_seconds)
            installed.enter_context(hook.override(
                cluster_factory=functools.partial(hook.default_cluster_factory, clock=virtual)))
            backend = use(Faulty(run_fails=virtual.device_run))
            ovtf.enable_cost_placement()
            return virtual, backend
        yield install


def test_slower_device_is_pinned_to_tensorflow(clock, use_backend, caplog):
    _, backend = clock(0.010, 0.001, use_backend)
    function, body = make_model()
    extra = 6
    with caplog.at_level(logging.INFO, logger="ovtf"):
        for step in range(PROBE_CALLS + extra):
            check(function, body, data(2, seed=step))
    stats = ovtf.stats()
    assert stats["cost_placed_in_tf"] == 1 and stats["cost_kept_on_device"] == 0, stats
    assert stats["device_executions"] == PROBE_DEVICE, stats
    assert stats["fallback_reasons"] == {"cost_probe": PROBE_TF, "cost": extra}, stats
    assert stats["fallbacks"] == PROBE_TF + extra
    assert backend.runs == PROBE_DEVICE, "a pinned signature must not touch the device"
    decisions = [r.getMessage() for r in caplog.records
                 if r.name == "ovtf" and "cost placement" in r.getMessage()]
    assert len(decisions) == 1, decisions
    assert "device median 10000.0 us" in decisions[0]
    assert "TensorFlow median 1000.0 us" in decisions[0]
    assert "runs in TensorFlow from now on" in decisions[0]
    assert all(r.levelno == logging.INFO for r in caplog.records
               if r.name == "ovtf" and "cost placement" in r.getMessage())


def test_faster_device_stays_on_device(clock, use_backend):
    _, backend = clock(0.001, 0.010, use_backend)
    function, body = make_model()
    extra = 6
    for step in range(PROBE_CALLS + extra):
        check(function, body, data(2, seed=step))
    stats = ovtf.stats()
    assert stats["cost_kept_on_device"] == 1 and stats["cost_placed_in_tf"] == 0, stats
    assert stats["fallback_reasons"] == {"cost_probe": PROBE_TF}, stats
    assert stats["device_executions"] == PROBE_DEVICE + extra, stats
    assert backend.runs == PROBE_DEVICE + extra


def test_within_the_margin_stays_on_device(clock, use_backend):
    # device 1.1 x TensorFlow: not slower by more than COST_MARGIN
    assert cost_module.COST_MARGIN > 1.1
    clock(0.0011, 0.0010, use_backend)
    function, body = make_model()
    for step in range(PROBE_CALLS + 2):
        check(function, body, data(2, seed=step))
    assert ovtf.stats()["cost_kept_on_device"] == 1


def test_decision_is_per_signature(clock, use_backend):
    # batch 3 is slow on the device, batch 2 fast: only batch 3 goes to TensorFlow
    _, backend = clock({2: 0.001, 3: 0.050}, 0.010, use_backend)
    function, body = make_model(signature=True)   # one kernel for every batch size
    for step in range(PROBE_CALLS + 4):
        for batch in (2, 3):
            check(function, body, data(batch, seed=step))
    stats = ovtf.stats()
    assert stats["cost_kept_on_device"] == 1 and stats["cost_placed_in_tf"] == 1, stats
    assert stats["fallback_reasons"] == {"cost_probe": 2 * PROBE_TF, "cost": 4}, stats
    assert stats["device_executions"] == 2 * PROBE_DEVICE + 4, stats


def test_switched_off_never_measures_or_pins(clock, use_backend):
    _, backend = clock(0.010, 0.001, use_backend)
    ovtf.disable_cost_placement()
    assert not ovtf.is_cost_placement_enabled()
    function, body = make_model()
    for step in range(PROBE_CALLS + 6):
        check(function, body, data(2, seed=step))
    stats = ovtf.stats()
    assert stats["fallbacks"] == 0 and stats["device_executions"] == PROBE_CALLS + 6, stats
    assert stats["cost_placed_in_tf"] == stats["cost_kept_on_device"] == 0


def test_switching_off_sends_pinned_signatures_back_to_the_device(clock, use_backend):
    _, backend = clock(0.010, 0.001, use_backend)
    function, body = make_model()
    for step in range(PROBE_CALLS):
        check(function, body, data(2, seed=step))
    assert ovtf.stats()["cost_placed_in_tf"] == 1
    ovtf.disable_cost_placement()
    ovtf.reset_stats()
    for step in range(3):
        check(function, body, data(2, seed=step))
    assert ovtf.stats()["device_executions"] == 3 and ovtf.stats()["fallbacks"] == 0
    ovtf.enable_cost_placement()          # the decision is remembered, not measured again
    ovtf.reset_stats()
    for step in range(3):
        check(function, body, data(2, seed=step))
    stats = ovtf.stats()
    assert stats["fallback_reasons"] == {"cost": 3} and stats["device_executions"] == 0, stats


def test_tensorflow_failing_while_measured_keeps_the_device(clock, use_backend, monkeypatch,
                                                            caplog):
    clock(0.010, 0.001, use_backend)

    def broken(self, inputs):
        raise RuntimeError("injected TensorFlow failure")

    monkeypatch.setattr(fallback_module.TensorFlowRunner, "run", broken)
    function, body = make_model()
    with caplog.at_level(logging.WARNING, logger="ovtf"):
        for step in range(PROBE_CALLS + 3):
            check(function, body, data(2, seed=step))   # the device answers instead
    stats = ovtf.stats()
    assert stats["cost_placed_in_tf"] == 0
    assert stats["fallback_reasons"] == {"cost_probe": 1}, stats
    assert any("injected TensorFlow failure" in r.getMessage() for r in caplog.records)


def test_threads_agree_on_one_decision_and_stay_correct(clock, use_backend):
    clock(0.010, 0.001, use_backend)    # under concurrency the virtual samples mix: no
    function, body = make_model()       # particular decision is asserted, only one of them
    inputs = [data(4, seed=seed) for seed in range(4)]
    expected = [stock(body, x) for x in inputs]

    def worker(index):
        for step in range(3 * PROBE_CALLS):
            which = (index + step) % len(inputs)
            np.testing.assert_allclose(function(inputs[which]).numpy(), expected[which],
                                       rtol=1e-5, atol=1e-5)

    run_in_threads(worker, 4, timeout=120)
    stats = ovtf.stats()
    assert stats["cost_placed_in_tf"] + stats["cost_kept_on_device"] == 1, stats


# --- the switch --------------------------------------------------------------------------------

def test_api_switch():
    ovtf.enable_cost_placement()
    assert ovtf.is_cost_placement_enabled() and config.settings.cost_placement
    ovtf.disable_cost_placement()
    assert not ovtf.is_cost_placement_enabled()


@pytest.mark.parametrize("value, expected", [("1", True), ("on", True), ("0", False),
                                             ("false", False)])
def test_environment(value, expected):
    config.load_environment({"OVTF_COST_PLACEMENT": value})
    assert ovtf.is_cost_placement_enabled() is expected


def test_environment_rejects_a_non_boolean():
    with pytest.raises(ValueError, match="OVTF_COST_PLACEMENT.*'maybe'.*boolean"):
        config.load_environment({"OVTF_COST_PLACEMENT": "maybe"})


def test_default_is_the_documented_one():
    assert config.Settings().cost_placement is config.DEFAULT_COST_PLACEMENT
