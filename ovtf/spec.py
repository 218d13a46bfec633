"""The cluster contract (shared by the partitioner, which writes it, and the runtime, which
reads it; imports nothing of ovtf): what an `OVTFCluster` node carries and how its subgraph is laid out.

The partitioner writes clusters in this form, the native kernel hands them to the runtime,
and the importer and the TensorFlow fallback read them. The node is self-contained: nothing
in a process-global registry is needed to run a rewritten graph.

`OVTFCluster` node attributes:
  Tin, Tout       list(type)   input / output dtypes, in order
  cluster_graph   string       serialized GraphDef of the subgraph (layout below)
  cluster_name    string       a readable, unique-per-graph name (logs, errors, stats)
  backend         string       the backend the cluster was partitioned for; the runtime
                               runs it there ('' in graphs from before this attr: the
                               backend selected when the kernel is created)

Subgraph layout:
  ovtf_arg_<i>    Placeholder  input i; attrs `dtype`, `shape` (what TF knew statically,
                               -1 for unknown dims). Attr `_ovtf_variable: true` when the outer
                               producer is a variable read (its value is a model weight).
  ovtf_ret_<i>    Identity     output i; its input is the tensor the outer graph consumes.
  anything else                the original nodes, inputs remapped, devices cleared.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

CLUSTER_OP = "OVTFCluster"
BACKEND_ATTR = "backend"
ARG_PREFIX = "ovtf_arg_"
RET_PREFIX = "ovtf_ret_"
VARIABLE_ATTR = "_ovtf_variable"
# Set on every node of a graph ovtf runs as a fallback; the rewriter leaves such graphs alone.
FALLBACK_ATTR = "_ovtf_fallback"


def arg_name(index: int) -> str:
    return f"{ARG_PREFIX}{index}"


def ret_name(index: int) -> str:
    return f"{RET_PREFIX}{index}"


@dataclass(frozen=True)
class TensorSpec:
    name: str           # node name inside the cluster graph
    dtype: np.dtype     # numpy dtype (ml_dtypes.bfloat16 for bf16)
    tf_dtype: int       # TF DataType enum
    shape: tuple        # static shape TF knew; None for unknown rank, -1 for unknown dims
    is_variable: bool = False


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed `OVTFCluster`: everything a backend or the fallback needs."""

    name: str
    graph_def: object   # tensorflow GraphDef proto
    inputs: tuple       # TensorSpec per input, in order
    outputs: tuple      # TensorSpec per output, in order (shape: what TF knew, may be None)
    op_types: tuple     # sorted op types of the compute nodes inside
    fingerprint: str    # sha256 of the serialized subgraph
    backend: str = ""   # the backend it was partitioned for ('' when not recorded)

    @property
    def variable_inputs(self) -> tuple:
        return tuple(i for i, spec in enumerate(self.inputs) if spec.is_variable)

    @classmethod
    def parse(cls, name: str, graph_bytes: bytes, tin=None, tout=None,
              backend: str = "") -> "ClusterSpec":
        from tensorflow.core.framework import graph_pb2
        from tensorflow.python.framework import dtypes

        graph_def = graph_pb2.GraphDef()
        graph_def.ParseFromString(graph_bytes)
        nodes = {node.name: node for node in graph_def.node}

        def tensor(node, dtype_attr, shape=None, is_variable=False):
            tf_dtype = node.attr[dtype_attr].type
            return TensorSpec(name=node.name, tf_dtype=tf_dtype, shape=shape,
                              dtype=np.dtype(dtypes.as_dtype(tf_dtype).as_numpy_dtype),
                              is_variable=is_variable)

        inputs = [
            tensor(node, "dtype",
                   shape=_shape_from_attr(node.attr["shape"]) if "shape" in node.attr else None,
                   is_variable=VARIABLE_ATTR in node.attr and node.attr[VARIABLE_ATTR].b)
            for node in _numbered(nodes, arg_name)]
        outputs = [tensor(node, "T") for node in _numbered(nodes, ret_name)]

        if tin is not None and list(tin) != [spec.tf_dtype for spec in inputs]:
            raise ValueError(f"cluster {name}: Tin {list(tin)} does not match its subgraph inputs")
        if tout is not None and list(tout) != [spec.tf_dtype for spec in outputs]:
            raise ValueError(f"cluster {name}: Tout {list(tout)} does not match its subgraph outputs")

        op_types = sorted({node.op for node in graph_def.node
                           if not node.name.startswith((ARG_PREFIX, RET_PREFIX))})
        return cls(
            name=name,
            graph_def=graph_def,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            op_types=tuple(op_types),
            fingerprint=hashlib.sha256(graph_bytes).hexdigest(),
            backend=backend,
        )


def _numbered(nodes: dict, name_of) -> list:
    """name_of(0), name_of(1), ... for as long as such nodes exist."""
    found = []
    while name_of(len(found)) in nodes:
        found.append(nodes[name_of(len(found))])
    return found


def _shape_from_attr(attr_value) -> tuple | None:
    shape = attr_value.shape
    if shape.unknown_rank:
        return None
    return tuple(int(dim.size) for dim in shape.dim)
