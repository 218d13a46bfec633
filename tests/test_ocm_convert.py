"""Every capability-table entry converts with OpenVINO's TensorFlow frontend.

For each op type the CPU backend supports, a minimal graph from
`tests/graphs/op_examples.py` is converted with `openvino.convert_model` (the .pb path, so the
frontend reads the GraphDef itself, as the importer does) and compiled for CPU. Fused oneDNN
ops are first split by their entries' `lower`, exactly as the importer does.
"""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

import ovtf.ocm as ocm
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphs import op_examples  # noqa: E402

ov = pytest.importorskip("openvino")

SUPPORTED = ocm.supported_ops(ocm.TableSupport())


def _convert(graph_def):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "graph.pb")
        with open(path, "wb") as handle:
            handle.write(graph_def.SerializeToString())
        return ov.convert_model(path)


def test_supported_ops_sorted_and_nonempty():
    assert SUPPORTED == sorted(SUPPORTED)
    assert len(SUPPORTED) > 100
    for must in ("Conv2D", "MatMul", "BiasAdd", "Relu", "Softmax", "Reshape", "FusedBatchNormV3",
                 "DepthwiseConv2dNative", "BatchMatMulV2", "Einsum", "Mean", "ConcatV2"):
        assert must in SUPPORTED


@pytest.mark.parametrize("op", [op for op in SUPPORTED if not op.startswith("_")])
def test_entry_converts(op):
    assert op_examples.has_example(op), f"add a minimal graph for {op} to tests/graphs/op_examples.py"
    graph_def, _ = op_examples.build(op)
    assert any(node.op == op for node in graph_def.node)
    model = _convert(graph_def)
    assert len(model.outputs) >= 1


@pytest.mark.parametrize("op", [op for op in SUPPORTED if op.startswith("_")])
def test_fused_entry_converts_after_decomposition(op):
    from ovtf.importer.lowering import lower_graph as decompose_graph
    graph_def, _ = op_examples.fused_example(op)
    node = next(node for node in graph_def.node if node.name == "out")
    assert ocm.mark(graph_def, ocm.TableSupport(), set(), frozenset())["out"].supported
    with pytest.raises(Exception, match="conversion rule"):
        _convert(graph_def)  # the frontend alone can't: that's why the importer splits it
    model = _convert(decompose_graph(graph_def))
    assert len(model.outputs) >= 1
    assert node.op == op


def test_conformance_table_is_current():
    """docs/ops.md is generated from the registry: regenerate it when an entry changes."""
    import importlib.util
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("conformance_table",
                                                  os.path.join(root, "scripts", "conformance_table.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with open(script.OUTPUT, encoding="utf-8") as handle:
        assert handle.read() == script.render(), "run scripts/conformance_table.py"
