"""Barriers that keep OpenVINO's linear-op fusions from regrouping TensorFlow's constants.

OpenVINO's CPU plugin runs `LinOpSequenceFusion` when it compiles a model:

    (x + a) + b  ->  x + (a + b)          AddAddFusion
    (x + a) * b  ->  x * b + a * b        AddMultiplyFusion
    (x * a) * b  ->  x * (a * b)          MultiplyMultiplyFusion

(a, b constants; c - x is first rewritten as x * -1 + c). Each folds two constants that
TensorFlow keeps apart, so the result rounds differently from TF's op-by-op one. TensorFlow's
own constant folding regroups such chains too, but before ovtf sees the graph and only when the
session lets it: the graph ovtf is handed is the order TF computes.

Two cases matter:

- **Large additive masks** (issue 12, the keras_hub T5 error). On an attention mask the fusions
  move the mask's huge constant next to any other constant it meets and fold the two in f32:

      bias + (1 - m) * -1e9   ->   m * 1e9 + (bias - 1e9)     (bias: a Constant)

  TensorFlow computes (1 - 1) * -1e9 = 0 exactly and adds the bias; OpenVINO's folded constant
  bias - 1e9 is -1e9 for every |bias| < 32 (the f32 ulp of 1e9 is 64), so the bias is lost
  wherever the mask is open: 5.6e-4 relative error on a keras_hub T5Backbone, whose
  relative-position bias becomes such a Constant only inside OpenVINO, once the importer gives
  the cluster static shapes. So an op that creates a large offset (an Add/AddV2/Sub of a
  constant whose every entry is at least `LARGE_CONSTANT` in magnitude, or a Mul by one applied
  to an affine value with a constant term) is followed by a barrier, whatever reads it.
- **Any constant chain**: `1.1 * (x * y)` with y a constant became x * (1.1 * y), one ulp from
  TF's result, which TensorFlow's own numeric gradient check (`cwise_ops_binary_test`,
  `testFloatBasic`, run with grappler's constant folding off) magnifies past its tolerance
  (0.00684 against 0.00649). So an Add/AddV2/Sub/Mul with a constant operand whose other
  operand is one of the fusions' inner ops with a constant operand reads it through a barrier.

The barrier is Minimum(y, y): exact for every value including NaN, -0 and infinities, kept by
OpenVINO and fused into the same eltwise kernel, but opaque to its linear-op fusions. Graphs
without such chains are unchanged.
"""

from __future__ import annotations

import logging

from ovtf.ocm.registry import FLOATS, Lowered, NodeBuilder

logger = logging.getLogger("ovtf")

# Smallest constant magnitude treated as a mask offset: the f32 ulp at 1e3 is 6e-5, so
# folding a smaller one into another constant costs less than ovtf's 1e-4 tolerance.
LARGE_CONSTANT = 1e3
_ADDITIVE = ("Add", "AddV2", "Sub", "BiasAdd")


def _const_array(name, nodes):
    """The value of a float Const feeding input `name`, or None."""
    if name.startswith("^"):
        return None
    node = nodes.get(name.split(":")[0])
    if node is None or node.op != "Const":
        return None
    from tensorflow.python.framework import tensor_util
    import numpy as np
    value = tensor_util.MakeNdarray(node.attr["value"].tensor)
    return value if np.issubdtype(value.dtype, np.floating) or value.dtype.name == "bfloat16" else None


def _uniformly_large(value) -> bool:
    import numpy as np
    if value is None or value.size == 0:
        return False
    magnitude = np.abs(value.astype(np.float64))
    return bool(np.all(np.isfinite(magnitude)) and magnitude.min() >= LARGE_CONSTANT)


def _data_inputs(node) -> list:
    return [name for name in node.input if not name.startswith("^")]


def _has_constant_operand(node, nodes) -> bool:
    return any(_const_array(name, nodes) is not None for name in _data_inputs(node))


def _creates_large_offset(node, nodes) -> bool:
    data = _data_inputs(node)
    large = [_uniformly_large(_const_array(name, nodes)) for name in data]
    if node.op in ("Add", "AddV2", "Sub"):
        return any(large)
    # Mul: a large factor on an affine value with a constant term
    for factor_is_large, other in ((large[0], data[1]), (large[1], data[0])):
        producer = nodes.get(other.split(":")[0])
        if factor_is_large and producer is not None and producer.op in _ADDITIVE and \
                _has_constant_operand(producer, nodes):
            return True
    return False


def _regrouped_inputs(node, nodes) -> list:
    """Indices of `node`'s data inputs that a linear-op fusion would fold into its constant."""
    if not _has_constant_operand(node, nodes):
        return []
    data = _data_inputs(node)
    inner_ops = _ADDITIVE + ("Mul",) if node.op == "Mul" else _ADDITIVE
    regrouped = []
    for index, name in enumerate(data):
        producer = nodes.get(name.split(":")[0])
        if producer is not None and producer.op in inner_ops and \
                _has_constant_operand(producer, nodes):
            regrouped.append(index)
    return regrouped


def lower_fusion_barrier(node, nodes):
    """The registry's `lower` of Add/AddV2/Sub/Mul: barriers where a linear-op fusion would
    regroup (module docstring); None for every other node."""
    if len(_data_inputs(node)) != 2 or "T" not in node.attr or node.attr["T"].type not in FLOATS:
        return None
    regrouped, large = _regrouped_inputs(node, nodes), _creates_large_offset(node, nodes)
    if not regrouped and not large:
        return None
    from tensorflow.core.framework import node_def_pb2
    build = NodeBuilder(node)
    dtype = node.attr["T"].type
    result = node_def_pb2.NodeDef()
    result.CopyFrom(node)
    position = 0
    for index, name in enumerate(result.input):
        if name.startswith("^"):
            continue
        if position in regrouped:
            result.input[index] = build.add("Minimum", [name, name], T=dtype,
                                            name=f"{node.name}/_ovtf_barrier_{position}")
        position += 1
    if large:
        result.name = f"{node.name}/_ovtf_before_barrier"
    build.nodes.append(result)
    if large:
        build.add("Minimum", [result.name, result.name], name=node.name, T=dtype)
    logger.debug("ovtf: %s %s: linear-op fusion barrier (inputs %s, large offset %s)",
                 node.op, node.name, regrouped, large)
    return Lowered(build.nodes)
