"""Graphs saved by OVTF 2.x: its `_nGraphEncapsulate` clusters are opened back into TF ops.

OVTF rewrote a graph by moving each cluster's nodes into a function of the graph's library
and putting one `_nGraphEncapsulate` node in their place (attrs `Targuments`, `Tresults`,
`ovtf_cluster`, `ngraph_graph_id`). A graph dumped after that rewrite (OVTF's own test
suite ships one) holds an op only OVTF's kernel could run. ovtf registers the op
(`_native.register_ovtf2_cluster_op`, so such a graph can be imported at all) and, before
anything else, `inline` puts the function's nodes back into the graph: the partitioner then
clusters them like any other nodes, and with ovtf disabled TensorFlow runs them itself.

    tag_functions(tf_graph)            # before a Session runs it (openvino_tensorflow does)
    graph_def = inline(graph_def)      # in the grappler pass; the same object if nothing to do

The function of a node is the library function named `ovtf_cluster_<ovtf_cluster>` (OVTF's
naming), else the one named like the node. Nothing in the node refers to it, so the graph
TensorFlow hands grappler lacks it (a Session keeps only reachable functions, and even a
reachable one arrives without its body): `tag_functions` copies each such node's
FunctionDef, serialized, into a string attr `_ovtf_function` of the node. Inlined, its nodes are renamed `<node>/<name>`; an
`IdentityN` under the node's own name outputs the function's results in order, so
`node:k` and `^node` keep their meaning for every consumer and fetch. A node whose function
is missing is left alone: it reaches its kernel, which fails naming it (never a wrong result).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("ovtf")

OP = "_nGraphEncapsulate"
FUNCTION_ATTR = "_ovtf_function"
_OVTF_ATTRS = ("_ovtf_cluster", "_ovtf_marked_for_clustering")   # OVTF's marks on body nodes


def has_clusters(graph_def) -> bool:
    return any(node.op == OP for node in graph_def.node)


def inline(graph_def):
    if not has_clusters(graph_def):
        return graph_def
    from tensorflow.core.framework import graph_pb2

    functions = {function.signature.name: function for function in graph_def.library.function}
    result = graph_pb2.GraphDef()
    result.CopyFrom(graph_def)
    del result.node[:]
    for node in graph_def.node:
        function = _function_of(node, functions) if node.op == OP else None
        if function is None:
            if node.op == OP:
                logger.warning("ovtf: %s node %r carries no function and the graph's library "
                               "has none for it (import openvino_tensorflow before creating "
                               "the Session); it cannot run", OP, node.name)
            result.node.add().CopyFrom(node)
            continue
        result.node.extend(_open(node, function))
    return result   # the library keeps the functions: unused, harmless


def tag_functions(graph) -> int:
    """Give every untagged OVTF 2.x cluster op of the `tf.Graph` its function, serialized, as
    the attr `_ovtf_function`, so that the function reaches grappler with the node. Returns
    how many ops were tagged."""
    from tensorflow.core.framework import attr_value_pb2

    untagged = [op for op in graph.get_operations()
                if op.type == OP and FUNCTION_ATTR not in op.node_def.attr]
    if not untagged:
        return 0
    functions = {function.signature.name: function
                 for function in graph.as_graph_def().library.function}
    tagged = 0
    for op in untagged:
        function = _function_of(op.node_def, functions)
        if function is None:
            continue    # its kernel fails naming it
        op._set_attr(FUNCTION_ATTR, attr_value_pb2.AttrValue(s=function.SerializeToString()))
        tagged += 1
    return tagged


def _function_of(node, functions):
    """The node's FunctionDef: the one it carries (`tag_functions`), else by OVTF's naming."""
    if FUNCTION_ATTR in node.attr:
        from tensorflow.core.framework import function_pb2

        return function_pb2.FunctionDef.FromString(node.attr[FUNCTION_ATTR].s)
    return functions.get(f"ovtf_cluster_{node.attr['ovtf_cluster'].i}") or functions.get(node.name)


def _open(node, function) -> list:
    """The function's nodes under `node.name/`, fed by `node`'s inputs, and an IdentityN
    named `node.name` that outputs its results."""
    from tensorflow.core.framework import node_def_pb2
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

    body, flat_names = function_def_to_graph_def(function)
    arguments = [arg.name for arg in function.signature.input_arg]
    data_inputs = [name for name in node.input if not name.startswith("^")]
    controls = [name for name in node.input if name.startswith("^")]
    if len(data_inputs) != len(arguments):
        raise ValueError(f"{OP} node {node.name!r}: {len(data_inputs)} inputs for "
                         f"{len(arguments)} arguments of {function.signature.name!r}")
    feeds = dict(zip(arguments, data_inputs))
    prefix = node.name + "/"

    def renamed(tensor: str) -> str:
        control = tensor.startswith("^")
        name = tensor[1:] if control else tensor
        base, _, port = name.partition(":")
        if base in feeds:                        # an argument: the outer node's input
            outer = feeds[base]
            return "^" + outer.partition(":")[0] if control else outer
        name = prefix + name
        return "^" + name.partition(":")[0] if control else name

    nodes = []
    for inner in body.node:
        if inner.name in feeds:                  # the argument placeholders
            continue
        opened = node_def_pb2.NodeDef()
        opened.CopyFrom(inner)
        opened.name = prefix + inner.name
        del opened.input[:]
        opened.input.extend(renamed(tensor) for tensor in inner.input)
        opened.input.extend(controls)
        for attr in _OVTF_ATTRS:
            opened.attr.pop(attr, None)
        if not opened.device:
            opened.device = node.device
        nodes.append(opened)

    results = node_def_pb2.NodeDef(name=node.name, op="IdentityN", device=node.device)
    for output in function.signature.output_arg:
        results.input.append(renamed(flat_names[function.ret[output.name]]))
    results.input.extend(controls)
    results.attr["T"].list.type.extend(node.attr["Tresults"].list.type)
    nodes.append(results)
    return nodes

