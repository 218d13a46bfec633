"""What a device's own `core.query_model` refuses, and how that narrows what the device is
given.

query_model takes an `ov.Model`, which exists only once a cluster is imported, so it cannot
narrow the partitioning of the first graph. Instead (`check_query`) a cluster with an OpenVINO
op the device refuses fails to compile (BackendError "compile", naming the OpenVINO ops and
the TF op types behind them: the cluster runs in TensorFlow), and those TF op types are
recorded in the backend's `refused_ops`; the support rule `query_refusals` reads them, so
graphs partitioned later keep them in TensorFlow on that device.

Which devices are asked: `backend.OpenVINOBackend.queries_model` (GPU, NPU; not the CPU, not
composite devices).
"""

from __future__ import annotations

import logging

from ovtf.backends import BackendError
from ovtf.backends.openvino import device_facts
from ovtf.spec import ARG_PREFIX, RET_PREFIX

__all__ = ["check_query", "query_refusals"]

logger = logging.getLogger("ovtf")

# OpenVINO op types that do not compute (never in question when a device is queried)
_NOT_COMPUTE = frozenset({"Parameter", "Result", "Constant"})


def _tf_node(friendly_name: str, by_name: dict) -> str | None:
    """The TF node an OpenVINO op came from: OpenVINO's TF frontend names ops after their
    node ("MatMul"), outputs after the tensor ("ovtf_ret_0:0"), and ops it adds while
    decomposing a node under that node's name ("Name/...")."""
    name = friendly_name.split(":")[0]
    while name:
        if name in by_name:
            return name
        name = name.rpartition("/")[0]
    return None


def check_query(backend, spec, model, settings) -> None:
    """The device's own answer for this cluster (`core.query_model`): every OpenVINO op
    of the imported model that computes must be in it, or the cluster is not compiled
    (BackendError "compile": it runs in TensorFlow, with the ops named) and the TF op
    types those ops came from stay in TensorFlow on this device in graphs partitioned
    from now on (`backend.refused_ops`, read by the device's operator support)."""
    device = backend.device
    try:
        answer = backend.core.query_model(model, device, settings)
    except Exception as error:
        raise BackendError("compile", f"cluster {spec.name}: query_model on {device} "
                                      f"failed: {device_facts.plugin_reason(error)}") from error
    missing = [op for op in model.get_ops()
               if op.get_type_name() not in _NOT_COMPUTE and op.get_friendly_name() not in answer]
    if not missing:
        return
    by_name = {node.name: node.op for node in spec.graph_def.node
               if not node.name.startswith((ARG_PREFIX, RET_PREFIX))}
    refused = {}
    for op in missing:
        tf_name = _tf_node(op.get_friendly_name(), by_name)
        if tf_name is not None:
            refused.setdefault(by_name[tf_name], []).append(f"{op.get_type_name()} ({tf_name})")
    shown = ", ".join(f"{op.get_type_name()} {op.get_friendly_name()!r}" for op in missing[:8])
    more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
    for tf_op, ov_ops in refused.items():
        if tf_op not in backend.refused_ops:
            backend.refused_ops[tf_op] = (f"{tf_op} refused by {device}'s query_model "
                                          f"(OpenVINO {', '.join(ov_ops[:3])} in cluster {spec.name})")
            logger.warning("ovtf: %s; %s stays in TensorFlow on %s in graphs partitioned "
                           "from now on", backend.refused_ops[tf_op], tf_op, device)
    raise BackendError("compile", f"cluster {spec.name}: {device}'s query_model does not "
                                  f"support OpenVINO op(s) {shown}{more}"
                                  + (f" (from TF op types {', '.join(sorted(refused))})"
                                     if refused else ""))


_refusals_class = None


def query_refusals(backend, table_types):
    """A support rule: the op types `backend`'s own query_model refused (learned from the
    clusters it compiled, `backend.refused_ops`), with why. Built on first use so that
    importing the backends does not load the op registry."""
    global _refusals_class
    if _refusals_class is None:
        from ovtf.ocm.support import SUPPORTED, UNSUPPORTED_OP, Mark, OperatorSupport

        class QueryRefusals(OperatorSupport):
            def __init__(self, backend, table_types):
                self.backend = backend
                self.table_types = table_types
                self.target = backend.name

            def judge(self, node):
                why = self.backend.refused_ops.get(node.op)
                return Mark(False, UNSUPPORTED_OP, why) if why else SUPPORTED

            def op_types(self):
                if self.table_types is None:
                    return None
                return frozenset(self.table_types) - frozenset(self.backend.refused_ops)

        _refusals_class = QueryRefusals
    return _refusals_class(backend, table_types)
