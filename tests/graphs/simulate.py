"""Run a rewritten graph without the native OVTFCluster kernel, by inlining each cluster.

`inline_clusters(graph_def)` replaces every OVTFCluster node `C` by the nodes of its
`cluster_graph`, renamed `C/<name>`: `ovtf_arg_i` becomes an Identity of the cluster's i-th
input, outside readers of `C:j` read `C/ovtf_ret_j`, and a NoOp named `C` (depending on
every inlined node) keeps `^C` control edges meaningful. The cluster's control inputs go
to every inlined node without data inputs, so Consts stay in the right loop frame.
If the rewrite is semantically right, the inlined graph computes exactly what the original
did: `run(graph_def, fetches, feeds)` runs either in a TF1 Session.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from ovtf.partitioner.graph import parse_input, tensor_ref
from ovtf import spec


def inline_clusters(graph_def):
    clusters = {node.name: node for node in graph_def.node if node.op == spec.CLUSTER_OP}
    result = graph_pb2.GraphDef()
    result.versions.CopyFrom(graph_def.versions)
    result.library.CopyFrom(graph_def.library)

    def outer_ref(text):
        src, port, is_control = parse_input(text)
        if src in clusters and not is_control:
            return f"{src}/{spec.ret_name(port)}"
        return text

    for node in graph_def.node:
        if node.name not in clusters:
            copy = result.node.add()
            copy.CopyFrom(node)
            del copy.input[:]
            copy.input.extend(outer_ref(text) for text in node.input)
            continue
        sub = graph_pb2.GraphDef.FromString(node.attr["cluster_graph"].s)
        data = [outer_ref(t) for t in node.input if not t.startswith("^")]
        control = [t for t in node.input if t.startswith("^")]
        prefix = node.name + "/"
        names = []
        for inner in sub.node:
            copy = result.node.add()
            copy.CopyFrom(inner)
            copy.name = prefix + inner.name
            copy.device = node.device
            names.append(copy.name)
            del copy.input[:]
            if inner.name.startswith(spec.ARG_PREFIX):
                index = int(inner.name[len(spec.ARG_PREFIX):])
                copy.op = "Identity"
                dtype = inner.attr["dtype"].type
                copy.ClearField("attr")
                copy.attr["T"].type = dtype
                copy.input.append(data[index])
            else:
                for text in inner.input:
                    src, port, is_control = parse_input(text)
                    copy.input.append(("^" if is_control else "") + prefix + tensor_ref(src, port)
                                      if not is_control else "^" + prefix + src)
            if not any(not t.startswith("^") for t in copy.input):
                copy.input.extend(control)
        anchor = result.node.add(name=node.name, op="NoOp", device=node.device)
        anchor.input.extend("^" + name for name in names)
    return result


def run(graph_def, fetches, feeds=None):
    """Run `graph_def` in a fresh TF1 session; `feeds` maps tensor names to numpy arrays."""
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        names = [f if ":" in f else f + ":0" for f in fetches]
        feed = {(k if ":" in k else k + ":0"): v for k, v in (feeds or {}).items()}
        return [np.asarray(value) for value in session.run(names, feed)]
