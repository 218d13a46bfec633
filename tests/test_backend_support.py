"""A backend's operator support decides what is clustered, clusters run on the backend they
were partitioned for, and compile-time inputs come from the registry alone."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import graph_pb2, types_pb2

import ovtf
from ovtf import backends, ocm
from ovtf.backends import Backend
from ovtf.importer import import_cluster
from ovtf.ocm import rules
from ovtf.runtime.compiled_cache import PROCESS_CACHE
from ovtf.spec import ClusterSpec, arg_name, ret_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphs import op_examples  # noqa: E402

SUBSET_OPS = {"MatMul", "AddV2", "Relu"}


class Subset(Backend):
    """Runs MatMul, AddV2 and Relu in f32 with static shapes (on the CPU, counting)."""

    def __init__(self):
        self.compiles = 0

    def operator_support(self):
        return ocm.chain(ocm.TableSupport(), rules.OpTypes(SUBSET_OPS),
                         rules.Dtypes(allowed={types_pb2.DT_FLOAT}), rules.StaticShapes(),
                         target=self.name)

    def compile(self, spec, input_shapes, constants, precision):
        self.compiles += 1
        assert set(spec.op_types) <= SUBSET_OPS | {"Const", "Identity"}, spec.op_types
        return backends.get("CPU").compile(spec, input_shapes, constants, precision)


class Counting(Backend):
    def __init__(self):
        self.compiles = 0

    def compile(self, spec, input_shapes, constants, precision):
        self.compiles += 1
        return backends.get("CPU").compile(spec, input_shapes, constants, precision)


@pytest.fixture
def use(request):
    """use(name, backend): register and select it; restores CPU afterwards."""
    names = []

    def install(name, backend):
        backends.register(name, lambda: backend)
        names.append(name)
        ovtf.set_backend(name)
        return backend

    PROCESS_CACHE.clear()
    ovtf.set_min_cluster_size(1)
    ovtf.reset_stats()
    yield install
    ovtf.set_backend("CPU")
    for name in names:
        backends.unregister(name)
    PROCESS_CACHE.clear()


W1 = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
W2 = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)


def _mixed(x):
    y = tf.nn.relu(tf.matmul(x, W1) + 1.0)       # MatMul, AddV2, Relu
    y = tf.maximum(y * 0.5, 0.1)                  # Mul, Maximum: not on the subset
    z = tf.nn.relu(tf.matmul(y, W2) + 0.25)      # MatMul, AddV2, Relu
    return tf.minimum(z, 3.0)                     # Minimum: not on the subset


def test_subset_backend_clusters_exactly_its_ops(use):
    backend = use("SUBSET-F32", Subset())
    x = np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)
    ovtf.disable_dynamic_fallback()
    try:
        function = tf.function(_mixed)
        actual = function(x).numpy()
    finally:
        ovtf.enable_dynamic_fallback()
    np.testing.assert_allclose(actual, _mixed(tf.constant(x)).numpy(), rtol=1e-5, atol=1e-6)
    stats = ovtf.stats()
    assert stats["ops_clustered"] == 6, stats       # 2 x (MatMul, AddV2, Relu), nothing else
    assert stats["clusters"] == 2 and backend.compiles == 2, stats
    assert stats["device_executions"] == 2 and stats["fallbacks"] == 0, stats


def test_subset_backend_does_not_place_a_dynamic_signature(use):
    backend = use("SUBSET-DYNAMIC", Subset())
    function = tf.function(_mixed, input_signature=[tf.TensorSpec([None, 8], tf.float32)])
    x = np.random.default_rng(3).standard_normal((5, 8)).astype(np.float32)
    np.testing.assert_allclose(function(x).numpy(), _mixed(tf.constant(x)).numpy(),
                               rtol=1e-5, atol=1e-6)
    stats = ovtf.stats()
    assert stats["ops_clustered"] == 0 and stats["clusters"] == 0, stats
    assert backend.compiles == 0 and stats["device_executions"] == 0


def test_dynamic_shape_reason_is_reported():
    support = Subset().operator_support()
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None, 8), name="x")
        tf.identity(tf.nn.relu(tf.matmul(x, W1, name="mm") + 1.0, name="relu"), name="out")
    graph_def = graph.as_graph_def(add_shapes=True)
    from ovtf import partitioner
    report = partitioner.explain(graph_def, ["out"], [], support=support, min_cluster_size=1)
    assert report.ops_clustered == 0
    assert report.placement["mm"].reason == "SHAPE"
    assert "dynamic shape ([?, 8])" in report.placement["mm"].detail


def test_clusters_record_their_backend_and_run_there(use):
    """A function keeps running on the backend it was partitioned for until set_backend,
    which makes TensorFlow re-instantiate (and so re-partition) it."""
    first = use("COUNT-FIRST", Counting())
    x = np.random.default_rng(4).standard_normal((4, 8)).astype(np.float32)
    function = tf.function(lambda v: tf.nn.relu(tf.matmul(v, W1) + 1.0) * 2.0)
    expected = (tf.nn.relu(tf.matmul(x, W1) + 1.0) * 2.0).numpy()
    np.testing.assert_allclose(function(x).numpy(), expected, rtol=1e-5)
    assert first.compiles == 1
    ovtf.set_precision("f32")             # unrelated settings leave the placement alone
    function(x)
    assert first.compiles == 1 and ovtf.stats()["cache_hits"] >= 1
    second = use("COUNT-SECOND", Counting())
    np.testing.assert_allclose(function(x).numpy(), expected, rtol=1e-5)
    assert second.compiles == 1 and first.compiles == 1
    assert ovtf.stats()["fallbacks"] == 0


def test_cluster_node_carries_the_backend():
    from ovtf import partitioner, spec
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (2, 8), name="x")
        tf.identity(tf.nn.relu(tf.matmul(x, W1) + 1.0), name="out")
    support = backends.get("CPU").operator_support()
    result = partitioner.rewrite(graph.as_graph_def(), ["out"], [], support=support,
                                 min_cluster_size=1)
    nodes = [n for n in result.graph_def.node if n.op == spec.CLUSTER_OP]
    assert [n.attr[spec.BACKEND_ATTR].s for n in nodes] == [b"CPU"]


# --- one source for compile-time inputs ------------------------------------------------------

STATIC_ENTRIES = sorted(op for op, entry in ocm.registry.table().items()
                        if entry.static_inputs and not op.startswith("_"))


def _as_cluster(op):
    """op_examples' graph for `op` as a cluster whose Placeholders and whose Consts at the
    entry's static positions are cluster inputs; -> (spec, {input index: value}, indices
    of the inputs feeding a static position)."""
    from tensorflow.python.framework import tensor_util

    graph_def, outputs = op_examples.build(op)
    nodes = {n.name: n for n in graph_def.node}
    target = next(n for n in graph_def.node if n.op == op)
    data = [name for name in target.input if not name.startswith("^")]
    entry = ocm.get_capability(op)
    static = {data[p].split(":")[0] for p in entry.static_input_indices(len(data))}
    static = {name for name in static if nodes[name].op in ("Const", "Placeholder")}
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        out_dtype = graph.get_operation_by_name(target.name).outputs[0].dtype
    sub, values, renames, baked = graph_pb2.GraphDef(), {}, {}, set()
    for node in graph_def.node:
        if node.op == "Placeholder" or node.name in static:
            index = len(renames)
            arg = sub.node.add(name=arg_name(index), op="Placeholder")
            if node.op == "Const":
                value = tensor_util.MakeNdarray(node.attr["value"].tensor)
                arg.attr["dtype"].type = node.attr["dtype"].type
                arg.attr["shape"].shape.CopyFrom(tf.TensorShape(value.shape).as_proto())
                values[index] = value
                baked.add(index)
            else:
                arg.attr["dtype"].type = node.attr["dtype"].type
                arg.attr["shape"].CopyFrom(node.attr["shape"])
                shape = [d.size for d in node.attr["shape"].shape.dim]
                dtype = tf.as_dtype(node.attr["dtype"].type).as_numpy_dtype
                values[index] = np.ones(shape, dtype)
                if node.name in static:
                    baked.add(index)
            renames[node.name] = arg.name
        else:
            sub.node.add().CopyFrom(node)
    for node in sub.node:
        for position, name in enumerate(node.input):
            source, _, port = name.partition(":")
            if source in renames:
                node.input[position] = renames[source] + (f":{port}" if port and port != "0" else "")
    ret = sub.node.add(name=ret_name(0), op="Identity", input=[f"{target.name}:0"])
    ret.attr["T"].type = out_dtype.as_datatype_enum
    return ClusterSpec.parse(op, sub.SerializeToString()), values, baked


@pytest.mark.parametrize("op", STATIC_ENTRIES)
def test_static_inputs_are_baked_from_the_registry_alone(op):
    """Every entry with compile-time inputs: the runtime bakes exactly the cluster inputs
    feeding them, and the importer lowers the cluster with those values as constants."""
    spec, values, baked = _as_cluster(op)
    support = backends.get("CPU").operator_support()
    small_ints = {i for i in baked if (np.issubdtype(values[i].dtype, np.integer) or values[i].dtype == np.bool_)
                  and values[i].size <= 64}
    assert support.policy().compile_time_inputs(spec) == small_ints
    constants = {i: values[i] for i in baked}
    shapes = [tuple(values[i].shape) for i in range(len(spec.inputs))]
    model = import_cluster(spec, shapes, constants)
    assert len(model.get_parameters()) == len(spec.inputs) - len(constants)
    assert model.output(0).get_partial_shape().rank.is_static, op


def _op_tables(module) -> list:
    """Module-level dicts/sets of `module` keyed by TensorFlow op type names."""
    from tensorflow.python.framework import op_def_registry
    return [f"{module.__name__}.{name}" for name, value in vars(module).items()
            if not name.startswith("__") and isinstance(value, (dict, set, frozenset))
            and any(isinstance(key, str) and op_def_registry.get(key) is not None for key in value)]


def test_the_importer_has_no_table_of_its_own():
    """What an op needs at import time comes from the registry: no module of the importer
    keeps a table keyed by op types (as `_SHAPE_ARGUMENTS` once did)."""
    import importlib
    import pkgutil
    import types

    import ovtf.importer as importer
    modules = [importer] + [importlib.import_module(f"ovtf.importer.{info.name}")
                            for info in pkgutil.iter_modules(importer.__path__)]
    assert [table for module in modules for table in _op_tables(module)] == []
    planted = types.ModuleType("planted")
    planted._SHAPE_ARGUMENTS = {"Reshape": (1,)}
    assert _op_tables(planted) == ["planted._SHAPE_ARGUMENTS"]   # the check can see one
