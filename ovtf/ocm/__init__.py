"""Operator capability manager (OCM): which TensorFlow nodes a backend may run, and why not.

Public surface:

    OperatorSupport, chain                 what the partitioner is handed (`support.py`):
                                           judge(node) -> Mark, cluster signatures, whole
                                           graphs, op types, and its compile policy
    CompilePolicy                          what compiling needs, read by the partitioner,
                                           runtime and importer (`policy.py`): static
                                           inputs, which are baked in by value and up to
                                           what size, whether dims may stay dynamic
    TableSupport(entries=None, target="")  the OpenVINO family's registry as a support
                                           (`table.py`); a device narrows it by chaining rules
    rules                                  small rules: generic ones and device narrowing
                                           (OpTypes, Dtypes, AttrValues, StaticShapes,
                                           StaticCompiles, NotTraining); those that read
                                           the graph's constants in `constant_rules.py`
    mark(graph_def, support, preserve, disabled_ops) -> dict[str, Mark]
                                           every node's answer: the generic rules chained
                                           around `support` (`marker.py` lists the order)
    judge_graph(graph_def, support, training_graphs=False) -> Mark
                                           the whole graph first: a training step stays in
                                           TF unless asked (`rules.NotTraining`)
    get_capability(op) -> Capability | None
                                           the registry entry: dtypes, attribute check,
                                           static inputs, pre-lowering rewrite

The registry (`registry.py`, filled by `math_ops.py`, `nn_ops.py`, `array_ops.py`,
`fused_ops.py`) lists only op types that OpenVINO's TensorFlow frontend converts; every
entry is converted in `tests/test_ocm_convert.py`. Nothing here knows a backend by name:
backends build their support from `TableSupport` (`ovtf.backends`). Works on plain
`GraphDef` protos; needs no native code.

oneDNN fused ops. With grappler's remapper on (the default), TF 2.21 on CPU hands over
graphs with these ops (dumped from Keras ResNet50/MobileNetV2/EfficientNetB0/InceptionV3,
a BERT-like encoder and an LSTM, weights as variables):

    _FusedConv2D                 ResNet50 (BiasAdd), EfficientNetB0 (BiasAdd)
    _FusedMatMul                 every model's classifier / Dense layers (BiasAdd)
    _MklSwish                    EfficientNetB0 (the swish activations)

and TF can also emit _FusedDepthwiseConv2dNative, _FusedBatchNormEx, _MklLayerNorm,
_MklFusedBatchMatMulV2, _MklFusedMish and _FusedConv3D. Each was built by hand as a NodeDef
(fused_ops BiasAdd / +Relu / +Relu6 / +Elu / +LeakyRelu / +_MklSwish / +Add /
FusedBatchNorm ...) and given to `openvino.convert_model` (2026.4.1): the frontend has *no
conversion rule* for any of them ("No conversion rule found for operations: _FusedConv2D").
Their registry entries (`fused_ops.py`) therefore carry a `lower` that splits a node back
into public ops, which the importer applies before conversion; an entry's check accepts
exactly the nodes that split can handle (`decomposable(node)`), and
`tests/test_ocm_convert.py` converts each one after the split.
With remapping off, or with weights frozen to constants, the same models reach ovtf as plain
Conv2D/MatMul/BiasAdd/Relu/... which are supported directly.
"""

from __future__ import annotations

from ovtf.ocm import array_ops, fused_ops, math_ops, nn_ops  # noqa: F401  (fill the registry)
from ovtf.ocm import image_ops  # noqa: F401  (tf.image entries)
from ovtf.ocm import rules  # noqa: F401
from ovtf.ocm.marker import judge_graph, mark, node_rules  # noqa: F401
from ovtf.ocm.policy import CompilePolicy  # noqa: F401
from ovtf.ocm.registry import Capability, get as get_capability  # noqa: F401
from ovtf.ocm.support import Mark, OperatorSupport, chain, supported_ops  # noqa: F401
from ovtf.ocm.table import TableSupport  # noqa: F401

__all__ = ["Capability", "CompilePolicy", "Mark", "OperatorSupport", "TableSupport", "chain", "get_capability",
           "judge_graph", "mark", "node_rules", "rules"]
