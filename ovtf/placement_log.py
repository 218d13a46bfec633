"""Accounts for every graph ovtf is handed: adds its numbers to `ovtf.stats()` and, when
placement logging is on, logs its placement summary under the `ovtf` logger (one line per
node with OVTF_LOG_LEVEL=2). Graphs left unchanged are accounted for too, with the reason
(`PlacementReport.left_alone_reason`): "17 ops, 15 supported, clusters of 10 and 5 below
minimum size 16: left in TensorFlow".

TensorFlow's optimizer runs twice over each graph. A rewritten graph's second pass sees an
already rewritten graph (not counted again); a graph left alone is handed over unchanged
twice on the same thread, so a left-alone report identical to the previous one on that thread
is not counted again.

Optionally each accounted graph is also drawn (`PlacementReport.to_html`) into a directory:
`ovtf.set_placement_html_dir(path)`, or the setting `placement_html_dir` (environment variable
OVTF_PLACEMENT_HTML_DIR).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading

from ovtf import config, counters
from ovtf.once import structure_key

logger = logging.getLogger("ovtf")

_recent = threading.local()
_html_sequence = itertools.count(1)
_html_warned = False


def verbosity() -> int:
    # OVTF_LOG_LEVEL is parsed and validated with the other settings, at import.
    return config.settings.log_level


def html_dir():
    return config.settings.placement_html_dir


def record(report) -> None:
    from ovtf.partitioner import report as report_module

    reason = report.left_alone_reason
    if reason == report_module.ALREADY_REWRITTEN:
        return  # the second optimizer pass over a graph already counted
    numbers = {
        "ops_total": report.ops_total,
        "ops_marked": report.ops_marked,
        "ops_clustered": report.ops_clustered,
        "clusters": len(report.cluster_sizes),
    }
    if report.rewritten:
        _recent.key = None
        counters.add({"graphs_rewritten": 1, **numbers})
    else:
        key = _identity(report)
        if getattr(_recent, "key", None) == key:
            return  # TF's second pass over the graph just counted
        _recent.key = key
        counters.record_left_alone(report_module.reason_key(reason or ""), numbers)
    if config.settings.log_placement:
        summary = report.format_summary(verbose=verbosity())
        logger.info("%s", summary)
        if not logger.isEnabledFor(logging.INFO):
            # Placement logging was asked for explicitly: show it even if the app configured
            # no logging (the `ovtf` logger would otherwise drop INFO records).
            print(summary, flush=True)
    if html_dir() and reason != report_module.DISABLED:
        _write_html(report)


def record_disabled(graph_bytes: bytes) -> None:
    """A graph handed over while ovtf is disabled: counted (reason "disabled"), never raises."""
    try:
        from tensorflow.core.framework import graph_pb2

        from ovtf import partitioner
        from ovtf.partitioner import report as report_module

        graph_def = graph_pb2.GraphDef.FromString(graph_bytes)
        if partitioner.already_rewritten(graph_def):
            return  # a fallback subgraph or a graph rewritten before disable()
        record(report_module.unplanned(graph_def, report_module.DISABLED))
    except Exception as error:  # accounting must never break the user's program
        logger.debug("ovtf: could not account for a graph while disabled: %s", error)


def _identity(report) -> str:
    """Same for both optimizer passes over one graph (TF folds constants in between)."""
    return structure_key(((name, placed.op) for name, placed in report.placement.items()),
                         head=[f"{report.left_alone_reason}"])


def _write_html(report) -> None:
    global _html_warned
    directory = html_dir()
    name = f"graph-{next(_html_sequence):04d}-{_identity(report)[:8]}.html"
    path = os.path.join(directory, name)
    try:
        os.makedirs(directory, exist_ok=True)
        report.to_html(path, title=f"ovtf placement: {report.headline()}")
        logger.info("ovtf: placement picture written to %s", path)
    except Exception as error:
        if not _html_warned:
            _html_warned = True
            logger.warning("ovtf: could not write a placement picture to %s: %s", path, error)
