"""SPLIT: one call's batch over several backends, proven with emulated devices
(`ovtf.testing.emulated_devices`), through the real pipeline with fallback disabled (so a
wrong split can only show up as an error or a wrong number, never as a silent TF run)."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("openvino")

import ovtf  # noqa: E402
import ovtf.testing  # noqa: E402
from ovtf import backends  # noqa: E402
from ovtf.backends import split as split_module  # noqa: E402
from ovtf.runtime import cluster as cluster_module  # noqa: E402
from ovtf.runtime.compiled_cache import PROCESS_CACHE  # noqa: E402

BATCHES = (0, 1, 2, 3, 7, 8, 9, 17, 33)
_prefixes = itertools.count()


@pytest.fixture
def devices():
    """devices(n, kind="CPU", **options) -> (split name, member names), registered with a
    fresh prefix (so no compiled cluster of another test is reused) and selected."""
    contexts = []

    def make(n, kind="CPU", **options):
        context = ovtf.testing.emulated_devices(n, kind=kind, prefix=f"EMU{next(_prefixes)}",
                                                **options)
        names = context.__enter__()
        contexts.append(context)
        name = "SPLIT:" + ",".join(names)
        ovtf.set_backend(name)
        return name, names

    PROCESS_CACHE.clear()
    cluster_module.forget_reported_failures()
    ovtf.disable_dynamic_fallback()
    yield make
    for context in reversed(contexts):
        context.__exit__(None, None, None)
    PROCESS_CACHE.clear()


def stock(body, *args):
    was = ovtf.is_enabled()
    ovtf.disable()
    try:
        return tf.function(body)(*args).numpy()
    finally:
        if was:
            ovtf.enable()


def rng(seed=0):
    return np.random.default_rng(seed)


def device_rows(names):
    devices = ovtf.stats()["devices"]
    return [devices.get(name, {}).get("rows", 0) for name in names]


def cnn():
    r = rng(1)
    k1 = tf.Variable(r.standard_normal((3, 3, 3, 8)).astype(np.float32) * 0.3)
    b1 = tf.Variable(r.standard_normal(8).astype(np.float32) * 0.1)
    k2 = tf.Variable(r.standard_normal((3, 3, 8, 8)).astype(np.float32) * 0.3)
    w = tf.Variable(r.standard_normal((8, 5)).astype(np.float32) * 0.3)

    def body(x):
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, k1, 1, "SAME"), b1))
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        y = tf.nn.relu6(tf.nn.conv2d(y, k2, 1, "SAME"))
        y = tf.reduce_mean(y, axis=[1, 2])
        return tf.nn.softmax(tf.matmul(y, w))

    return body, [None, 8, 8, 3]


def encoder(t=6, d=16, heads=2):
    r = rng(2)
    weights = {name: tf.Variable(r.standard_normal(shape).astype(np.float32) * 0.3)
               for name, shape in [("q", (d, d)), ("k", (d, d)), ("v", (d, d)), ("o", (d, d)),
                                   ("f1", (d, 2 * d)), ("f2", (2 * d, d))]}
    dh = d // heads

    def heads_of(x):
        return tf.transpose(tf.reshape(x, [-1, t, heads, dh]), [0, 2, 1, 3])

    def norm(x):
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        var = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=-1, keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + 1e-5)

    def body(x):
        q, k, v = (heads_of(tf.matmul(x, weights[n])) for n in "qkv")
        attention = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / np.sqrt(dh))
        mixed = tf.reshape(tf.transpose(tf.matmul(attention, v), [0, 2, 1, 3]), [-1, t, d])
        x = norm(x + tf.matmul(mixed, weights["o"]))
        hidden = tf.nn.gelu(tf.matmul(x, weights["f1"]))
        return norm(x + tf.matmul(hidden, weights["f2"]))

    return body, [None, t, d]


@pytest.mark.parametrize("model", [cnn, encoder], ids=["cnn", "encoder"])
def test_split_over_four_is_exact_for_every_batch(devices, model):
    split, names = devices(4)
    body, shape = model()
    function = tf.function(body, input_signature=[tf.TensorSpec(shape, tf.float32)])
    for batch in BATCHES:
        x = rng(batch).standard_normal([batch] + shape[1:]).astype(np.float32)
        before = device_rows(names)
        split_before = ovtf.stats()["devices"].get(split, {"rows": 0, "calls": 0})
        try:
            expected = stock(body, x)
        except tf.errors.InvalidArgumentError as error:
            # TF with oneDNN fails on this empty batch itself (its MaxPool): so must ovtf,
            # whose zero-size fallback runs the cluster's graph in TF
            assert not batch, error
            with pytest.raises(tf.errors.InvalidArgumentError, match="evenly divisible"):
                function(x)
            continue
        np.testing.assert_allclose(function(x).numpy(), expected, rtol=1e-4, atol=1e-5)
        ran = [after - was for after, was in zip(device_rows(names), before)]
        if not batch:   # zero-element inputs run in TF (fallback reason zero_size), by design
            assert sum(ran) == 0, ran
            continue
        split_after = ovtf.stats()["devices"][split]
        calls = split_after["calls"] - split_before["calls"]
        assert calls >= 1
        assert split_after["rows"] - split_before["rows"] == batch * calls
        assert sum(ran) == batch * calls, (batch, ran)
        if batch >= 4:
            assert all(rows > 0 for rows in ran), (batch, ran)
    stats = ovtf.stats()
    empty = sum(1 for batch in BATCHES if not batch)
    assert stats["fallbacks"] == empty and stats["split_member_failures"] == 0, stats
    assert stats["fallback_reasons"].get("zero_size", 0) == empty, stats
    assert stats["graphs_rewritten"] >= 1


def test_nine_rows_over_eight_members_loses_none(devices):
    """OVTF's VAD-M path ran ceil(9/8)=2 rows per request in floor(9/2)=4 requests: row 9
    was never computed. Every row must come back."""
    split, names = devices(8)
    w = rng(3).standard_normal((16, 4)).astype(np.float32)

    def body(x):
        return tf.tanh(tf.matmul(x, w)) * 3.0 + 1.0

    function = tf.function(body, input_signature=[tf.TensorSpec([None, 16], tf.float32)])
    x = rng(9).standard_normal((9, 16)).astype(np.float32)
    np.testing.assert_allclose(function(x).numpy(), stock(body, x), rtol=1e-5, atol=1e-5)
    rows = device_rows(names)
    assert sum(rows) == 9 and all(r >= 1 for r in rows), rows


def test_reduction_over_batch_axis_is_not_split(devices, caplog):
    split, names = devices(4)
    w = tf.Variable(rng(4).standard_normal((16, 8)).astype(np.float32))   # a weight input

    def body(x):
        y = tf.nn.relu(tf.matmul(x, w))
        return y - tf.reduce_mean(y, axis=0)

    function = tf.function(body, input_signature=[tf.TensorSpec([None, 16], tf.float32)])
    with caplog.at_level(logging.INFO, logger="ovtf"):
        for batch in (5, 8):
            x = rng(batch).standard_normal((batch, 16)).astype(np.float32)
            np.testing.assert_allclose(function(x).numpy(), stock(body, x), rtol=1e-5, atol=1e-5)
    rows = device_rows(names)
    assert rows[0] == 13 and rows[1:] == [0, 0, 0], rows
    messages = [r.getMessage() for r in caplog.records if "not split" in r.getMessage()]
    assert messages and "reduces over the batch axis" in messages[0]
    assert ovtf.stats()["fallbacks"] == 0


def test_failing_and_slow_members(devices):
    """Member 1 cannot compile, member 2 fails at its 3rd run, member 3 is 3x slower:
    every answer is exact, and rows move away from the slow member."""
    split, names = devices(4, delay=0.004, per_device={1: {"fail_compile": True},
                                                       2: {"fail_runs": 3},
                                                       3: {"slowdown": 3.0}})
    w = rng(5).standard_normal((16, 8)).astype(np.float32)

    def body(x):
        return tf.nn.relu(tf.matmul(x, w) + 0.5) * 2.0

    function = tf.function(body, input_signature=[tf.TensorSpec([None, 16], tf.float32)])
    x = rng(6).standard_normal((16, 16)).astype(np.float32)
    expected = stock(body, x)
    history = []
    for _ in range(10):
        np.testing.assert_allclose(function(x).numpy(), expected, rtol=1e-5, atol=1e-5)
        history.append(device_rows(names))
    stats = ovtf.stats()
    devices_seen = stats["devices"]
    assert devices_seen[names[1]]["failures"] >= 1 and devices_seen[names[2]]["failures"] == 1
    assert stats["split_member_failures"] == 2 and stats["split_reruns"] >= 2
    assert stats["fallbacks"] == 0
    # the last five calls: members 1 and 2 are dropped, member 3 gets fewer rows than member 0
    last = [after - before for after, before in zip(history[-1], history[-6])]
    assert last[1] == 0 and last[2] == 0
    assert last[0] + last[3] == 5 * 16
    assert 0 < last[3] < last[0], last


def test_emulated_npu_rejects_dynamic_shapes_and_computes_in_f16(caplog):
    PROCESS_CACHE.clear()
    w = rng(7).standard_normal((16, 8)).astype(np.float32)

    def body(x):
        return tf.nn.relu(tf.matmul(x, w) + 0.5) * 2.0

    with ovtf.testing.emulated_devices(1, kind="NPU", prefix="EMU-NPU-T") as names:
        assert "emulated" in repr(backends.get(names[0]))
        ovtf.set_backend(names[0])
        ovtf.disable_dynamic_fallback()
        dynamic = tf.function(body, input_signature=[tf.TensorSpec([None, 16], tf.float32)])
        x = rng(8).standard_normal((4, 16)).astype(np.float32)
        np.testing.assert_allclose(dynamic(x).numpy(), stock(body, x), rtol=1e-5, atol=1e-5)
        stats = ovtf.stats()
        assert stats["clusters"] == 0 and names[0] not in stats["devices"]
        assert sum(stats["left_alone_reasons"].values()) >= 1
        with caplog.at_level(logging.INFO, logger="ovtf"):
            static = tf.function(body)
            got, expected = static(x).numpy(), stock(body, x)
            np.testing.assert_allclose(got, expected, rtol=5e-2, atol=5e-2)
            import openvino as ov
            if "FP16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
                assert np.abs(got - expected).max() > 1e-4     # f16, not f32
            # else: a CPU without native f16 (AVX2 EPYC) ignores the f16 inference
            # precision the emulation asks for and computes in f32
            static(x)
        assert ovtf.stats()["devices"][names[0]]["calls"] == 2
        notices = [r.getMessage() for r in caplog.records if "computes in f16" in r.getMessage()]
        assert len(notices) == 1 and "emulated" in notices[0]
    PROCESS_CACHE.clear()


@pytest.mark.parametrize("name, expected", [
    ("SPLIT:", r"'SPLIT:': SPLIT needs at least one member: 'SPLIT:<dev>,<dev>,...' with members from: .*CPU"),
    ("SPLIT:CPU,,CPU", r"'SPLIT:CPU,,CPU': member 2 is empty; expected 'SPLIT:<dev>,<dev>,...'"),
    ("SPLIT:NOPE", r"'SPLIT:NOPE': member 'NOPE' is not available; available: .*CPU"),
    ("SPLIT:CPU,MISSING", r"'SPLIT:CPU,MISSING': member 'MISSING' is not available"),
    ("SPLIT:SPLIT:CPU", r"a SPLIT cannot be a member of a SPLIT"),
])
def test_bad_split_names(name, expected):
    with pytest.raises(ValueError, match=expected):
        ovtf.set_backend(name)
    with pytest.raises(ValueError, match=expected):
        backends.get(name)
    assert not backends.is_available(name)


def test_split_name_is_canonical_and_support_is_every_members():
    assert backends.canonical_name("split:cpu, cpu") == "SPLIT:CPU,CPU"
    with ovtf.testing.emulated_devices(2, kind="NPU", prefix="EMU-NPU-S") as names:
        backend = backends.get("SPLIT:CPU," + names[1])
        assert backend.member_names == ("CPU", names[1])
        support = backend.operator_support()
        # the NPU member's static-shape rule holds for the SPLIT
        assert support.policy().judge_inputs([(1, (-1, 16), False)]) is not None
        assert backends.get("SPLIT:CPU,CPU").operator_support().policy().judge_inputs(
            [(1, (-1, 16), False)]) is None


def test_apportion_is_even_first_and_proportional_then():
    assert split_module.apportion(9, [0, 1, 2, 3, 4, 5, 6, 7], [1.0] * 8) == \
        [(0, 2)] + [(m, 1) for m in range(1, 8)]
    assert split_module.apportion(2, [0, 1, 2, 3], [1.0, 1.0, 3.0, 1.0]) == [(0, 1), (2, 1)]
    assert split_module.apportion(0, [0, 1], [1.0, 1.0]) == []
    assert split_module.apportion(10, [0, 1], [3.0, 1.0]) == [(0, 7), (1, 3)]


@pytest.mark.parametrize("name", ["VPU", "MYRIAD", "myriad.1", "HDDL", "VAD-M"])
def test_removed_vpu_names_point_at_npu_and_split(name):
    expected = rf"'{name}'.*left OpenVINO in 2023\.0.*'NPU'.*'SPLIT:<dev>,<dev>,\.\.\.'"
    with pytest.raises(ValueError, match=expected):
        ovtf.set_backend(name)
    with pytest.raises(ValueError, match=expected):
        backends.get(name)


def test_every_member_failing_runs_in_tensorflow(devices):
    split, names = devices(2, fail_runs=1)
    ovtf.enable_dynamic_fallback()
    w = rng(10).standard_normal((16, 8)).astype(np.float32)

    def body(x):
        return tf.nn.relu(tf.matmul(x, w) + 0.5) * 2.0

    function = tf.function(body, input_signature=[tf.TensorSpec([None, 16], tf.float32)])
    x = rng(11).standard_normal((6, 16)).astype(np.float32)
    np.testing.assert_allclose(function(x).numpy(), stock(body, x), rtol=1e-5, atol=1e-5)
    stats = ovtf.stats()
    assert stats["fallback_reasons"] == {"run": 1} and stats["split_member_failures"] == 2
    assert [stats["devices"][name]["failures"] for name in names] == [1, 1]


def test_fail_for_given_shapes_drops_the_member_for_that_slice_only(devices):
    """Member 0 cannot compile 3-row slices: 12 rows over 4 are 3 each, so it is dropped for
    that signature and its rows re-run elsewhere; at 8 rows (2 each) it runs."""
    split, names = devices(4, per_device={0: {"fail_shapes": [(3, 16)]}})
    w = rng(12).standard_normal((16, 8)).astype(np.float32)

    def body(x):
        return tf.sigmoid(tf.matmul(x, w)) - 0.25

    function = tf.function(body, input_signature=[tf.TensorSpec([None, 16], tf.float32)])
    for batch in (12, 8):
        x = rng(batch).standard_normal((batch, 16)).astype(np.float32)
        np.testing.assert_allclose(function(x).numpy(), stock(body, x), rtol=1e-5, atol=1e-5)
    devices_seen = ovtf.stats()["devices"]
    assert devices_seen[names[0]] == {**devices_seen[names[0]], "calls": 2, "rows": 5,
                                      "failures": 1}
    assert sum(devices_seen[name]["rows"] for name in names) == 12 + 8 + 3
    assert ovtf.stats()["split_member_failures"] == 1 and ovtf.stats()["fallbacks"] == 0


def test_input_without_the_batch_dim_is_not_split(devices, caplog):
    """Two data inputs whose dim 0 differ: not every input carries the batch."""
    split, names = devices(2)

    def body(x, y):
        return tf.matmul(x, y) * 2.0 + 1.0

    function = tf.function(body, input_signature=[tf.TensorSpec([None, 4], tf.float32),
                                                  tf.TensorSpec([4, 3], tf.float32)])
    x = rng(13).standard_normal((6, 4)).astype(np.float32)
    y = rng(14).standard_normal((4, 3)).astype(np.float32)
    with caplog.at_level(logging.INFO, logger="ovtf"):
        np.testing.assert_allclose(function(x, y).numpy(), stock(body, x, y), rtol=1e-5,
                                   atol=1e-5)
    assert device_rows(names) == [6, 0]
    assert any("not every input carries the batch" in r.getMessage() for r in caplog.records)


def test_balancer_ignores_noise_and_moves_for_a_sustained_slowdown():
    """A new split costs every member a compilation: scheduling noise (a 1.3x spread, or
    an imbalance that does not last) must not move it; a member 3x slower for
    `SUSTAINED` calls must."""
    from ovtf.backends.split import SUSTAINED, Balancer

    noisy = Balancer(["a", "b"], "noise")
    for _ in range(10):
        noisy.update(32, [(0, 16, 0.010), (1, 16, 0.013)], [0, 1])
    assert noisy.split(32, [0, 1]) == [(0, 16), (1, 16)]

    flicker = Balancer(["a", "b"], "flicker")
    for call in range(10):
        slow = 0.030 if call % SUSTAINED == 0 else 0.010
        flicker.update(32, [(0, 16, 0.010), (1, 16, slow)], [0, 1])
    assert flicker.split(32, [0, 1]) == [(0, 16), (1, 16)]

    slowed = Balancer(["a", "b"], "slowed")
    for call in range(SUSTAINED):
        assert slowed.split(32, [0, 1]) == [(0, 16), (1, 16)]
        slowed.update(32, [(0, 16, 0.010), (1, 16, 0.030)], [0, 1])
    rows = dict(slowed.split(32, [0, 1]))
    assert rows[0] > rows[1] and rows[0] + rows[1] == 32
