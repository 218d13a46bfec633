"""The placement picture: one self-contained HTML page for a PlacementReport.

    report.to_html("placement.html")          # PlacementReport.to_html delegates here
    html.render(report, title=...) -> str     # the page as text

The page needs nothing from the network: the report's nodes, edges and clusters are
embedded as JSON, and a small layered layout (longest-path layers, barycentre ordering; the
graph flows top to bottom) written in the page's own script draws them as SVG. Each cluster
has its own colour; a node left in TensorFlow shows its reason under its op type; a search
box finds nodes by name (Enter jumps to the next match, expanding its cluster). Graphs
larger than COLLAPSE_ABOVE nodes start with every cluster collapsed into one box (click a box
or its legend entry to expand it), which keeps a 1,000-node graph readable.

Every graph node is one SVG element of class `node` (hidden while its cluster is collapsed),
so the page's DOM holds exactly the graph's node count of them; tests count them.

This module turns a report into the page's data and fills the page in; the page itself is
`html_page` (markup and style) and `html_script` (drawing, layout, search).
"""

from __future__ import annotations

import html as _html
import json
import os

from ovtf.partitioner.html_page import MARKUP
from ovtf.partitioner.html_script import SCRIPT

COLLAPSE_ABOVE = 150   # nodes; bigger graphs open with their clusters collapsed

_TEMPLATE = MARKUP.replace("@SCRIPT@", SCRIPT)


def page_data(report) -> dict:
    names = list(report.placement)
    index = {name: i for i, name in enumerate(names)}
    nodes = []
    for name in names:
        p = report.placement[name]
        nodes.append({"name": name, "op": p.op, "cluster": p.cluster, "reason": p.reason,
                      "detail": p.detail, "compute": p.compute})
    edges = [[index[src], index[dst]] for src, dst in report.edges
             if src in index and dst in index]
    clusters = [{"name": c.name, "size": c.size, "members": len(c.members),
                 "ops": [[op, count] for op, count in c.op_types.most_common(6)]}
                for c in report.clusters]
    left = [[op, reason, count] for (op, reason), count in
            sorted(report.left_in_tf.items(), key=lambda item: (-item[1], item[0]))]
    return {"headline": report.headline(), "nodes": nodes, "edges": edges,
            "clusters": clusters, "left": left, "collapse_above": COLLAPSE_ABOVE,
            "ops_total": report.ops_total, "ops_clustered": report.ops_clustered}


def render(report, title: str = "ovtf placement") -> str:
    data = json.dumps(page_data(report), separators=(",", ":"))
    # Inside <script> only "</" could end the element early; JSON allows "<\/" for it.
    data = data.replace("</", "<\\/")
    return (_TEMPLATE.replace("@TITLE@", _html.escape(title))
            .replace("@DATA@", data))


def write(report, path, title: str = "ovtf placement") -> str:
    path = os.fspath(path)
    text = render(report, title)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
