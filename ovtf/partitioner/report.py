"""PlacementReport: what ran where and why, for one graph (placement logging, tests, users).

Every graph ovtf is handed gets a report, also one it leaves unchanged: then
`left_alone_reason` says why (NOTHING_SUPPORTED, `below_minimum(n)`, DISABLED, TRAINING, ...;
`left_alone_detail` may say more) and
`headline()` says it in one line ("17 ops, 15 supported, clusters of 10 and 5 below minimum
size 16: left in TensorFlow"). The report keeps the graph's structure (node names, op
types, data edges), enough for `to_dict()` (JSON) and `to_html(path)` (the placement picture,
ovtf/partitioner/html.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class NodePlacement:
    op: str
    cluster: Optional[str]          # cluster name, or None when the node stays in TF
    reason: Optional[str] = None    # why it stays in TF (None for clustered / non-compute)
    detail: Optional[str] = None
    compute: bool = True


@dataclass
class ClusterInfo:
    name: str
    size: int                        # compute ops inside
    members: list                    # node names (Identity etc. included)
    op_types: Counter = field(default_factory=Counter)


@dataclass
class PlacementReport:
    ops_total: int = 0                # compute nodes in the graph
    ops_marked: int = 0               # ... the capability manager accepted
    ops_clustered: int = 0            # ... that ended inside a cluster
    clusters: list = field(default_factory=list)          # [ClusterInfo]
    placement: dict = field(default_factory=dict)         # node name -> NodePlacement
    edge_reasons: dict = field(default_factory=dict)      # (src, dst) -> reason not merged
    edges: list = field(default_factory=list)             # [(src, dst)] data edges, unique
    left_alone_reason: Optional[str] = None               # None: the graph gets clusters
    left_alone_detail: Optional[str] = None               # more about it (e.g. which training ops)
    min_cluster_size: Optional[int] = None                # the minimum it was planned with
    small_clusters: list = field(default_factory=list)    # sizes of clusters dropped as too small

    @property
    def rewritten(self) -> bool:
        return bool(self.clusters)

    @property
    def cluster_sizes(self) -> list:
        return [cluster.size for cluster in self.clusters]

    @property
    def left_in_tf(self) -> Counter:
        """(op type, reason) -> count, for compute ops that stay in TensorFlow."""
        return Counter((p.op, p.reason) for p in self.placement.values()
                       if p.compute and p.cluster is None)

    @property
    def reasons(self) -> Counter:
        return Counter(p.reason for p in self.placement.values() if p.compute and p.cluster is None)

    @property
    def edge_reason_counts(self) -> Counter:
        return Counter(self.edge_reasons.values())

    def cluster_of(self, name: str) -> Optional[str]:
        placement = self.placement.get(name)
        return placement.cluster if placement else None

    def headline(self) -> str:
        """One line: what the graph is and, when it is left alone, why."""
        text = f"{self.ops_total} ops, {self.ops_marked} supported"
        if self.rewritten:
            return (f"{text}, {self.ops_clustered} in {len(self.clusters)} cluster(s) "
                    f"of {_sizes(self.cluster_sizes)}")
        if self.small_clusters and self.left_alone_reason == below_minimum(self.min_cluster_size):
            noun = "cluster" if len(self.small_clusters) == 1 else "clusters"
            return (f"{text}, {noun} of {_sizes(self.small_clusters)} below minimum size "
                    f"{self.min_cluster_size}: left in TensorFlow")
        if self.left_alone_reason in (DISABLED, ALREADY_REWRITTEN, NOT_UNDERSTOOD, TRAINING,
                                      REFUSED, INVALID_REWRITE):
            text = f"{self.ops_total} ops"  # not planned: nothing was marked
        detail = f": {self.left_alone_detail}" if self.left_alone_detail else ""
        return f"{text}: left in TensorFlow ({self.left_alone_reason or NOTHING_SUPPORTED}{detail})"

    def to_dict(self) -> dict:
        """Plain data (JSON-ready): the numbers, the clusters and every node's placement."""
        return {
            "ops_total": self.ops_total, "ops_marked": self.ops_marked,
            "ops_clustered": self.ops_clustered, "rewritten": self.rewritten,
            "left_alone_reason": self.left_alone_reason,
            "left_alone_detail": self.left_alone_detail,
            "min_cluster_size": self.min_cluster_size,
            "small_clusters": list(self.small_clusters),
            "clusters": [{"name": c.name, "size": c.size, "members": list(c.members),
                          "op_types": dict(c.op_types)} for c in self.clusters],
            "left_in_tf": [{"op": op, "reason": reason, "count": count} for (op, reason), count
                           in sorted(self.left_in_tf.items(), key=lambda i: (-i[1], i[0]))],
            "nodes": [{"name": name, "op": p.op, "cluster": p.cluster, "reason": p.reason,
                       "detail": p.detail, "compute": p.compute}
                      for name, p in self.placement.items()],
            "edges": [list(edge) for edge in self.edges],
            "edge_reasons": [{"src": src, "dst": dst, "reason": reason}
                             for (src, dst), reason in self.edge_reasons.items()],
        }

    def to_html(self, path, title: str = "ovtf placement") -> str:
        """Write the placement picture (one self-contained HTML file) to `path`; returns it."""
        from ovtf.partitioner import html
        return html.write(self, path, title=title)

    def format_summary(self, verbose: int = 1) -> str:
        if not self.rewritten:
            lines = [f"ovtf placement: {self.headline()}"]
            left = self.left_in_tf
            if left and self.left_alone_reason not in (DISABLED, ALREADY_REWRITTEN):
                lines.append("  kept in TensorFlow (op type, reason: count):")
                for (op, reason), count in sorted(left.items(), key=lambda i: (-i[1], i[0])):
                    lines.append(f"    {op} {reason}: {count}")
            if verbose >= 2:
                lines.extend(self._node_lines())
            return "\n".join(lines)

        def percent(part):
            return f"{100.0 * part / self.ops_total:.1f}%" if self.ops_total else "0.0%"

        lines = [
            "ovtf placement:",
            f"  ops total: {self.ops_total}",
            f"  marked: {self.ops_marked} ({percent(self.ops_marked)})",
            f"  clustered: {self.ops_clustered} ({percent(self.ops_clustered)})",
            f"  clusters: {len(self.clusters)}"
            + (f" sizes: {', '.join(str(s) for s in sorted(self.cluster_sizes, reverse=True))}"
               if self.clusters else ""),
        ]
        left = self.left_in_tf
        if left:
            lines.append("  left in TensorFlow (op type, reason: count):")
            for (op, reason), count in sorted(left.items(), key=lambda item: (-item[1], item[0])):
                lines.append(f"    {op} {reason}: {count}")
        if self.edge_reasons:
            counts = ", ".join(f"{reason} {count}" for reason, count in
                               sorted(self.edge_reason_counts.items()))
            lines.append(f"  edges not merged: {counts}")
        if verbose >= 2:
            lines.extend(self._node_lines())
        return "\n".join(lines)

    def _node_lines(self) -> list:
        lines = ["  nodes:"]
        for name, p in self.placement.items():
            where = p.cluster if p.cluster else f"TF {p.reason or '-'}"
            detail = f" ({p.detail})" if p.detail and not p.cluster else ""
            lines.append(f"    {name} [{p.op}] -> {where}{detail}")
        return lines


