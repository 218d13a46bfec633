"""Graph partitioner: mark, cluster, encapsulate, explain.

    support = ovtf.backends.get("CPU").operator_support()   # the caller chooses the backend
    result = rewrite(graph_def, fetch, preserve, support=support, disabled_ops=frozenset(),
                     min_cluster_size=16, training_graphs=False)
    result.graph_def    # the rewritten GraphDef, or None: leave the graph unchanged
    result.report       # PlacementReport (always; .left_alone_reason when unchanged)

    explain(graph_def, fetch, preserve, support=..., ...)  -> PlacementReport (no rewrite)

Steps: `ovtf.ocm.judge_graph` decides about the whole graph first: a training step
(gradient or optimizer-update ops) is left alone (reason TRAINING, its ops in
`left_alone_detail`) unless `training_graphs=True` (the hook passes the user's setting,
`ovtf.enable_training_graphs()`). Then `ovtf.ocm.mark` decides per node (the generic rules chained around the operator
support it is handed: the partitioner knows no backend by name); `clustering.form_clusters`
groups marked nodes into maximal cycle-free clusters inside one frame/branch and device, with
static inputs computable inside; a cluster whose input signature the support refuses
(`support.policy().judge_inputs`, e.g. dynamic shapes on a static-shape device) stays in TF (reason
SHAPE); `encapsulate` replaces each cluster by an `OVTFCluster` node (ovtf/spec.py) that
records `support.target`, the backend it is for.

Decisions:
* Fetched compute nodes are clustered like any other: the cluster outputs every port of a fetched
  member, and an `IdentityN` under the member's name passes them on, so `name:k` still
  means what the caller fetched (a TF1 `sess.run(logits)` fetches the compute node itself,
  and a fetched intermediate no longer splits its chain). Other preserved nodes (feeds,
  init and keep ops: the preserve list minus the fetches) stay in TensorFlow (reason
  PRESERVED), so a fed intermediate keeps feeding its consumers the fed value. Grappler's C
  API does not say which preserved nodes are feeds, so a node that is fed *and* fetched in
  the same run is treated as fetched: its consumers inside the cluster see the computed
  value, not the fed one (feeding and fetching one tensor in one run is the only case).
  Nodes with reference-typed outputs stay in TF (DTYPE), nodes without outputs are never
  compute nodes.
* Control flow: the frame primitives (Enter/Exit/Switch/Merge/NextIteration/LoopCond) stay
  in TF; the nodes inside a loop body or a cond branch are clustered, but only with nodes of
  the same frame and the same branch decisions (reason FRAME), so a cluster runs exactly
  when and as often as each of its members did.
* Static inputs must be computable inside the cluster (see clustering.py); Consts are copied
  into every cluster that reads them, except preserved ones (a Session may feed any Const:
  TF's gradient checker does), which clusters read as inputs, so a fed value is used.
* Loops: a cluster may not both feed a loop and read its result (`graph.cycle_graph`).
* Every rewrite is checked before it is handed back (`encapsulate.validate`: each input
  resolves, no cluster waits for itself); one that fails is discarded with a warning and
  the graph counted as left alone, reason INVALID_REWRITE ("invalid_rewrite" in
  `ovtf.stats()["left_alone_reasons"]`), never as clusters that would silently not run.
* A graph that already contains an OVTFCluster or an ovtf fallback node is left alone (the
  optimizer runs twice per graph), as is a graph whose structure we don't understand
  (dangling inputs, duplicate names, cycles other than loop back edges).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from ovtf import ocm
from ovtf.config import DEFAULT_MIN_CLUSTER_SIZE
from ovtf.partitioner import clustering, encapsulate
from ovtf.partitioner import report as report_module
from ovtf.partitioner.graph import (GraphView, control_flow_contexts, cycle_graph, is_compute,
                                    parse_input)
from ovtf.partitioner.report import ClusterInfo, NodePlacement, PlacementReport
from ovtf import spec

logger = logging.getLogger("ovtf")

SHAPE = ocm.support.SHAPE   # a cluster's input signature the backend refuses

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


def rewrite(graph_def, fetch, preserve, *, support, disabled_ops=frozenset(),
            min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE, training_graphs: bool = False):
    """Rewrite `graph_def` with OVTFCluster nodes. Always a RewriteResult: `.graph_def` is
    None when the graph stays unchanged, and `.report.left_alone_reason` then says why."""
    if already_rewritten(graph_def):
        return RewriteResult(None, report_module.unplanned(graph_def, report_module.ALREADY_REWRITTEN))
    plan = _plan(graph_def, fetch, preserve, support, disabled_ops, min_cluster_size,
                 training_graphs)
    if not plan.built:
        return RewriteResult(None, plan.report)
    view, built, keep, report = plan.view, plan.built, plan.keep, plan.report
    rewritten = encapsulate.rewrite_graph(view, built, keep)
    problem = encapsulate.validate(rewritten)
    if problem:
        # TF would throw such a rewrite away (and run the graph stock) while the clusters
        # were counted: hand nothing back and count the graph as left alone, saying why.
        logger.warning("ovtf: discarding an invalid rewrite, the graph stays in TensorFlow: %s",
                       problem)
        return RewriteResult(None, report_module.unplanned(
            graph_def, report_module.INVALID_REWRITE, problem))
    return RewriteResult(rewritten, report)


def explain(graph_def, fetch=(), preserve=(), *, support, disabled_ops=frozenset(),
            min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE,
            training_graphs: bool = False) -> PlacementReport:
    """The placement `rewrite` would choose, without rewriting."""
    plan = _plan(graph_def, fetch, preserve, support, disabled_ops, min_cluster_size,
                 training_graphs)
    return plan.report


@dataclass
class _Plan:
    view: GraphView
    built: list
    keep: set
    report: PlacementReport


def _plan(graph_def, fetch, preserve, support, disabled_ops, min_cluster_size,
          training_graphs=False):
    verdict = ocm.judge_graph(graph_def, support, training_graphs)
    if not verdict.supported:
        logger.debug("ovtf: leaving a graph unchanged: %s", verdict.detail)
        reason = (report_module.TRAINING if verdict.reason == ocm.support.TRAINING
                  else report_module.REFUSED)
        return _Plan(None, [], set(), report_module.unplanned(graph_def, reason, verdict.detail))
    try:
        view = GraphView(graph_def)
    except ValueError as error:
        logger.warning("ovtf: leaving a graph unchanged: %s", error)
        return _Plan(None, [], set(), report_module.unplanned(
            graph_def, report_module.NOT_UNDERSTOOD, str(error)))
    order = view.topological_order()
    if order is None:
        logger.warning("ovtf: leaving a graph unchanged: it has a cycle that is not a loop")
        return _Plan(None, [], set(), report_module.unplanned(
            graph_def, report_module.NOT_UNDERSTOOD, "a cycle that is not a loop"))
    # fetched compute nodes may join clusters; a fetched Identity only holds a name
    fetched = {name for name in (parse_input(text)[0] for text in fetch)
               if name in view.nodes and is_compute(view.nodes[name].op)}
    pinned = {parse_input(name)[0] for name in list(preserve) + list(fetch)} - fetched
    keep = fetched | pinned
    marks = ocm.mark(graph_def, support, pinned, frozenset(disabled_ops))
    contexts = control_flow_contexts(view, order)
    cycle = cycle_graph(view, order, contexts)
    if cycle is None:
        logger.warning("ovtf: leaving a graph unchanged: a loop's output feeds that loop again")
        return _Plan(None, [], set(), report_module.unplanned(
            graph_def, report_module.NOT_UNDERSTOOD, "a loop's output feeds that loop again"))

    candidates = {name for name in order
                  if marks[name].supported and view.nodes[name].op != "Const"}
    policy = support.policy()
    partition = clustering.form_clusters(view, order, contexts, candidates, policy,
                                         min_cluster_size, cycle=cycle, pinned=pinned)

    taken = set(view.nodes)
    built, node_reasons, node_details = [], dict(partition.node_reasons), {}
    for members in partition.clusters:
        try:
            cluster = encapsulate.build_cluster(view, members, CLUSTER_PREFIX, keep,
                                                support.target)
        except encapsulate.EncapsulationError as error:
            logger.info("ovtf: not clustering %d nodes (%s)", len(members), error)
            for member in members:
                node_reasons[member] = "ENCAPSULATION"
            continue
        problem = policy.judge_inputs(cluster.signature)
        if problem:
            logger.info("ovtf: not clustering %d nodes on %s: %s", len(members),
                        support.target or "the backend", problem)
            for member in members:
                node_reasons[member] = SHAPE
                node_details[member] = problem
            continue
        encapsulate.rename(cluster, _unique_name(taken, len(built), cluster.digest))
        built.append(cluster)
    report = _report(view, order, marks, built, node_reasons, node_details,
                     partition.edge_reasons)
    report.min_cluster_size, report.small_clusters = min_cluster_size, partition.small_clusters
    report.left_alone_reason = report_module.left_alone_reason(report, min_cluster_size)
    return _Plan(view, built, keep, report)


def _unique_name(taken: set, index: int, digest: str) -> str:
    """`ovtf_cluster_<index>_<digest of its content>`: a TF1 Session keeps one kernel per
    stateful node *name* across all the graphs it runs (its OpSegment), so two different
    clusters must never share a name, even in two graphs of one session."""
    name = f"{CLUSTER_PREFIX}{index}_{digest}"
    suffix = 0
    while name in taken:
        suffix += 1
        name = f"{CLUSTER_PREFIX}{index}_{digest}_{suffix}"
    taken.add(name)
    return name


def _report(view, order, marks, built, node_reasons, node_details, edge_reasons) -> PlacementReport:
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
                reason, detail = node_reasons[name], node_details.get(name)
            elif compute:
                reason = clustering.CLUSTER_TOO_SMALL
            if op == "Const" and mark.supported:
                reason = None  # copied into the clusters that read it, if any
        report.placement[name] = NodePlacement(op, cluster, reason, detail, compute)
        report.edges.extend((src, name) for src in dict.fromkeys(s for s, _ in view.data_inputs[name]))
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
