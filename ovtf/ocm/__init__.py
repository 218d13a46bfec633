"""Operator capability manager (OCM): which TensorFlow nodes may run on an OpenVINO backend.

Public surface:

    supported_ops(backend) -> list[str]
        Sorted op types the capability table offers on `backend` (after the backend's own
        narrowing, if it declares one). `ovtf.get_supported_ops()` returns this.
    mark(graph_def, backend, preserve, disabled_ops) -> dict[str, Mark]
        For every node: `Mark(supported, reason, detail)`. Reason codes are listed in
        `ovtf.ocm.marker` (UNSUPPORTED_OP, DTYPE, ATTR, DISABLED, CONTROL_FLOW, STATEFUL,
        PRESERVED, DEVICE, BOUNDARY, OVTF).
    get_capability(op) -> Capability | None
        The table entry: allowed dtypes per type attribute, static inputs, attribute check.

The table (`registry.py`, filled by `math_ops.py`, `nn_ops.py`, `array_ops.py`) lists only
op types that OpenVINO's TensorFlow frontend converts; every entry is converted in
`tests/test_ocm_convert.py`. Works on plain `GraphDef` protos; needs no native code.

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
ovtf's importer therefore splits them back into public ops before conversion
(`ovtf.importer.fused`); `fused_ops.py` registers exactly the nodes the importer says it can
split (`decomposable(node)`), and `tests/test_ocm_convert.py` converts each one after that
split. If the importer's module is missing, the fused ops stay in TF (UNSUPPORTED_OP).
With remapping off, or with weights frozen to constants, the same models reach ovtf as plain
Conv2D/MatMul/BiasAdd/Relu/... which are supported directly.
"""

from __future__ import annotations

import logging
import threading

from ovtf.ocm import array_ops, fused_ops, math_ops, nn_ops  # noqa: F401  (fill the table)
from ovtf.ocm.marker import Mark, mark  # noqa: F401
from ovtf.ocm.registry import Capability, get as get_capability, table as _full_table  # noqa: F401

logger = logging.getLogger("ovtf")

__all__ = ["Capability", "Mark", "get_capability", "mark", "supported_ops"]

_lock = threading.Lock()
_narrowed: dict = {}   # backend name -> {op: Capability}


def backend_object(backend: str):
    """The backend object from `ovtf.backends`, or None while that package can't provide one."""
    try:
        from ovtf import backends
    except ImportError:
        return None
    getter = getattr(backends, "get", None)
    if getter is None:
        return None
    try:
        return getter(backend)
    except Exception as error:  # a missing device must not break marking: no narrowing then
        logger.debug("ovtf.ocm: no backend object for %s (%s)", backend, error)
        return None


def supported_table(backend: str) -> dict:
    """op -> Capability for `backend`: the full table, narrowed by the backend if it wants."""
    with _lock:
        if backend in _narrowed:
            return _narrowed[backend]
    entries = _full_table()
    narrow = getattr(backend_object(backend), "narrow_supported_ops", None)
    if narrow is not None:
        kept = set(narrow(set(entries)))
        entries = {op: cap for op, cap in entries.items() if op in kept}
    with _lock:
        _narrowed[backend] = entries
    return entries


def supported_ops(backend: str) -> list:
    """Sorted op types the capability manager can place on `backend`."""
    return sorted(supported_table(backend))
