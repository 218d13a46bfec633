"""PlacementReport: what ran where and why, for one graph (placement logging, tests, users)."""

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

    def format_summary(self, verbose: int = 1) -> str:
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
            lines.append("  nodes:")
            for name, p in self.placement.items():
                where = p.cluster if p.cluster else f"TF {p.reason or '-'}"
                detail = f" ({p.detail})" if p.detail and not p.cluster else ""
                lines.append(f"    {name} [{p.op}] -> {where}{detail}")
        return "\n".join(lines)
