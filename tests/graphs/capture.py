"""What grappler hands ovtf: `with captured() as graphs:` runs TensorFlow with the hook's
rewriter replaced by one that records `(graph_def, fetch, preserve)` and leaves every graph
unchanged, so the TensorFlow run inside is stock and `graphs` holds the real graphs the
partitioner would see (after TF's own optimizations, control flow lowered to frames)."""

from __future__ import annotations

import contextlib

import ovtf
from ovtf import hook


@contextlib.contextmanager
def captured():
    graphs = []

    def record(graph_def, fetch, preserve):
        graphs.append((graph_def, list(fetch), list(preserve)))
        return None

    was_enabled = ovtf.is_enabled()
    ovtf.enable()   # the hook calls the rewriter only when ovtf is enabled
    try:
        with hook.override(graph_rewriter=record):
            yield graphs
    finally:
        (ovtf.enable if was_enabled else ovtf.disable)()


def graph_with(graphs, name: str, required: bool = True):
    """The captured `(graph_def, fetch, preserve)` whose graph has a node `name`; None when
    there is none and not `required` (TF hands over no graph of fewer than 4 nodes)."""
    for graph_def, fetch, preserve in graphs:
        if any(node.name == name for node in graph_def.node):
            return graph_def, fetch, preserve
    if required:
        raise AssertionError(f"no captured graph has a node {name!r}")
    return None
