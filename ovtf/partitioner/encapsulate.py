"""Encapsulation: replace each cluster by one `OVTFCluster` node (contract: ovtf/spec.py).

For a cluster the outer graph gets one node whose inputs are the distinct outside tensors
the members read (in the members' topological order, then by input position) followed by
control inputs, and whose outputs are the member tensors read outside (same order rule).
Every outside reference `member:port` becomes `cluster:k`, `^member` becomes `^cluster`.

The subgraph holds `ovtf_arg_<i>` Placeholders (dtype, the static shape TF recorded in
`_output_shapes` or unknown rank, `_ovtf_variable` for variable reads), a copy of every
member and of every Const a member reads (devices, control inputs and colocation attrs
cleared: inside the cluster nothing else runs), and `ovtf_ret_<j>` Identity nodes.

Control edges: control inputs of members (and of the copied Consts, e.g. a loop-frame pivot)
coming from outside become control inputs of the cluster node; control edges between
members are dropped (the cluster runs them together); control edges out of members are
rewired to the cluster node. A control input on a Const (TF's optimizer turns `beta * x` in a
loop body into `x` plus `^beta`) becomes that Const's own control inputs: a Const runs as soon
as they have, so waiting for them is the same. Consts copied into clusters are removed from
the outer graph once no node left in it names them; a pinned Const (`keep`: preserved, e.g.
fed by a Session) is never copied: the cluster reads it as an input, so a fed value arrives.

`validate(graph_def)` checks a rewritten graph before it is handed back: every data and
control input names an existing node (and an existing output of it), and no cluster waits
for itself across a loop (`graph.cycle_graph`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tensorflow.core.framework import graph_pb2, node_def_pb2, tensor_shape_pb2

from ovtf.partitioner.graph import parse_input, tensor_ref
from ovtf import spec

_DROPPED_ATTRS = ("_class",)


@dataclass
class BuiltCluster:
    name: str
    members: list
    inputs: list      # [(src, port)]
    outputs: list     # [(member, port)]
    control_inputs: list
    consts: list
    node: object      # the OVTFCluster NodeDef
    signature: list   # [(dtype enum, shape recorded or None, shape fixed)] per input

    @property
    def digest(self) -> str:
        """A short digest of what the cluster computes and where (subgraph and backend)."""
        content = self.node.attr["cluster_graph"].s + self.node.attr[spec.BACKEND_ATTR].s
        return hashlib.sha1(content).hexdigest()[:8]


def rename(cluster: BuiltCluster, name: str) -> None:
    cluster.name = cluster.node.name = name
    cluster.node.attr["cluster_name"].s = name.encode()


class EncapsulationError(ValueError):
    """A cluster can't be written (e.g. an unknown dtype); the caller drops it."""


