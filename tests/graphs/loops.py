"""Deadlock check on a rewritten GraphDef, written independently of the partitioner.

`self_reaching_clusters(graph_def)`: the OVTFCluster nodes that can reach themselves within
one iteration of their own frame, i.e. would wait for their own output. Every data and control
edge is followed, loop back edges (NextIteration -> Merge) included, except a back edge of the
cluster's own loop or of a loop around it: that value belongs to a later iteration, a later
call of the cluster. A loop is also taken as a whole from outside (every Enter of a frame
reaches every Exit of it): TensorFlow's executor does not finish a frame's first iteration
before all its Enters have fired, so a cluster that feeds a loop and reads its result waits
for itself once the loop runs more than `parallel_iterations` times.
"""

from __future__ import annotations

from ovtf import spec
from ovtf.partitioner.graph import parse_input


def frames(graph_def) -> dict:
    """name -> tuple of enclosing loop frame names (an independent, simple computation)."""
    nodes = {node.name: node for node in graph_def.node}
    memo = {}

    def frame(name):
        if name in memo:
            return memo[name]
        memo[name] = ()  # a back edge reached again: overwritten by the real answer below
        node = nodes[name]
        sources = [parse_input(t)[0] for t in node.input]
        if node.op in ("Merge", "RefMerge"):
            sources = [s for s in sources if nodes[s].op not in ("NextIteration", "RefNextIteration")]
        parent = frame(sources[0]) if sources else ()
        if node.op in ("Enter", "RefEnter"):
            result = parent + (node.attr["frame_name"].s.decode(),)
        elif node.op in ("Exit", "RefExit"):
            result = parent[:-1]
        else:
            result = parent
        memo[name] = result
        return result

    return {name: frame(name) for name in nodes}


def self_reaching_clusters(graph_def) -> list:
    """Cluster nodes that can reach themselves within one iteration of their own frame."""
    nodes = {node.name: node for node in graph_def.node}
    frames_of = frames(graph_def)
    successors = {name: set() for name in nodes}
    for node in graph_def.node:
        for text in node.input:
            successors[parse_input(text)[0]].add(node.name)
    enters, exits = {}, {}
    for node in graph_def.node:
        if node.op in ("Enter", "RefEnter"):
            enters.setdefault(frames_of[node.name], []).append(node.name)
        elif node.op in ("Exit", "RefExit"):
            exits.setdefault(frames_of[parse_input(node.input[0])[0]], []).append(node.name)
    for frame, names in enters.items():
        for enter in names:
            successors[enter].update(exits.get(frame, ()))
    bad = []
    for cluster in (n.name for n in graph_def.node if n.op == spec.CLUSTER_OP):
        own = frames_of[cluster]
        stack, seen = [cluster], {cluster}
        while stack:
            name = stack.pop()
            for nxt in successors[name]:
                if (nodes[name].op in ("NextIteration", "RefNextIteration")
                        and own[:len(frames_of[name])] == frames_of[name]):
                    continue  # the next iteration of this cluster's loop (or an enclosing one)
                if nxt == cluster:
                    bad.append(cluster)
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return bad
