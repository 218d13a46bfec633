"""Test-only stand-ins that drive the native bridge without the partitioner or OpenVINO.

`chain_rewriter` wraps each chain of elementwise ops into one `OVTFCluster` (laid out as in
`ovtf.spec`), and `NumpyDevice` executes such clusters with numpy. `FAIL` switches
the device into asking for TensorFlow fallback. `use_test_bridge()` installs both.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np
from tensorflow.core.framework import graph_pb2, node_def_pb2

from ovtf import config
from ovtf import hook as bridge
from ovtf.runtime.cluster import ClusterHandle
from ovtf.backends import BackendError
from ovtf.spec import (CLUSTER_OP, FALLBACK_ATTR, ClusterSpec, arg_name, ret_name)

UNARY = {
    "Exp": np.exp, "Tanh": np.tanh, "Neg": np.negative, "Relu": lambda x: np.maximum(x, 0),
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)), "Square": np.square, "Abs": np.abs,
}
BINARY = {"AddV2": np.add, "Add": np.add, "Mul": np.multiply, "Sub": np.subtract}
ELEMENTWISE = set(UNARY) | set(BINARY)


class Switches:
    """What the numpy device does; tests flip these."""

    def __init__(self):
        self.fail = False            # raise BackendError("run") -> TensorFlow fallback
        self.device_calls = 0
        self.lock = threading.Lock()


SWITCHES = Switches()


def _data_inputs(node):
    return [name for name in node.input if not name.startswith("^")]


def _node_of(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":")[0]


def find_chains(graph_def, preserve: set) -> list:
    """Chains n1 -> ... -> nk (k >= 2) of float elementwise ops where each inner node feeds
    only the next one. Nothing outside can then depend on an inner node, so wrapping a chain
    can never create a cycle (other inputs of each node come from outside the chain)."""
    nodes = {node.name: node for node in graph_def.node}
    consumers = {name: [] for name in nodes}
    for node in graph_def.node:
        for name in node.input:
            consumers.setdefault(_node_of(name), []).append(node.name)

    def eligible(node):
        return (node.op in ELEMENTWISE and node.name not in preserve
                and node.attr["T"].type == 1)  # DT_FLOAT

    def successor(node):
        users = consumers.get(node.name, [])
        if len(users) != 1:
            return None
        user = nodes[users[0]]
        uses = [name for name in _data_inputs(user) if name in (node.name, f"{node.name}:0")]
        if eligible(user) and len(uses) == 1:
            return user
        return None

    chains, taken = [], set()
    for node in graph_def.node:
        if not eligible(node) or node.name in taken:
            continue
        # Only start at a head: a node that is not the unique successor of an eligible node.
        producers = [nodes.get(_node_of(name)) for name in _data_inputs(node)]
        if any(p is not None and eligible(p) and successor(p) is node for p in producers):
            continue
        chain = [node]
        while (nxt := successor(chain[-1])) is not None:
            chain.append(nxt)
        if len(chain) >= 2:
            chains.append(chain)
            taken.update(n.name for n in chain)
    return chains


def encapsulate_chain(chain: list, index: int):
    """(cluster node, cluster GraphDef): the node takes the tail's name, so consumers of the
    chain's result keep their inputs unchanged."""
    tail = chain[-1]
    members = {node.name for node in chain}
    cluster_graph = graph_pb2.GraphDef()
    outer_inputs = []
    copies = []
    for node in chain:
        copy = node_def_pb2.NodeDef()
        copy.CopyFrom(node)
        copy.device = ""
        del copy.input[:]
        for name in _data_inputs(node):
            if _node_of(name) in members:
                copy.input.append(_node_of(name))
            else:
                copy.input.append(arg_name(len(outer_inputs)))
                outer_inputs.append(name)
        for key in [k for k in copy.attr if k.startswith("_")]:
            del copy.attr[key]
        copies.append(copy)
    for i in range(len(outer_inputs)):
        arg = cluster_graph.node.add(name=arg_name(i), op="Placeholder")
        arg.attr["dtype"].type = 1
        arg.attr["shape"].shape.unknown_rank = True
    cluster_graph.node.extend(copies)
    ret = cluster_graph.node.add(name=ret_name(0), op="Identity", input=[tail.name])
    ret.attr["T"].type = 1

    cluster = node_def_pb2.NodeDef(name=tail.name, op=CLUSTER_OP, device=tail.device)
    cluster.input.extend(outer_inputs)
    controls = sorted({name for node in chain for name in node.input if name.startswith("^")})
    cluster.input.extend(controls)
    cluster.attr["Tin"].list.type.extend([1] * len(outer_inputs))
    cluster.attr["Tout"].list.type.extend([1])
    cluster.attr["cluster_graph"].s = cluster_graph.SerializeToString()
    cluster.attr["cluster_name"].s = f"test_cluster_{index}".encode()
    return cluster


def chain_rewriter(graph_def, fetch: list, preserve: list):
    if any(node.op == CLUSTER_OP or FALLBACK_ATTR in node.attr for node in graph_def.node):
        return None
    chains = find_chains(graph_def, set(preserve))
    if not chains:
        return None
    replaced = {node.name for chain in chains for node in chain}
    result = graph_pb2.GraphDef()
    result.CopyFrom(graph_def)
    del result.node[:]
    for node in graph_def.node:
        if node.name not in replaced:
            result.node.add().CopyFrom(node)
    for index, chain in enumerate(chains):
        result.node.add().CopyFrom(encapsulate_chain(chain, index))
    return result


class NumpyDevice:
    """Runs a test cluster with numpy (a stand-in for an OpenVINO backend)."""

    def __init__(self, spec: ClusterSpec):
        self.spec = spec
        self.order = [node for node in spec.graph_def.node if node.op != "Placeholder"]

    def run(self, inputs, outputs):
        with SWITCHES.lock:
            SWITCHES.device_calls += 1
        if SWITCHES.fail:
            raise BackendError("run", "numpy device told to fail")
        values = {arg_name(i): array for i, array in enumerate(inputs)}
        for node in self.order:
            args = [values[_node_of(name)] for name in _data_inputs(node)]
            if node.op == "Identity":
                values[node.name] = args[0]
            elif node.op in UNARY:
                values[node.name] = UNARY[node.op](args[0]).astype(np.float32)
            else:
                values[node.name] = BINARY[node.op](*args).astype(np.float32)
        result = values[ret_name(0)]
        np.copyto(outputs.allocate(0, result.shape), result)


def numpy_cluster_factory(name, graph_bytes, tin, tout, backend=""):
    spec = ClusterSpec.parse(name, graph_bytes, tin, tout)
    return ClusterHandle(spec, NumpyDevice(spec), settings=config.current)


@contextlib.contextmanager
def use_test_bridge(graph_rewriter=chain_rewriter):
    """Install the chain rewriter and numpy device; TF re-instantiates functions inside."""
    SWITCHES.fail = False
    SWITCHES.device_calls = 0
    with bridge.override(graph_rewriter=graph_rewriter, cluster_factory=numpy_cluster_factory):
        bridge.clear_function_cache()
        try:
            yield SWITCHES
        finally:
            SWITCHES.fail = False
            bridge.clear_function_cache()
