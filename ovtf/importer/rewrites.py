"""GraphDef rewrites of public ops the OpenVINO TensorFlow frontend converts only in part.

    rewrite_graph(graph_def) -> graph_def   (a copy when something changed, else the same one)

* ReverseV2 with several axes: the frontend (2026.4) accepts exactly one axis ("Check
  'axes.size() == 1' failed at .../op/reverse.cpp"), so a node whose axis is a Const with
  several entries becomes a chain of single-axis ReverseV2 nodes (reversing along several
  axes is the same as reversing along each in turn). The last node of the chain keeps the
  original name, so consumers are unchanged.
"""

from __future__ import annotations


def _const_value(node):
    from tensorflow.python.framework import tensor_util
    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def _multi_axis_reverse(node, by_name):
    if node.op != "ReverseV2" or len(node.input) < 2:
        return None
    axis_node = by_name.get(node.input[1].split(":")[0])
    if axis_node is None or axis_node.op != "Const":
        return None
    axes = _const_value(axis_node).reshape(-1)
    return [int(a) for a in axes] if axes.size > 1 else None


def rewrite_graph(graph_def):
    by_name = {node.name: node for node in graph_def.node}
    plans = {}
    for node in graph_def.node:
        axes = _multi_axis_reverse(node, by_name)
        if axes is not None:
            plans[node.name] = axes
    if not plans:
        return graph_def
    from tensorflow.core.framework import attr_value_pb2, graph_pb2, node_def_pb2
    from tensorflow.python.framework import tensor_util
    import numpy as np

    result = graph_pb2.GraphDef()
    result.versions.CopyFrom(graph_def.versions)
    result.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.name not in plans:
            result.node.append(node)
            continue
        axis_dtype = node.attr["Tidx"].type if "Tidx" in node.attr else 3  # DT_INT32
        controls = [name for name in node.input if name.startswith("^")]
        current = node.input[0]
        axes = plans[node.name]
        for index, axis in enumerate(axes):
            last = index == len(axes) - 1
            prefix = f"{node.name}/_ovtf_reverse_{index}"
            const = node_def_pb2.NodeDef(name=f"{prefix}_axis", op="Const", device=node.device)
            tensor = tensor_util.make_tensor_proto(
                np.array([axis], dtype=np.int64 if axis_dtype == 9 else np.int32))
            const.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=tensor))
            const.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=tensor.dtype))
            const.input.extend(controls)
            reverse = node_def_pb2.NodeDef()
            reverse.CopyFrom(node)
            reverse.name = node.name if last else prefix
            del reverse.input[:]
            reverse.input.extend([current, const.name] + controls)
            result.node.extend([const, reverse])
            current = reverse.name
    return result
