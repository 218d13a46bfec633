"""Graph partitioner: mark, cluster, encapsulate, explain.

    result = rewrite(graph_def, fetch, preserve, backend="CPU", disabled_ops=frozenset(),
                     min_cluster_size=2)
    result.graph_def    # the rewritten GraphDef (None result: leave the graph unchanged)
    result.report       # PlacementReport; report.format_summary(verbose=1 or 2)

    explain(graph_def, fetch, preserve, backend=..., ...)  -> PlacementReport (no rewrite)

Steps: `ovtf.ocm.mark` decides per node; `clustering.form_clusters` groups marked nodes into
maximal cycle-free clusters inside one frame/branch and device, with static inputs computable
inside; `encapsulate` replaces each cluster by an `OVTFCluster` node (ovtf/runtime/spec.py).

Decisions:
* Fetched and preserved nodes stay in TensorFlow (reason PRESERVED). Their inputs can still
  be clustered, and the names TF looks up (fetches, feeds, _Retval inputs) keep meaning
  exactly what they meant: re-emitting an Identity under the original name would break a
  feed of that name (members inside the cluster would not see the fed value).
* Control flow: the frame primitives (Enter/Exit/Switch/Merge/NextIteration/LoopCond) stay
  in TF; the nodes inside a loop body or a cond branch are clustered, but only with nodes of
  the same frame and the same branch decisions (reason FRAME), so a cluster runs exactly
  when and as often as each of its members did.
* Static inputs must be computable inside the cluster (see clustering.py); Consts are copied
  into every cluster that reads them.
* A graph that already contains an OVTFCluster or an ovtf fallback node is left alone (the
  optimizer runs twice per graph), as is a graph whose structure we don't understand
  (dangling inputs, duplicate names, cycles other than loop back edges).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from ovtf.partitioner import clustering, encapsulate
from ovtf.partitioner.graph import GraphView, control_flow_contexts, is_compute, parse_input
from ovtf.partitioner.report import ClusterInfo, NodePlacement, PlacementReport
from ovtf.runtime import spec

logger = logging.getLogger("ovtf")

__all__ = ["rewrite", "explain", "RewriteResult", "PlacementReport", "NodePlacement",
           "ClusterInfo", "already_rewritten"]

CLUSTER_PREFIX = "ovtf_cluster_"


@dataclass
class RewriteResult:
    graph_def: object
    report: PlacementReport


def already_rewritten(graph_def) -> bool:
    return any(node.op == spec.CLUSTER_OP or spec.FALLBACK_ATTR in node.attr
               for node in graph_def.node)


def rewrite(graph_def, fetch, preserve, *, backend: str, disabled_ops=frozenset(),
            min_cluster_size: int = 2):
    """Rewrite `graph_def` with OVTFCluster nodes; None to leave it unchanged."""
    if already_rewritten(graph_def):
        return None
    plan = _plan(graph_def, fetch, preserve, backend, disabled_ops, min_cluster_size)
    if plan is None or not plan.built:
        return None
    view, built, keep, report = plan.view, plan.built, plan.keep, plan.report
    return RewriteResult(encapsulate.rewrite_graph(view, built, keep), report)


def explain(graph_def, fetch=(), preserve=(), *, backend: str, disabled_ops=frozenset(),
            min_cluster_size: int = 2) -> PlacementReport:
    """The placement `rewrite` would choose, without rewriting."""
    plan = _plan(graph_def, fetch, preserve, backend, disabled_ops, min_cluster_size)
    return plan.report if plan is not None else PlacementReport()


@dataclass
class _Plan:
    view: GraphView
    built: list
    keep: set
    report: PlacementReport


def _plan(graph_def, fetch, preserve, backend, disabled_ops, min_cluster_size):
    from ovtf import ocm
    try:
        view = GraphView(graph_def)
    except ValueError as error:
        logger.warning("ovtf: leaving a graph unchanged: %s", error)
        return None
    order = view.topological_order()
    if order is None:
        logger.warning("ovtf: leaving a graph unchanged: it has a cycle that is not a loop")
        return None
    keep = {parse_input(name)[0] for name in list(fetch) + list(preserve)}
    marks = ocm.mark(graph_def, backend, keep, frozenset(disabled_ops))
    contexts = control_flow_contexts(view, order)

    candidates, static_inputs = set(), {}
    for name in order:
        node = view.nodes[name]
        if not marks[name].supported or node.op == "Const":
            continue
        candidates.add(name)
        capability = ocm.get_capability(node.op)
        if capability is not None and capability.static_inputs:
            static_inputs[name] = capability.static_input_indices(len(view.data_inputs[name]))
    partition = clustering.form_clusters(view, order, contexts, candidates, static_inputs,
                                         min_cluster_size)

    taken = set(view.nodes)
    built, node_reasons = [], dict(partition.node_reasons)
    for members in partition.clusters:
        name = _unique_name(taken, len(built))
        try:
            built.append(encapsulate.build_cluster(view, members, name, keep))
        except encapsulate.EncapsulationError as error:
            logger.info("ovtf: not clustering %d nodes (%s)", len(members), error)
            for member in members:
                node_reasons[member] = "ENCAPSULATION"
            taken.discard(name)
    report = _report(view, order, marks, built, node_reasons, partition.edge_reasons)
    return _Plan(view, built, keep, report)


def _unique_name(taken: set, index: int) -> str:
    name = f"{CLUSTER_PREFIX}{index}"
    suffix = 0
    while name in taken:
        suffix += 1
        name = f"{CLUSTER_PREFIX}{index}_{suffix}"
    taken.add(name)
    return name


def _report(view, order, marks, built, node_reasons, edge_reasons) -> PlacementReport:
    report = PlacementReport()
    owner = {member: cluster.name for cluster in built for member in cluster.members}
    for name in order:
        op = view.nodes[name].op
        compute = is_compute(op)
        mark = marks[name]
        cluster = owner.get(name)
        reason = detail = None
        if cluster is None:
            if not mark.supported:
                reason, detail = mark.reason, mark.detail
            elif name in node_reasons:
                reason = node_reasons[name]
            elif compute:
                reason = clustering.CLUSTER_TOO_SMALL
            if op == "Const" and mark.supported:
                reason = None  # copied into the clusters that read it, if any
        report.placement[name] = NodePlacement(op, cluster, reason, detail, compute)
        if compute:
            report.ops_total += 1
            report.ops_marked += mark.supported
            report.ops_clustered += cluster is not None
    for cluster in built:
        ops = [view.nodes[m].op for m in cluster.members]
        report.clusters.append(ClusterInfo(
            name=cluster.name, size=sum(1 for op in ops if is_compute(op)),
            members=list(cluster.members), op_types=Counter(ops)))
    # Every data edge between two marked compute-side nodes that did not end up in one
    # cluster gets a reason: the contraction's (CYCLE/FRAME/DEVICE), else the node rule
    # that took one end out (STATIC_INPUT, CLUSTER_TOO_SMALL, ...).
    for dst in order:
        if not marks[dst].supported or view.nodes[dst].op == "Const":
            continue
        for src, _ in view.data_inputs[dst]:
            if not marks[src].supported or view.nodes[src].op == "Const":
                continue
            if owner.get(src) is not None and owner.get(src) == owner.get(dst):
                continue
            reason = (node_reasons.get(dst) if node_reasons.get(dst) == clustering.STATIC_INPUT
                      else node_reasons.get(src) if node_reasons.get(src) == clustering.STATIC_INPUT
                      else edge_reasons.get((src, dst))
                      or node_reasons.get(dst) or node_reasons.get(src))
            if reason:
                report.edge_reasons[(src, dst)] = reason
    return report
