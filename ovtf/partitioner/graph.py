"""A read-only index over a GraphDef: inputs, consumers, a topological order, dtypes, shapes
and the control-flow context (frame and branch predicates) of every node.

Tensors are `(node_name, output_port)` pairs throughout the partitioner; control edges are
kept apart from data edges. TensorFlow's lowered loops have one kind of back edge
(NextIteration -> Merge); it is left out of the topological order. Inside the loop's own
frame a value crossing it belongs to the next iteration, so it cannot deadlock a cluster of
that frame; but seen from outside the loop it is a real path: a cluster that feeds a loop
and reads its result waits for itself (a value fed in goes round the back edge to the
Exits). `cycle_graph` is therefore what clustering checks for cycles: the graph without back
edges plus, for every loop, a node standing for the loop as a whole, reached from each of its
Enters and reaching each of its Exits.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Optional

# Nodes that are not "ops" in ovtf's counts (stats, reports, min cluster size).
NON_COMPUTE_OPS = frozenset({
    "_Arg", "_Retval", "Placeholder", "PlaceholderWithDefault", "Const", "NoOp", "Identity",
    "IdentityN", "ReadVariableOp", "VarHandleOp", "VariableV2",
})
# Ops whose output value depends only on input *shapes*: static once shapes are known.
SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank"})
# (Not ResourceGather: its output is rows picked by this call's indices, new data every call
# with an index-dependent shape; as a "weight" it was baked in and recompiled on every call.)
VARIABLE_READ_OPS = frozenset({"ReadVariableOp", "VariableV2", "Variable", "VarHandleOp"})
_PASS_THROUGH_OPS = frozenset({"Identity", "Snapshot", "StopGradient"})
# Ops whose output shape depends on input values.
DATA_DEPENDENT_SHAPE_OPS = frozenset({"Where", "Unique", "UniqueV2", "UniqueWithCounts",
                                      "NonMaxSuppressionV3", "NonMaxSuppressionV4",
                                      "NonMaxSuppressionV5", "Range", "BooleanMask",
                                      "DynamicPartition", "SparseToDense"})


def is_compute(op: str) -> bool:
    return op not in NON_COMPUTE_OPS


def parse_input(text: str):
    """'^n' -> ('n', -1, True); 'n:2' -> ('n', 2, False); 'n' -> ('n', 0, False)."""
    if text.startswith("^"):
        return text[1:], -1, True
    name, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return name, int(port), False
    return text, 0, False


def tensor_ref(name: str, port: int) -> str:
    return name if port == 0 else f"{name}:{port}"


class GraphView:
    """Indexes of one GraphDef. Raises ValueError for graphs with dangling inputs."""

    def __init__(self, graph_def):
        self.graph_def = graph_def
        self.nodes = {}
        for node in graph_def.node:
            if node.name in self.nodes:
                raise ValueError(f"duplicate node name {node.name!r}")
            self.nodes[node.name] = node
        self.data_inputs = {}        # name -> [(src, port)] in input order
        self.control_inputs = {}     # name -> [src]
        self.data_consumers = defaultdict(list)     # src -> [(dst, input_index, port)]
        self.control_consumers = defaultdict(list)  # src -> [dst]
        for node in graph_def.node:
            data, control = [], []
            for text in node.input:
                src, port, is_control = parse_input(text)
                if src not in self.nodes:
                    raise ValueError(f"node {node.name!r} has dangling input {text!r}")
                if is_control:
                    control.append(src)
                    self.control_consumers[src].append(node.name)
                else:
                    self.data_consumers[src].append((node.name, len(data), port))
                    data.append((src, port))
            self.data_inputs[node.name] = data
            self.control_inputs[node.name] = control

    def predecessors(self, name: str):
        """Data and control producers, without NextIteration back edges (see `cycle_graph`
        for the edges that stand in for them)."""
        node = self.nodes[name]
        for src, _ in self.data_inputs[name]:
            if not (node.op in ("Merge", "RefMerge") and self.nodes[src].op in
                    ("NextIteration", "RefNextIteration")):
                yield src
        yield from self.control_inputs[name]

    def topological_order(self) -> Optional[list]:
        """Kahn's order (stable w.r.t. the GraphDef), or None if the graph has a cycle."""
        indegree = {name: 0 for name in self.nodes}
        successors = defaultdict(list)
        for name in self.nodes:
            for src in self.predecessors(name):
                indegree[name] += 1
                successors[src].append(name)
        ready = [name for name in self.nodes if indegree[name] == 0]
        ready.reverse()
        order = []
        while ready:
            name = ready.pop()
            order.append(name)
            for dst in reversed(successors[name]):
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    ready.append(dst)
        return order if len(order) == len(self.nodes) else None

    # --- dtypes and shapes ------------------------------------------------------------------

    def output_dtypes(self, name: str) -> Optional[list]:
        node = self.nodes[name]
        from tensorflow.python.framework import op_def_registry
        op_def = op_def_registry.get(node.op)
        if op_def is None:
            return None
        result = []
        for arg in op_def.output_arg:
            if arg.type_list_attr:
                result.extend(node.attr[arg.type_list_attr].list.type)
                continue
            dtype = arg.type if arg.type else node.attr[arg.type_attr].type if arg.type_attr in node.attr else 0
            count = node.attr[arg.number_attr].i if arg.number_attr else 1
            result.extend([dtype] * count)
        return result

    def dtype_of(self, name: str, port: int) -> Optional[int]:
        dtypes = self.output_dtypes(name)
        if dtypes is None or port >= len(dtypes) or not dtypes[port]:
            return None
        return dtypes[port]

    def shape_of(self, name: str, port: int):
        """The TensorShapeProto TF recorded in `_output_shapes`, or None."""
        node = self.nodes[name]
        if "_output_shapes" in node.attr:
            shapes = node.attr["_output_shapes"].list.shape
            if port < len(shapes):
                return shapes[port]
        return None

    def has_fixed_shape(self, name: str, port: int) -> bool:
        """True when the tensor's shape is the same on every run of this graph: recorded
        fully static, a variable read or a Const, or computed only from such tensors by ops
        whose output shape follows from their input shapes. Graph inputs with an unknown
        dim (a tf.function signature with None) and data-dependent ops (Where, Unique, ...)
        make everything downstream variable. TF records shapes only on some nodes (grappler
        keeps them on `_Arg`s), hence the walk."""
        shape = self.shape_of(name, port)
        if shape is not None and not shape.unknown_rank and all(d.size >= 0 for d in shape.dim):
            return True
        memo = self.__dict__.setdefault("_fixed", {})
        todo, open_ = [name], set()
        while todo:
            current = todo[-1]
            if current in memo:
                todo.pop()
                continue
            if current in open_ and any(src not in memo for src, _ in self.data_inputs[current]):
                # a loop's back edge (NextIteration -> Merge) reached again: a value that
                # flows around a loop can change shape from iteration to iteration
                memo[current] = False
                todo.pop()
                continue
            open_.add(current)
            node = self.nodes[current]
            if node.op == "Const" or self.is_variable_read(current):
                memo[current] = True
            elif node.op in DATA_DEPENDENT_SHAPE_OPS or not self.data_inputs[current]:
                recorded = self.shape_of(current, 0) if node.op in ("_Arg", "Placeholder") else None
                memo[current] = recorded is not None and not recorded.unknown_rank and \
                    all(d.size >= 0 for d in recorded.dim) and node.op not in DATA_DEPENDENT_SHAPE_OPS
            else:
                pending = [src for src, _ in self.data_inputs[current] if src not in memo]
                if pending:
                    todo.extend(pending)
                    continue
                memo[current] = all(memo[src] for src, _ in self.data_inputs[current])
            todo.pop()
        return memo[name]

    def is_variable_read(self, name: str) -> bool:
        """True when the tensor comes from a variable read (through pass-through ops)."""
        seen = set()
        while name not in seen:
            seen.add(name)
            node = self.nodes[name]
            if node.op in VARIABLE_READ_OPS:
                return True
            if node.op in _PASS_THROUGH_OPS and self.data_inputs[name]:
                name = self.data_inputs[name][0][0]
                continue
            return False
        return False