def build_cluster(view, members: list, name: str, keep: set, backend: str = "") -> BuiltCluster:
    """Build the OVTFCluster NodeDef for `members`; `keep`: node names that must survive;
    `backend`: the backend the cluster is partitioned for (recorded on the node)."""
    inside = set(members)
    consts, inputs, input_index, control = [], [], {}, []
    for member in members:
        for src, port in view.data_inputs[member]:
            if src in inside:
                continue
            if view.nodes[src].op == "Const" and src not in keep:
                if src not in consts:
                    consts.append(src)
                continue
            if (src, port) not in input_index:
                input_index[(src, port)] = len(inputs)
                inputs.append((src, port))
    for node_name in members + consts:
        for src in _control_sources(view, node_name, keep):
            if src not in inside and src not in control:
                control.append(src)
    outputs = []
    for member in members:
        ports = sorted({port for dst, _, port in view.data_consumers[member] if dst not in inside})
        if member in keep:  # fetched: every output, for the IdentityN that takes its name
            ports = list(range(len(view.output_dtypes(member) or [0])))
        outputs.extend((member, port) for port in ports)

    device = view.nodes[members[0]].device
    sub = graph_pb2.GraphDef()
    sub.versions.CopyFrom(view.graph_def.versions)
    tin, signature = [], []
    for i, (src, port) in enumerate(inputs):
        dtype = _known_dtype(view, src, port)
        tin.append(dtype)
        arg = sub.node.add(name=spec.arg_name(i), op="Placeholder")
        arg.attr["dtype"].type = dtype
        shape = view.shape_of(src, port)
        signature.append((dtype, None if shape is None or shape.unknown_rank
                          else tuple(int(d.size) for d in shape.dim),
                          view.has_fixed_shape(src, port)))
        if shape is not None:
            arg.attr["shape"].shape.CopyFrom(shape)
        else:
            arg.attr["shape"].shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(unknown_rank=True))
        if view.is_variable_read(src):
            arg.attr[spec.VARIABLE_ATTR].b = True
    for node_name in consts + members:
        copy = sub.node.add()
        copy.CopyFrom(view.nodes[node_name])
        copy.device = ""
        for attr in _DROPPED_ATTRS:
            if attr in copy.attr:
                del copy.attr[attr]
        del copy.input[:]
        for src, port in view.data_inputs[node_name]:
            if src in inside or src in consts:
                copy.input.append(tensor_ref(src, port))
            else:
                copy.input.append(spec.arg_name(input_index[(src, port)]))
    tout = []
    for j, (member, port) in enumerate(outputs):
        dtype = _known_dtype(view, member, port)
        tout.append(dtype)
        ret = sub.node.add(name=spec.ret_name(j), op="Identity")
        ret.input.append(tensor_ref(member, port))
        ret.attr["T"].type = dtype

    node = node_def_pb2.NodeDef(name=name, op=spec.CLUSTER_OP, device=device)
    node.input.extend(tensor_ref(src, port) for src, port in inputs)
    node.input.extend("^" + src for src in control)
    node.attr["Tin"].list.type.extend(tin)
    node.attr["Tout"].list.type.extend(tout)
    node.attr["cluster_graph"].s = sub.SerializeToString()
    node.attr["cluster_name"].s = name.encode()
    node.attr[spec.BACKEND_ATTR].s = backend.encode()
    return BuiltCluster(name, members, inputs, outputs, control, consts, node, signature)


def _control_sources(view, name: str, keep: set) -> list:
    """The control inputs of `name`, each unpinned Const among them replaced by its own
    control inputs (transitively): the Const itself may leave the outer graph."""
    result, todo, seen = [], list(view.control_inputs[name]), set()
    while todo:
        src = todo.pop(0)
        if src in seen:
            continue
        seen.add(src)
        if view.nodes[src].op == "Const" and src not in keep:
            todo.extend(view.control_inputs[src])
        else:
            result.append(src)
    return result


def rewrite_graph(view, built: list, keep: set):
    """The outer GraphDef with every built cluster in place of its members."""
    owner = {}     # member -> BuiltCluster
    out_index = {}  # (member, port) -> (cluster name, k)
    for cluster in built:
        for member in cluster.members:
            owner[member] = cluster
        for k, (member, port) in enumerate(cluster.outputs):
            out_index[(member, port)] = (cluster.name, k)

    copied = {c for cluster in built for c in cluster.consts} - set(keep)
    nodes = []     # the outer graph's nodes, in the original order
    emitted = set()
    for original in view.graph_def.node:
        name = original.name
        if name in owner:
            cluster = owner[name]
            if cluster.name not in emitted:
                emitted.add(cluster.name)
                nodes.append(_remap_inputs(cluster.node, owner, out_index, cluster.name))
            if name in keep:
                nodes.append(_fetched_alias(view, original, out_index))
            continue
        nodes.append(_remap_inputs(original, owner, out_index, None))

    # Consts copied into clusters leave the outer graph once no node that stays names them
    # (a Const kept for one reader may name another one, hence the walk).
    by_name = {node.name: node for node in nodes}
    needed, todo = set(), [node.name for node in nodes if node.name not in copied]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for text in by_name[name].input:
            src = parse_input(text)[0]
            if src in copied and src not in needed:
                todo.append(src)

    result = graph_pb2.GraphDef()
    result.versions.CopyFrom(view.graph_def.versions)
    result.library.CopyFrom(view.graph_def.library)
    result.node.extend(node for node in nodes if node.name in needed)
    return result


