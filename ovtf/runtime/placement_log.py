"""Accounts for each rewritten graph: adds its numbers to `ovtf.stats()` and, when placement
logging is on, logs its placement summary under the `ovtf` logger (one line per node with
OVTF_LOG_LEVEL=2)."""

from __future__ import annotations

import logging

from ovtf import config, counters

logger = logging.getLogger("ovtf")


def verbosity() -> int:
    # OVTF_LOG_LEVEL is parsed and validated with the other settings, at import.
    return config.settings.log_level


def record(report) -> None:
    counters.add({
        "graphs_rewritten": 1,
        "ops_total": report.ops_total,
        "ops_marked": report.ops_marked,
        "ops_clustered": report.ops_clustered,
        "clusters": len(report.cluster_sizes),
    })
    if config.settings.log_placement:
        summary = report.format_summary(verbose=verbosity())
        logger.info("%s", summary)
        if not logger.isEnabledFor(logging.INFO):
            # Placement logging was asked for explicitly: show it even if the app configured
            # no logging (the `ovtf` logger would otherwise drop INFO records).
            print(summary, flush=True)
