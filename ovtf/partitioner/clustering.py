"""Cluster formation: maximal groups of marked nodes that can become one OVTFCluster node.

Rules (each non-merged edge between two marked nodes records why, for the report):

* Only data edges are contracted; control edges only constrain the order (cycle checks).
* FRAME   the two ends run in different loop frames or under different branch decisions
          (see `graph.control_flow_contexts`); merging them would change how often, or
          whether, a member runs.
* DEVICE  the two ends have different TensorFlow device strings.
* CYCLE   contracting the edge would create a cycle through a node left in TensorFlow, in
          the graph `graph.cycle_graph` builds: loops are seen as a whole from outside, so a
          value that goes through a loop (back edge included) and comes back counts.
* Const nodes are never contracted: each cluster gets its own copy of every Const it reads
  (weights frozen as constants become constants of the compiled model), except a pinned
  Const (`pinned`: preserved, e.g. fed by a Session), which is an input from outside.
* STATIC_INPUT: an input the device needs as a value when compiling (an entry's
  `static_inputs`: shapes, axes, paddings, permutations, sizes) must be computable inside
  the cluster: an unpinned Const, or a member computed only from Consts and shape queries
  (Shape/ShapeN/Size/Rank) of tensors -- or, when the backend's compile policy bakes them
  (`CompilePolicy.bakes_from_outside`), an integer/bool tensor straight from outside the
  cluster, which the runtime compiles once per value (a fed `tf.pad` paddings, NMS's max
  size). A node whose static input is not is taken out of the candidates (node reason
  STATIC_INPUT) and clustering starts over; each round removes a node, so this ends.
  Static-input edges are contracted first, so a shape computation and its consumer end up
  together whenever that is legal.
* CLUSTER_TOO_SMALL: clusters with fewer compute ops than `min_cluster_size` stay in TF.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ovtf.partitioner.cycles import GraphCycles
from ovtf.partitioner.graph import SHAPE_OPS, cycle_graph, is_compute

logger = logging.getLogger("ovtf")

CYCLE = "CYCLE"
FRAME = "FRAME"
DEVICE = "DEVICE"
STATIC_INPUT = "STATIC_INPUT"
CLUSTER_TOO_SMALL = "CLUSTER_TOO_SMALL"


@dataclass
class Partition:
    clusters: list                      # [[member names in topological order]]
    node_reasons: dict = field(default_factory=dict)   # candidate -> reason it was dropped
    edge_reasons: dict = field(default_factory=dict)   # (src, dst) -> reason not merged
    small_clusters: list = field(default_factory=list)  # compute sizes of the dropped ones


def form_clusters(view, order, contexts, candidates: set, policy, min_cluster_size: int,
                  cycle=None, pinned=frozenset()) -> Partition:
    """`candidates`: marked non-Const nodes. `policy`: the backend's compile policy
    (`ovtf.ocm.policy.CompilePolicy`: which inputs are static, which are baked from outside).
    `cycle`: `graph.cycle_graph(view, order, contexts)` (built here when None; the caller
    checks it is not None). `pinned`: Consts whose value may be fed (not known when
    compiling)."""
    candidates = set(candidates)
    static_inputs = {}      # name -> [input indices]
    for name in candidates:
        positions = policy.static_inside_cluster(view.nodes[name], len(view.data_inputs[name]))
        if positions:
            static_inputs[name] = positions
    if cycle is None:
        cycle = cycle_graph(view, order, contexts)
    node_reasons = {}
    while True:
        clusters, edge_reasons = _contract(view, order, contexts, candidates, static_inputs,
                                           cycle)
        rejected = _static_input_violations(view, clusters, static_inputs, policy, pinned)
        if not rejected:
            break
        for name in rejected:
            node_reasons[name] = STATIC_INPUT
            candidates.discard(name)
    kept, small = [], []
    for members in clusters:
        compute = sum(1 for name in members if is_compute(view.nodes[name].op))
        if compute >= max(1, min_cluster_size):
            kept.append(members)
        else:
            if compute:
                small.append(compute)
            for name in members:
                node_reasons[name] = CLUSTER_TOO_SMALL
    position = {name: i for i, name in enumerate(order)}
    kept.sort(key=lambda members: position[members[0]])
    return Partition(kept, node_reasons, edge_reasons, sorted(small, reverse=True))


def _contract(view, order, contexts, candidates, static_inputs, cycle):
    nodes, predecessors = cycle
    index = {node: i for i, node in enumerate(nodes)}
    cycles = GraphCycles(len(nodes))
    for node in nodes:
        for src in predecessors[node]:
            cycles.add_edge(index[src], index[node])

    parent = list(range(len(nodes)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Data edges between candidates: static-input edges first, then in topological order.
    static_edges, other_edges = [], []
    for name in order:
        if name not in candidates:
            continue
        static = set(static_inputs.get(name, ()))
        for position_, (src, _) in enumerate(view.data_inputs[name]):
            if src in candidates:
                (static_edges if position_ in static else other_edges).append((src, name))
    edges = static_edges + other_edges

    edge_reasons = {}
    changed = True
    while changed:
        changed = False
        for src, dst in edges:
            a, b = find(index[src]), find(index[dst])
            if a == b:
                continue
            if contexts[src] != contexts[dst]:
                edge_reasons[(src, dst)] = FRAME
                continue
            if view.nodes[src].device != view.nodes[dst].device:
                edge_reasons[(src, dst)] = DEVICE
                continue
            # The representatives are joined by an edge (src->dst moved with the merges).
            first, second = (a, b) if b in cycles.out[a] else (b, a)
            survivor = cycles.contract(first, second)
            if survivor is None:
                edge_reasons[(src, dst)] = CYCLE
                continue
            other = second if survivor == first else first
            parent[other] = survivor
            edge_reasons.pop((src, dst), None)
            changed = True

    groups = {}
    for name in order:
        if name in candidates:
            groups.setdefault(find(index[name]), []).append(name)
    # Edges whose ends ended up together after all (a later merge joined them) need no reason.
    edge_reasons = {edge: reason for edge, reason in edge_reasons.items()
                    if find(index[edge[0]]) != find(index[edge[1]])}
    return list(groups.values()), edge_reasons


def _static_input_violations(view, clusters, static_inputs, policy, pinned=frozenset()) -> list:
    rejected = []
    for members in clusters:
        inside = set(members)
        memo = {}
        for name in members:
            data = view.data_inputs[name]
            for position in static_inputs.get(name, ()):
                src, port = data[position]
                if (src not in inside and (view.nodes[src].op != "Const" or src in pinned)
                        and policy.bakes_from_outside(view.dtype_of(src, port))):
                    continue
                if not _is_static(view, src, inside, memo, pinned):
                    rejected.append(name)
                    break
    return rejected


def _is_static(view, name, inside, memo, pinned=frozenset()) -> bool:
    """Is this node's value known when the cluster is compiled for concrete input shapes?
    (A pinned Const is not: a Session may feed it another value.)"""
    if name in memo:
        return memo[name]
    memo[name] = False  # guards against revisiting while in progress
    node = view.nodes[name]
    if node.op == "Const" and name not in pinned:
        result = True
    elif node.op == "Const":
        result = False
    elif name not in inside:
        result = False
    elif node.op in SHAPE_OPS:
        result = True
    else:
        result = all(_is_static(view, src, inside, memo, pinned)
                     for src, _ in view.data_inputs[name])
    memo[name] = result
    return result