def validate(graph_def):
    """None when TensorFlow can take `graph_def` as a rewrite, else what is wrong: a duplicate
    name, an input naming no node or an output port the node lacks, a cycle (loops seen as a
    whole from outside, `graph.cycle_graph`)."""
    from ovtf.partitioner.graph import GraphView, control_flow_contexts, cycle_graph

    try:
        view = GraphView(graph_def)
    except ValueError as error:
        return str(error)
    counts = {}
    for node in graph_def.node:
        for src, port in view.data_inputs[node.name]:
            if port == 0 and view.nodes[src].op != spec.CLUSTER_OP:
                continue  # a graph TF built reads output 0 only of ops that have one
            if src not in counts:
                counts[src] = _output_count(view, src)
            count = counts[src]
            if count is not None and port >= count:
                return f"node {node.name!r} reads output {port} of {src!r}, which has {count}"
    order = view.topological_order()
    if order is None:
        return "a cycle that is not a loop"
    if cycle_graph(view, order, control_flow_contexts(view, order)) is None:
        return "a cluster waits for itself through a loop"
    return None


def _output_count(view, name: str):
    node = view.nodes[name]
    if node.op == spec.CLUSTER_OP:
        return len(node.attr["Tout"].list.type)
    dtypes = view.output_dtypes(name)
    return None if dtypes is None else len(dtypes)


def _fetched_alias(view, member, out_index):
    """An IdentityN named like the fetched `member`, passing on the cluster outputs that
    carry its ports: fetches of `member:k` (and control edges on it) keep their meaning."""
    dtypes = view.output_dtypes(member.name) or []
    alias = node_def_pb2.NodeDef(name=member.name, op="IdentityN", device=member.device)
    for port in range(len(dtypes)):
        cluster_name, k = out_index[(member.name, port)]
        alias.input.append(tensor_ref(cluster_name, k))
    alias.attr["T"].list.type.extend(dtypes)
    return alias


def _remap_inputs(node, owner, out_index, self_name):
    copy = type(node)()
    copy.CopyFrom(node)
    del copy.input[:]
    data, control = [], []
    for text in node.input:
        if text.startswith("^"):
            src = text[1:]
            target = owner[src].name if src in owner else src
            if target != self_name and target not in control:
                control.append(target)
            continue
        src, port, _ = parse_input(text)
        if src in owner:
            cluster_name, k = out_index[(src, port)]
            data.append(tensor_ref(cluster_name, k))
        else:
            data.append(text)
    copy.input.extend(data)
    copy.input.extend("^" + name for name in control)
    _drop_colocation_with(copy, owner)
    return copy


def _drop_colocation_with(node, owner) -> None:
    """Forget colocation constraints (`_class: loc:@name`) that name a node now in a cluster:
    TF refuses a graph that colocates with an unknown node, and the cluster node carries
    the members' device anyway."""
    if "_class" not in node.attr:
        return
    entries = list(node.attr["_class"].list.s)
    kept = [e for e in entries if not (e.startswith(b"loc:@") and e[5:].decode() in owner)]
    if len(kept) == len(entries):
        return
    if kept:
        del node.attr["_class"].list.s[:]
        node.attr["_class"].list.s.extend(kept)
    else:
        del node.attr["_class"]


def _known_dtype(view, name: str, port: int) -> int:
    """The dtype of a cluster input or output; a cluster can't be typed without it."""
    dtype = view.dtype_of(name, port)
    if dtype is None:
        raise EncapsulationError(f"unknown dtype of {tensor_ref(name, port)}")
    return dtype
