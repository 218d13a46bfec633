"""Zero-size tensors never reach OpenVINO (issue 18 item 4, issue 23 "zero-size tensors").

OpenVINO's frontend and CPU plugin killed the process on many zero-size tensors (ArgMin of
an empty tensor SIGSEGV, int64 Add SIGABRT, Gather with empty indices and BroadcastTo a
zero-size shape SIGFPE, MatrixBandPart heap corruption) or returned wrong shapes (Transpose
of (1, 0), Reshape to [0, -1, 3], conv/pool/concat/matmul). Now:
  * a cluster call with a zero-element input runs in TensorFlow, also with fallback off
    (fallback reason "zero_size"), and TF's error class reaches the user;
  * constants with a zero dim, zero-size shape arguments and constant slices that select
    nothing keep their node in TF (`ovtf.ocm.constant_rules.NoZeroSize`, reason SHAPE).

Each case runs against stock TensorFlow in a fresh process (a crash fails the test, not
pytest), several cases per process; placement is asserted per case.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import ovtf  # noqa: E402
from ovtf import ocm  # noqa: E402
from ovtf.ocm.support import SHAPE  # noqa: E402


def _f32(*shape):
    return np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)


def _prod_grad(x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_prod(tf.tanh(x), 0)
    return tape.gradient(y, x)


# name -> (function, inputs, placement): "routed" (a cluster call had a zero-size input and
# ran in TF), "kept" (the graph's zero-size tensors stay in TF: no cluster call sees one, no
# routing), "any" (either); every case must equal stock TF, errors by class.
CASES = {
    # issue 18 item 4
    "argmin_of_empty_argument": (lambda x: tf.math.argmin(tf.tanh(x), 0),
                                 lambda: (np.zeros((0,), np.float32),), "routed"),
    "argmin_of_empty_constant": (lambda: tf.math.argmin(tf.constant([], tf.float32), 0),
                                 lambda: (), "kept"),
    # int64 arguments of unknown values stay in TF anyway (`ovtf.ocm.ranges`): "any"
    "int64_add_broadcast": (lambda a, b: (a + b) * 2,
                            lambda: (np.zeros((2, 0, 5), np.int64), np.ones((2, 0, 1), np.int64)),
                            "any"),
    "reduce_prod_gradient": (_prod_grad, lambda: (_f32(0, 3),), "routed"),
    # issue 23
    "gather_empty_indices_argument": (lambda p, i: tf.gather(tf.tanh(p), i) * 2,
                                      lambda: (_f32(4, 3), np.zeros((0,), np.int32)), "routed"),
    "gather_empty_indices_constant": (
        lambda p: tf.gather(tf.tanh(p), tf.constant([], tf.int32)) * 2, lambda: (_f32(4, 3),),
        "any"),
    "broadcast_to_zero_size_shape": (lambda x: tf.broadcast_to(tf.tanh(x), [2, 0, 3]) * 2,
                                     lambda: (_f32(1, 3),), "any"),
    "fill_zero_size": (lambda x: tf.fill([0, 3], 1.0) + tf.tanh(x)[:0], lambda: (_f32(2, 3),),
                       "any"),
    "matrix_band_part_empty": (lambda x: tf.linalg.band_part(tf.tanh(x), 1, 1) * 2,
                               lambda: (_f32(0, 3),), "routed"),
    "transpose_1_0": (lambda x: tf.transpose(tf.tanh(x)) * 2, lambda: (_f32(1, 0),), "routed"),
    "conv2d_empty_batch": (lambda x, w: tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME")),
                           lambda: (_f32(0, 5, 5, 2), _f32(3, 3, 2, 4)), "routed"),
    "max_pool_empty_batch": (lambda x: tf.nn.max_pool2d(tf.tanh(x), 2, 2, "VALID") * 2,
                             lambda: (_f32(0, 4, 4, 2),), "routed"),
    "concat_with_empty": (lambda a, b: tf.concat([tf.tanh(a), b], 0) * 2,
                          lambda: (_f32(2, 3), _f32(0, 3)), "routed"),
    "matmul_empty_inner": (lambda a, b: tf.matmul(tf.tanh(a), b) * 2,
                           lambda: (_f32(2, 0), _f32(0, 3)), "routed"),
    "reshape_0_minus1": (lambda x: tf.reshape(tf.tanh(x), [0, -1, 3]) * 2, lambda: (_f32(0, 6),),
                         "routed"),
    "reduce_max_over_empty_axis": (lambda x: tf.reduce_max(tf.tanh(x), 0) * 2,
                                   lambda: (_f32(0, 3),), "routed"),
    # zero-size tensors made inside a graph from non-empty inputs
    "negative_stride_empty_slice": (lambda x: tf.tanh(x)[-3:-3:-1] * 2, lambda: (_f32(5),),
                                    "any"),
    "slice_past_the_end": (lambda x: tf.tanh(x)[2:10] * 2, lambda: (_f32(2, 3),), "any"),
    "slice_size_0": (lambda x: tf.slice(tf.tanh(x), [0, 0], [0, 3]) * 2, lambda: (_f32(2, 3),),
                     "any"),
    "tile_by_zero": (lambda x: tf.tile(tf.tanh(x), [0, 2]) * 2, lambda: (_f32(2, 3),), "any"),
    "argmax_of_an_empty_slice": (lambda x: tf.argmax(tf.tanh(x)[2:10], 0), lambda: (_f32(2, 3),),
                                 "routed"),
    "conv2d_of_an_empty_slice": (lambda x, w: tf.nn.conv2d(tf.tanh(x)[3:], w, 1, "SAME") * 2,
                                 lambda: (_f32(2, 5, 5, 2), _f32(3, 3, 2, 4)), "any"),
    "max_pool_of_an_empty_slice": (lambda x: tf.nn.max_pool2d(tf.tanh(x)[3:], 2, 2, "VALID") * 2,
                                   lambda: (_f32(2, 4, 4, 2),), "routed"),
    "reduce_max_of_an_empty_slice": (lambda x: tf.reduce_max(tf.tanh(x)[2:10], 0) * 2,
                                     lambda: (_f32(2, 3),), "any"),
    "empty_range": (lambda x: tf.cast(tf.range(3, 3), tf.float32)[None] + tf.reduce_sum(tf.tanh(x)),
                    lambda: (_f32(2),), "any"),
}

GROUPS = {
    "issue18": ["argmin_of_empty_argument", "argmin_of_empty_constant", "int64_add_broadcast",
                "reduce_prod_gradient"],
    "gather_broadcast_fill": ["gather_empty_indices_argument", "gather_empty_indices_constant",
                              "broadcast_to_zero_size_shape", "fill_zero_size",
                              "matrix_band_part_empty", "transpose_1_0"],
    "nn_and_shapes": ["conv2d_empty_batch", "max_pool_empty_batch", "concat_with_empty",
                      "matmul_empty_inner", "reshape_0_minus1", "reduce_max_over_empty_axis"],
    "made_inside": ["negative_stride_empty_slice", "slice_past_the_end", "slice_size_0",
                    "tile_by_zero", "empty_range", "argmax_of_an_empty_slice",
                    "conv2d_of_an_empty_slice", "max_pool_of_an_empty_slice",
                    "reduce_max_of_an_empty_slice"],
}


def _outcome(function, inputs):
    """Arrays, or the class name of the TF error raised."""
    try:
        result = tf.function(function)(*inputs)
    except tf.errors.OpError as error:
        return type(error).__name__
    results = result if isinstance(result, (list, tuple)) else [result]
    return [np.asarray(item) for item in results]


def compare_cases(names) -> list:
    """Run each case stock and under ovtf (min cluster size 1, fallback off, training graphs
    partitioned too); [{case, problem or None, stats}]. Called in a fresh process."""
    from ovtf import hook

    ovtf.set_min_cluster_size(1)
    ovtf.disable_dynamic_fallback()
    ovtf.enable_training_graphs()
    report = []
    for name in names:
        function, make_inputs, placement = CASES[name]
        ovtf.disable()
        hook.clear_function_cache()
        expected = _outcome(function, make_inputs())
        ovtf.enable()
        hook.clear_function_cache()
        ovtf.reset_stats()
        actual = _outcome(function, make_inputs())
        stats = ovtf.stats()
        problem = None
        if isinstance(expected, str) or isinstance(actual, str):
            if expected != actual:
                problem = f"stock {expected}, ovtf {actual if isinstance(actual, str) else 'a value'}"
        elif len(expected) != len(actual):
            problem = "output count"
        else:
            for want, got in zip(expected, actual):
                if want.shape != got.shape or want.dtype != got.dtype:
                    problem = f"stock {want.dtype}{want.shape}, ovtf {got.dtype}{got.shape}"
                elif not np.allclose(want, got, rtol=1e-5, atol=1e-5, equal_nan=True):
                    problem = "values differ"
        routed = stats["fallback_reasons"].get("zero_size", 0)
        other = {k: v for k, v in stats["fallback_reasons"].items() if k != "zero_size"}
        if other:
            problem = problem or f"device failures {other}"
        elif placement == "routed" and (not routed or stats["clusters"] < 1):
            problem = problem or f"not routed to TF: {stats['fallback_reasons']}"
        elif placement == "kept" and routed:
            problem = problem or "a cluster saw a zero-size tensor"
        report.append({"case": name, "problem": problem, "routed": routed,
                       "clusters": stats["clusters"],
                       "device_executions": stats["device_executions"]})
    return report


@pytest.mark.timeout(300)
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_zero_size_cases_against_stock(group, fresh_process):
    report = fresh_process(f"""
        import json
        from test_zero_size import compare_cases
        print(json.dumps(compare_cases({GROUPS[group]!r})))
    """)
    problems = [(item["case"], item["problem"]) for item in report if item["problem"]]
    assert not problems, (problems, report)
    assert len(report) == len(GROUPS[group])


def test_every_case_is_in_a_group():
    grouped = [name for names in GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(CASES)


# --- in this process: routing, counting, the fast path, error classes ------------------------

@pytest.fixture
def device_only():
    ovtf.set_min_cluster_size(1)
    ovtf.disable_dynamic_fallback()


def test_routing_with_fallback_off_and_the_fast_path(device_only):
    """Zero-size calls between normal ones: the normal ones stay on the device (and on the
    kernel's fast path), the zero-size ones run in TF and are counted as such."""
    function = tf.function(lambda x: tf.nn.relu(x * 2.0 - 1.0))
    expected = lambda x: np.maximum(x * 2.0 - 1.0, 0.0)  # noqa: E731
    sequence = [(3, 4), (3, 4), (0, 4), (3, 0), (3, 4), (3, 4), (0, 4)]
    for shape in sequence:
        x = _f32(*shape)
        got = function(tf.constant(x)).numpy()
        assert got.shape == shape
        np.testing.assert_allclose(got, expected(x), rtol=1e-6)
    stats = ovtf.stats()
    assert stats["fallback_reasons"] == {"zero_size": 3}, stats
    assert stats["device_executions"] == 4, stats
    assert stats["fast_path_executions"] >= 2, stats


def test_tf_error_class_is_kept(device_only):
    function = tf.function(lambda x: tf.math.argmax(x * 2.0, 0))
    assert function(tf.constant([1.0, 3.0, 2.0])).numpy() == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty"):
        function(tf.zeros((0,), tf.float32))
    assert ovtf.stats()["fallback_reasons"] == {"zero_size": 1}


def test_tf_error_class_is_kept_in_a_session(device_only):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None])
        y = tf.math.argmin(tf.tanh(x) * 2.0, 0)
        with tf.compat.v1.Session(graph=graph) as session:
            assert session.run(y, {x: [3.0, -1.0, 2.0]}) == 1
            with pytest.raises(tf.errors.InvalidArgumentError):
                session.run(y, {x: np.zeros((0,), np.float32)})
    assert ovtf.stats()["fallback_reasons"] == {"zero_size": 1}


