"""Run a cluster's original subgraph with TensorFlow: the answer when the device can't.

The native kernel calls this on one of its fallback worker threads, never on TensorFlow's
inter-op pool (a kernel that waits for TensorFlow there deadlocks it). In TF2 the subgraph
becomes a cached concrete function; where the thread is not executing eagerly (a TF1
program that disabled eager execution) it runs in a private `tf.compat.v1.Session`.
Every node of the fallback graph carries `FALLBACK_ATTR`, so ovtf never rewrites it again.
"""

from __future__ import annotations

import threading

import numpy as np

from ovtf.spec import FALLBACK_ATTR, ClusterSpec


def fallback_graph_def(spec: ClusterSpec):
    """The cluster subgraph with every node marked as an ovtf fallback."""
    graph_def = type(spec.graph_def)()
    graph_def.CopyFrom(spec.graph_def)
    for node in graph_def.node:
        node.attr[FALLBACK_ATTR].b = True
    return graph_def


def _tf_shape(shape):
    if shape is None:
        return None
    return [None if dim < 0 else dim for dim in shape]


def zero_size_inside(spec: ClusterSpec, inputs: list):
    """What in the cluster makes a zero-size data tensor from these inputs' shapes, by
    TensorFlow's own shape inference (asked only after OpenVINO refused the cluster: its
    frontend rejects some of them, "Batch size is zero" for a pool over `x[3:]` of 2 rows),
    else None. Data: rank >= 2 or a non-integer dtype (an empty 1-D integer tensor is the
    shape of a scalar)."""
    import tensorflow as tf

    try:
        graph = tf.Graph()
        with graph.as_default():
            feeds = {f"{tensor.name}:0": tf.compat.v1.placeholder(
                         tf.as_dtype(tensor.tf_dtype), tuple(array.shape))
                     for tensor, array in zip(spec.inputs, inputs)}
            tf.graph_util.import_graph_def(spec.graph_def, input_map=feeds, name="cluster")
        for operation in graph.get_operations():
            if not operation.name.startswith("cluster/") or operation.type == "Placeholder":
                continue
            for output in operation.outputs:
                dims = output.shape.as_list() if output.shape.rank is not None else []
                if 0 in dims and (len(dims) >= 2 or not output.dtype.is_integer):
                    return f"{operation.type} {operation.name[len('cluster/'):]} makes a " \
                           f"zero-size tensor {['?' if d is None else d for d in dims]}"
    except Exception:   # shapes TF itself rejects: no opinion here
        return None
    return None


class TensorFlowRunner:
    """Executes one cluster subgraph with TensorFlow, building what it needs once."""

    def __init__(self, spec: ClusterSpec):
        self.spec = spec
        self._lock = threading.Lock()
        self._function = None
        self._session = None

    def run(self, inputs: list) -> list:
        import tensorflow as tf

        if tf.executing_eagerly():
            outputs = self._concrete_function()(*inputs)
            return [np.asarray(output) for output in outputs]
        session, placeholders, fetches = self._private_session()
        return session.run(fetches, feed_dict=dict(zip(placeholders, inputs)))

    def _concrete_function(self):
        with self._lock:
            if self._function is None:
                self._function = self._build_function()
            return self._function

    def _build_function(self):
        import tensorflow as tf

        graph_def = fallback_graph_def(self.spec)
        arg_names = [f"{spec.name}:0" for spec in self.spec.inputs]
        ret_names = [f"{spec.name}:0" for spec in self.spec.outputs]

        def imported(*args):
            return tf.graph_util.import_graph_def(
                graph_def, input_map=dict(zip(arg_names, args)), return_elements=ret_names,
                name="")

        # spec shapes use -1 for dimensions TF did not know (a dynamic batch): None here
        signature = [tf.TensorSpec(shape=_tf_shape(spec.shape), dtype=tf.as_dtype(spec.tf_dtype))
                     for spec in self.spec.inputs]
        function = tf.compat.v1.wrap_function(imported, signature)
        return function

    def _private_session(self):
        with self._lock:
            if self._session is None:
                import tensorflow as tf

                graph = tf.Graph()
                with graph.as_default():
                    tf.graph_util.import_graph_def(fallback_graph_def(self.spec), name="")
                placeholders = [graph.get_tensor_by_name(f"{s.name}:0") for s in self.spec.inputs]
                fetches = [graph.get_tensor_by_name(f"{s.name}:0") for s in self.spec.outputs]
                # Grappler off: the subgraph's own kernels decide, as in the user's graph
                # (grappler drops a one-way SplitV whose size is wrong, where the kernel
                # raises InvalidArgumentError)
                config = tf.compat.v1.ConfigProto()
                config.graph_options.rewrite_options.disable_meta_optimizer = True
                self._session = (tf.compat.v1.Session(graph=graph, config=config), placeholders,
                                 fetches)
            return self._session
