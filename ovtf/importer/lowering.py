"""Apply the registry's pre-lowering rewrites (`Capability.lower`) to a cluster's GraphDef.

    lower_graph(graph_def) -> graph_def   (a copy when something changed, else the same one)

Each node whose entry has a `lower` is replaced by the nodes it returns; consumers of its
other outputs are pointed at the tensors that now provide them. A `lower` that refuses a
node it was registered for (ValueError) fails the import with that message.
"""

from __future__ import annotations

from ovtf.ocm import registry


def lower_graph(graph_def):
    nodes = {node.name: node for node in graph_def.node}
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
        result.node.extend(lowered.nodes)
        for port, tensor in lowered.outputs.items():
            renames[f"{node.name}:{port}"] = tensor
    if renames:
        for node in result.node:
            for position, name in enumerate(node.input):
                if name in renames:
                    node.input[position] = renames[name]
    return result
