"""Marking rules and reason codes of the operator capability manager."""

from __future__ import annotations

import pytest
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

import ovtf.ocm as ocm
from ovtf import backends
from ovtf.ocm import marker, rules

CPU = backends.get("CPU").operator_support()

F32 = tf.float32.as_datatype_enum


def _graph(*nodes):
    graph_def = graph_pb2.GraphDef()
    for name, op, inputs, attrs in nodes:
        node = graph_def.node.add(name=name, op=op, input=inputs)
        for key, value in attrs.items():
            if isinstance(value, bytes):
                node.attr[key].s = value
            elif isinstance(value, bool):
                node.attr[key].b = value
            else:
                node.attr[key].type = value
    return graph_def


GRAPH = _graph(
    ("x", "Placeholder", [], {"dtype": F32}),
    ("relu", "Relu", ["x"], {"T": F32}),
    ("sin", "Sin", ["relu"], {"T": F32}),
    ("lgamma", "Lgamma", ["sin"], {"T": F32}),
    ("str", "AsString", ["sin"], {"T": F32}),
    ("rand", "RandomUniform", ["x"], {"T": tf.int32.as_datatype_enum, "dtype": F32}),
    ("nchw_pool", "MaxPool", ["x"], {"T": F32, "data_format": b"NCHW_VECT_C"}),
    ("int_mm", "MatMul", ["x", "x"], {"T": tf.int32.as_datatype_enum}),
    ("train_bn", "FusedBatchNormV3", ["x", "x", "x", "x", "x"],
     {"T": F32, "U": F32, "is_training": True}),
    ("enter", "Enter", ["x"], {"T": F32, "frame_name": b"f"}),
    ("gpu_tanh", "Tanh", ["x"], {"T": F32}),
    ("kept", "Exp", ["x"], {"T": F32}),
)
GRAPH.node[-2].device = "/job:localhost/replica:0/task:0/device:GPU:0"


@pytest.mark.parametrize("node,reason", [
    ("relu", None), ("sin", "DISABLED"), ("lgamma", "UNSUPPORTED_OP"), ("str", "DTYPE"),
    ("rand", "STATEFUL"), ("nchw_pool", "ATTR"), ("int_mm", "DTYPE"), ("train_bn", "ATTR"),
    ("enter", "CONTROL_FLOW"), ("gpu_tanh", "DEVICE"), ("kept", "PRESERVED"), ("x", "BOUNDARY"),
])
def test_reason_codes(node, reason):
    marks = ocm.mark(GRAPH, CPU, {"kept"}, frozenset({"Sin"}))
    assert set(marks) == {n.name for n in GRAPH.node}
    assert marks[node].supported == (reason is None)
    assert marks[node].reason == reason
    if reason:
        assert marks[node].detail


def test_supported_ops_match_table_and_capabilities():
    ops = ocm.supported_ops(CPU)
    assert ops == sorted(ops) and len(ops) == len(set(ops))
    conv = ocm.get_capability("Conv2D")
    assert tf.float32.as_datatype_enum in conv.dtypes["T"]
    assert ocm.get_capability("Reshape").static_inputs == (1,)
    assert ocm.get_capability("ConcatV2").static_input_indices(3) == [2]
    assert ocm.get_capability("Lgamma") is None


def test_backend_narrowing():
    """A device narrows its family's table by chaining rules: by op type and by dtype."""
    narrow = ocm.chain(ocm.TableSupport(), rules.OpTypes(set(CPU.op_types()) - {"Relu"}),
                       rules.Dtypes(allowed={F32}), target="NARROW")
    assert "Relu" not in ocm.supported_ops(narrow) and "Sin" in ocm.supported_ops(narrow)
    graph_def = _graph(("x", "Placeholder", [], {"dtype": tf.float16.as_datatype_enum}),
                       ("relu", "Relu", ["x"], {"T": F32}),
                       ("sin", "Sin", ["x"], {"T": tf.float16.as_datatype_enum}),
                       ("cos", "Cos", ["x"], {"T": F32}))
    marks = ocm.mark(graph_def, narrow, set(), frozenset())
    assert marks["relu"].reason == "UNSUPPORTED_OP"
    assert marks["sin"].reason == "DTYPE"
    assert marks["cos"].supported


def test_narrowing_by_attribute_and_shape():
    no_nchw = ocm.chain(ocm.TableSupport(), rules.AttrValues("BiasAdd", "data_format", [b"NCHW"]))
    graph_def = _graph(("x", "Placeholder", [], {"dtype": F32}),
                       ("nchw", "BiasAdd", ["x", "x"], {"T": F32, "data_format": b"NCHW"}),
                       ("nhwc", "BiasAdd", ["x", "x"], {"T": F32, "data_format": b"NHWC"}))
    marks = ocm.mark(graph_def, no_nchw, set(), frozenset())
    assert marks["nchw"].reason == "ATTR" and "data_format=NCHW" in marks["nchw"].detail
    assert marks["nhwc"].supported
    static = ocm.chain(ocm.TableSupport(), rules.StaticShapes())
    assert static.policy().judge_inputs([(F32, (2, 3), True), (F32, None, True)]) is None
    assert "dynamic shape ([?, 3])" in static.policy().judge_inputs([(F32, (2, 3), False), (F32, (-1, 3), False)])
    assert "unknown rank" in static.policy().judge_inputs([(F32, None, False)])
    assert CPU.policy().judge_inputs([(F32, (-1, 3), False)]) is None


def test_reason_constants_are_documented():
    for code in ("UNSUPPORTED_OP", "DTYPE", "ATTR", "DISABLED", "CONTROL_FLOW", "STATEFUL",
                 "PRESERVED", "DEVICE", "BOUNDARY", "OVTF"):
        assert getattr(marker, code) == code
        assert code in marker.__doc__ or code == "OVTF" and "already an ovtf cluster" in marker.__doc__
