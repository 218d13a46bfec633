"""Apply the registry's pre-lowering rewrites (`Capability.lower`) to a cluster's GraphDef.

    lower_graph(graph_def, known=None) -> graph_def   (a copy when something changed, else
                                                     the same one)

Each node whose entry has a `lower` is replaced by the nodes it returns; consumers of its
other outputs are pointed at the tensors that now provide them. A `lower` that refuses a
node it was registered for (ValueError) fails the import with that message.

`known`: {Placeholder name: value} for cluster inputs the runtime bakes in as constants;
a `lower` sees them as Const nodes in its `nodes` view (a Tile's multiples from outside).
"""

from __future__ import annotations

from ovtf.ocm import registry


def lower_graph(graph_def, known=None):
    nodes = {node.name: node for node in graph_def.node}
    for name, value in (known or {}).items():
        if name in nodes:
            nodes[name] = _const_view(name, value)
    plans = {}
    for node in graph_def.node:
        entry = registry.get(node.op)
        if entry is not None and entry.lower is not None:
            lowered = entry.lower(node, nodes)
            if lowered is not None:
                plans[node.name] = lowered
    if not plans:
        return graph_def
    from tensorflow.core.framework import graph_pb2

    result = graph_pb2.GraphDef()
    result.versions.CopyFrom(graph_def.versions)
    result.library.CopyFrom(graph_def.library)
    renames = {}
    for node in graph_def.node:
        lowered = plans.get(node.name)
        if lowered is None:
            result.node.append(node)
            continue
        result.node.extend(_lower_constants(lowered.nodes))
        for port, tensor in lowered.outputs.items():
            renames[f"{node.name}:{port}"] = tensor
    if renames:
        for node in result.node:
            for position, name in enumerate(node.input):
                if name in renames:
                    node.input[position] = renames[name]
    return result


def _lower_constants(new_nodes) -> list:
    """Nodes a `lower` produced are not lowered again, except Consts: their entry's `lower`
    only changes how the value is encoded (bf16, which the frontend cannot read)."""
    entry = registry.get("Const")
    if entry is None or entry.lower is None:
        return list(new_nodes)
    result = []
    for node in new_nodes:
        lowered = entry.lower(node, {}) if node.op == "Const" else None
        result.extend(lowered.nodes if lowered is not None else [node])
    return result


def _const_view(name, value):
    """A Const NodeDef holding `value` (only shown to `lower` functions, never emitted)."""
    from tensorflow.core.framework import node_def_pb2
    from tensorflow.python.framework import tensor_util

    node = node_def_pb2.NodeDef(name=name, op="Const")
    tensor = tensor_util.make_tensor_proto(value)
    node.attr["value"].tensor.CopyFrom(tensor)
    node.attr["dtype"].type = tensor.dtype
    return node
