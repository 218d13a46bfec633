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
rewired to the cluster node. Consts copied into clusters are removed from the outer graph
once nothing outside reads them.
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
            if view.nodes[src].op == "Const":
                if src not in consts:
                    consts.append(src)
                continue
            if (src, port) not in input_index:
                input_index[(src, port)] = len(inputs)
                inputs.append((src, port))
    for node_name in members + consts:
        for src in view.control_inputs[node_name]:
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


def rewrite_graph(view, built: list, keep: set):
    """The outer GraphDef with every built cluster in place of its members."""
    owner = {}     # member -> BuiltCluster
    out_index = {}  # (member, port) -> (cluster name, k)
    for cluster in built:
        for member in cluster.members:
            owner[member] = cluster
        for k, (member, port) in enumerate(cluster.outputs):
            out_index[(member, port)] = (cluster.name, k)

    # Consts copied into clusters leave the outer graph once nothing outside reads them.
    copied = {c for cluster in built for c in cluster.consts}
    removable = set()
    for const in copied:
        if const in keep:
            continue
        readers = [dst for dst, _, _ in view.data_consumers[const]] + view.control_consumers[const]
        if all(dst in owner for dst in readers):
            removable.add(const)

    result = graph_pb2.GraphDef()
    result.versions.CopyFrom(view.graph_def.versions)
    result.library.CopyFrom(view.graph_def.library)
    emitted = set()
    for original in view.graph_def.node:
        name = original.name
        if name in owner:
            cluster = owner[name]
            if cluster.name not in emitted:
                emitted.add(cluster.name)
                result.node.append(_remap_inputs(cluster.node, owner, out_index, cluster.name))
            if name in keep:
                result.node.append(_fetched_alias(view, original, out_index))
            continue
        if name in removable:
            continue
        result.node.append(_remap_inputs(original, owner, out_index, None))
    return result


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