# --- cycle checks across loops -------------------------------------------------------------

_ENTER_OPS = ("Enter", "RefEnter")
_EXIT_OPS = ("Exit", "RefExit")


def cycle_graph(view: GraphView, order: list, contexts: dict):
    """The graph cluster contraction must keep acyclic: `(nodes, predecessors)`, `nodes` in a
    topological order (node names and one `("loop", frame)` token per while loop, where
    `frame` is the loop's frame tuple from `control_flow_contexts`), or None when that graph
    has a cycle (a graph we do not understand).

    Every data and control edge except the NextIteration -> Merge back edges, plus
    Enter(F) -> ("loop", F) -> Exit(F) for every loop F (nested loops included, each its own
    token). Why each Enter reaches each Exit: a value fed in through any Enter can go round
    the back edge and reach any Exit in a later iteration, and TensorFlow's executor does not
    finish a frame's first iteration before all its Enters have fired, so a loop running more
    than `parallel_iterations` times waits for every Enter before it delivers its Exits.
    Paths through the loop body need no extra edges: nodes in a frame only cluster with
    nodes of the same frame, and a value going round that frame's back edge belongs to the
    next iteration, a later run of the cluster.
    """
    preds = {name: list(view.predecessors(name)) for name in order}
    loops = {}
    for name in order:
        op = view.nodes[name].op
        if op in _ENTER_OPS:
            loops.setdefault(("loop", contexts[name][0]), []).append(name)
        elif op in _EXIT_OPS and view.data_inputs[name]:
            token = ("loop", contexts[view.data_inputs[name][0][0]][0])
            preds[name].append(token)
            loops.setdefault(token, [])
    for token, enters in loops.items():
        preds[token] = enters
    successors = defaultdict(list)
    indegree = {}
    for node, sources in preds.items():
        indegree[node] = len(sources)
        for src in sources:
            successors[src].append(node)
    # Kahn's order, stable with respect to `order` (tokens come right after their last Enter)
    ready = [node for node in list(order) + list(loops) if indegree[node] == 0]
    ready.reverse()
    result = []
    while ready:
        node = ready.pop()
        result.append(node)
        for dst in reversed(successors[node]):
            indegree[dst] -= 1
            if indegree[dst] == 0:
                ready.append(dst)
    if len(result) != len(preds):
        return None
    return result, preds