# Why a graph was left unchanged (PlacementReport.left_alone_reason).
NOTHING_SUPPORTED = "nothing supported"
DISABLED = "disabled"                      # ovtf.disable() / OVTF_DISABLE=1
ALREADY_REWRITTEN = "already rewritten"    # TF's second optimizer pass over a rewritten graph
NOT_UNDERSTOOD = "not understood"          # dangling inputs, duplicate names, a non-loop cycle
NO_CLUSTER = "no cluster could be formed"  # supported ops, but each was taken out (see reasons)
# A training step (gradients / optimizer updates; `ovtf.ocm.rules.NotTraining`), kept in TF
# unless ovtf.enable_training_graphs() / OVTF_TRAINING_GRAPHS=1.
TRAINING = "training graph"
REFUSED = "refused by the backend"         # the support's judge_graph refused the whole graph
# The rewrite failed `encapsulate.validate` (an input that does not resolve, a cluster that
# waits for itself): discarded, TF runs the graph as it is. A bug in ovtf if it ever shows.
INVALID_REWRITE = "invalid rewrite"


def below_minimum(min_cluster_size) -> str:
    return f"clusters below minimum size {min_cluster_size}"


_REASON_KEYS = {NOTHING_SUPPORTED: "nothing_supported", DISABLED: "disabled",
                ALREADY_REWRITTEN: "already_rewritten", NOT_UNDERSTOOD: "not_understood",
                NO_CLUSTER: "no_cluster", TRAINING: "training_graph",
                REFUSED: "refused_by_backend", INVALID_REWRITE: "invalid_rewrite"}


def reason_key(reason: str) -> str:
    """The short key `ovtf.stats()["left_alone_reasons"]` counts a reason under."""
    if reason.startswith(below_minimum("")):
        return "below_min_cluster_size"
    return _REASON_KEYS.get(reason, reason.replace(" ", "_"))


def left_alone_reason(report: PlacementReport, min_cluster_size: int) -> Optional[str]:
    """Why `rewrite` leaves this planned graph unchanged (None: it gets clusters)."""
    if report.clusters:
        return None
    if report.small_clusters:
        return below_minimum(min_cluster_size)
    if report.ops_marked == 0:
        return NOTHING_SUPPORTED
    return NO_CLUSTER


def unplanned(graph_def, reason: str, detail: Optional[str] = None) -> PlacementReport:
    """The report of a graph that was not planned (disabled, already rewritten, not
    understood): its nodes and edges, every compute node in TF with `reason`."""
    from ovtf.partitioner.graph import is_compute, parse_input

    report = PlacementReport(left_alone_reason=reason, left_alone_detail=detail)
    names, edges = set(), set()
    for node in graph_def.node:
        compute = is_compute(node.op)
        report.placement[node.name] = NodePlacement(
            node.op, None, reason.upper().replace(" ", "_") if compute else None, detail, compute)
        report.ops_total += compute
        names.add(node.name)
    for node in graph_def.node:
        for text in node.input:
            src, _, control = parse_input(text)
            if not control and src in names and (src, node.name) not in edges:
                edges.add((src, node.name))
                report.edges.append((src, node.name))
    return report


def _sizes(sizes) -> str:
    sizes = sorted(sizes, reverse=True)
    if len(sizes) == 1:
        return str(sizes[0])
    return ", ".join(str(s) for s in sizes[:-1]) + f" and {sizes[-1]}"
