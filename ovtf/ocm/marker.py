"""Marking: decide for every node of a GraphDef whether it may run on the backend, and why not.

`mark(graph_def, support, preserve, disabled_ops)` chains the generic rules
(`ovtf.ocm.rules`) around the backend's operator support and asks the chain about every
node. The rules apply in this order, so a node gets the most telling reason:

    OVTF            already an ovtf cluster or part of an ovtf fallback graph
    CONTROL_FLOW    Enter/Exit/Switch/Merge/NextIteration/LoopCond/... (frames stay in TF;
                    the ops *inside* a loop body or a cond branch can still be marked)
    BOUNDARY        graph inputs/outputs and variable handles (_Arg, Placeholder, ...)
    DTYPE           string/variant/resource tensors (whatever the op)
    ... the backend's support:
    UNSUPPORTED_OP  no entry for this op type (or the device refuses the op type)
    STATEFUL        a stateful op (random numbers, variable writes, I/O) with no entry
    DTYPE           a dtype the entry or the device does not allow
    ATTR            the entry's attribute check failed (e.g. an unsupported data_format)
    ... then:
    DTYPE           an op that rounds to f16/bf16 (OpenVINO skips the rounding inside a
                    cluster, `rules.SixteenBitRounding`)
    SHAPE           a zero-size tensor known from the graph's constants (`constant_rules.NoZeroSize`),
                    a NonMaxSuppression over constants (`constant_rules.NoConstantNms`)
    RANGE           an int64 value not provably within int32, or gather indices not
                    provably in range (`ranges.IntegerRanges`)
    DISABLED        the user disabled this op type (set_disabled_ops / OVTF_DISABLED_OPS)
    DEVICE          assigned to a non-CPU TensorFlow device (the cluster kernel runs on CPU)
    PRESERVED       the optimizer must keep this node (fetched, fed, or otherwise preserved)

The partitioner adds its own reasons later (STATIC_INPUT, CLUSTER_TOO_SMALL, SHAPE, ...).

Before any node, `judge_graph(graph_def, support, training_graphs)` asks about the whole
graph (a Mark):
    TRAINING        a training step (gradient or optimizer-update ops, `rules.NotTraining`)
                    stays in TensorFlow as it is, unless `training_graphs` is true
    GRAPH           the backend's support refuses the whole graph (`support.judge_graph`)
"""

from __future__ import annotations

from ovtf.ocm import constant_rules, ranges, rules
from ovtf.ocm.support import (ATTR, BOUNDARY, CONTROL_FLOW, DEVICE, DISABLED, DTYPE, OVTF,  # noqa: F401
                              GRAPH, PRESERVED, SHAPE, STATEFUL, TRAINING, SUPPORTED, UNSUPPORTED_OP, Mark,
                              OperatorSupport, chain)


def node_rules(support: OperatorSupport, preserve=frozenset(), disabled_ops=frozenset(),
               graph_def=None):
    """The whole per-node decision for one graph: generic rules around `support` (with the
    graph, also the zero-size rule, which looks at the constants a node reads, and the
    integer-range rule, which follows int64 values and gather indices to their producers)."""
    in_graph = (constant_rules.NoZeroSize(graph_def), constant_rules.NoConstantNms(graph_def),
                ranges.IntegerRanges(graph_def)) \
        if graph_def is not None else ()
    return chain(rules.NotOvtf(), rules.NoControlFlow(), rules.NoBoundary(),
                 rules.DenseTensors(), support, rules.SixteenBitRounding(graph_def), *in_graph, rules.NotDisabled(disabled_ops),
                 rules.OnCpu(), rules.NotPreserved(preserve), target=support.target)


def judge_graph(graph_def, support: OperatorSupport, training_graphs: bool = False) -> Mark:
    """The whole-graph decision, before any node: SUPPORTED, Mark(False, TRAINING, which ops)
    for a training step unless `training_graphs`, or Mark(False, GRAPH, why) when the
    backend's support refuses the graph."""
    if not training_graphs:
        problem = rules.NotTraining().judge_graph(graph_def)
        if problem:
            return Mark(False, TRAINING, problem)
    problem = support.judge_graph(graph_def)
    return Mark(False, GRAPH, problem) if problem else SUPPORTED


def mark(graph_def, support: OperatorSupport, preserve=frozenset(),
         disabled_ops=frozenset()) -> dict:
    """node name -> Mark for every node of `graph_def`."""
    judge = node_rules(support, preserve, disabled_ops, graph_def).judge
    return {node.name: judge(node) for node in graph_def.node}