# --- control-flow contexts -----------------------------------------------------------------

def control_flow_contexts(view: GraphView, order: list) -> dict:
    """name -> (frame, predicates): where a node runs and which branch decisions it is under.

    `frame` is the tuple of enclosing while-loop frame names (Enter's `frame_name`), root = ().
    `predicates` is a frozenset of (frame, predicate tensor, branch port) for every Switch
    output the node depends on (through data or control edges) and no Merge has joined
    again. Two nodes may share a cluster only if both parts are equal: then they are alive
    and dead together, and run the same number of times, so one fused node is equivalent.
    A Switch's predicate is named by its predicate *tensor*, so all Switches of one lowered
    `tf.cond` (or all loop-variable Switches of one while loop) count as the same decision.
    """
    frame, preds = {}, {}

    def tensor_preds(src, port):
        node = view.nodes[src]
        if node.op in ("Switch", "RefSwitch") and len(view.data_inputs[src]) >= 2:
            pred_src, pred_port = view.data_inputs[src][1]
            return preds[src] | {(frame[src], f"{pred_src}:{pred_port}", port)}
        return preds[src]

    for name in order:
        node = view.nodes[name]
        data = view.data_inputs[name]
        if node.op in ("Merge", "RefMerge"):
            live = [(s, p) for s, p in data
                    if view.nodes[s].op not in ("NextIteration", "RefNextIteration")]
            frame[name] = frame[live[0][0]] if live else ()
            sets = [tensor_preds(s, p) for s, p in live]
            merged = frozenset.intersection(*sets) if sets else frozenset()
            for src in view.control_inputs[name]:
                merged |= preds[src]
            preds[name] = merged
            continue
        inputs = [(s, p) for s, p in data] + [(s, -1) for s in view.control_inputs[name]]
        here = frozenset()
        for src, port in inputs:
            here |= tensor_preds(src, port) if port >= 0 else preds[src]
        parent = frame[inputs[0][0]] if inputs else ()
        if node.op in ("Enter", "RefEnter"):
            frame[name] = parent + (node.attr["frame_name"].s.decode("utf-8", "replace"),)
        elif node.op in ("Exit", "RefExit"):
            frame[name] = parent[:-1]
            here = frozenset(p for p in here if p[0] != parent)  # the loop's own decisions end
        else:
            frame[name] = parent
        preds[name] = here
    return {name: (frame[name], preds[name]) for name in order}