# --- the marking rule ---------------------------------------------------------------------

def _marks(build):
    graph = tf.Graph()
    with graph.as_default():
        build()
    return ocm.mark(graph.as_graph_def(), ocm.TableSupport(), set(), frozenset())


def test_rule_keeps_zero_size_constants_and_their_readers():
    def build():
        x = tf.compat.v1.placeholder(tf.float32, [4, 3], name="x")
        empty = tf.constant([], tf.float32, name="empty")
        tf.math.argmin(empty, 0, name="argmin")
        row = tf.compat.v1.placeholder(tf.float32, [1, 3], name="row")
        tf.broadcast_to(row, tf.constant([2, 0, 3], name="zero_shape"), name="broadcast")
        empty_rows = tf.compat.v1.placeholder(tf.float32, [None, 6], name="empty_rows")
        tf.reshape(empty_rows, tf.constant([0, -1, 3], name="shape0"), name="reshape0")
        tf.reshape(x, tf.constant([-1, 3], name="shape1"), name="reshape1")
        tf.tile(x, tf.constant([0, 2], name="mult"), name="tile")
        tf.identity(x[-3:-3:-1], name="empty_slice")
        tf.identity(x[1:3], name="slice")

    marks = _marks(build)
    for name in ("empty", "argmin", "broadcast", "reshape0", "tile", "strided_slice"):
        assert not marks[name].supported and marks[name].reason == SHAPE, (name, marks[name])
    assert "zero-size constant empty" in marks["argmin"].detail
    assert "[2, 0, 3]" in marks["broadcast"].detail
    for name in ("reshape1", "strided_slice_1", "shape1", "zero_shape"):
        assert marks[name].supported, (name, marks[name])
