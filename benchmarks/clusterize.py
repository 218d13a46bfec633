"""Lay out a whole Keras model as one ovtf cluster (without the native bridge).

Used by the benchmark's `device` mode and by measurements of the runtime alone: it builds
the `ClusterSpec` the partitioner would produce if the entire model were one cluster, with
every weight as a variable input (`_ovtf_variable`), exactly as TF2 weights reach clusters
through `ReadVariableOp`.
"""

from __future__ import annotations


def keras_model_as_cluster(model, input_shapes, name="model"):
    """(ClusterSpec, [weight arrays in variable-input order]) for `model(*inputs)`.

    input_shapes: one shape per model input, None for unknown dims.
    """
    import numpy as np
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2

    from ovtf.spec import ClusterSpec

    specs = [tf.TensorSpec(shape, tf.float32) for shape in input_shapes]
    function = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
    concrete = function.get_concrete_function(*specs)
    graph_def = concrete.graph.as_graph_def()
    # internal placeholder (resource) name -> the tf.Variable it captures
    by_handle = {}
    for variable in model.weights:
        tf_variable = getattr(variable, "value", variable)
        by_handle[id(tf_variable.handle)] = tf_variable
    resources = {internal.op.name: by_handle.get(id(external))
                 for external, internal in concrete.graph.captures}

    inputs = [t.op.name for t in concrete.inputs[:len(specs)]]
    output_names = [t.name for t in concrete.outputs]
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    renames = {}
    weights = []
    index = 0
    for name in inputs:
        renames[name] = f"ovtf_arg_{index}"
        index += 1
    for node in graph_def.node:
        if node.op == "ReadVariableOp":
            resource = node.input[0].split(":")[0]
            value = resources.get(resource)
            if value is None:
                raise ValueError(f"{node.name} reads {resource}, which is not a model weight")
            array = np.asarray(value.numpy())
            renames[node.name] = f"ovtf_arg_{index}"
            weights.append((index, array))
            index += 1
    for node in graph_def.node:
        if node.op in ("ReadVariableOp", "NoOp") or (node.op == "Placeholder" and node.name not in inputs):
            continue
        new = out.node.add()
        new.CopyFrom(node)
        if node.name in renames:
            new.name = renames[node.name]
            new.op = "Placeholder"
            new.ClearField("input")
            new.attr.pop("_user_specified_name", None)
        del new.input[:]
        for source in node.input:
            if source.startswith("^"):
                continue
            base, _, port = source.partition(":")
            base = renames.get(base, base)
            new.input.append(f"{base}:{port}" if port else base)
    for index, array in weights:
        node = out.node.add()
        node.name = f"ovtf_arg_{index}"
        node.op = "Placeholder"
        node.attr["dtype"].type = tf.as_dtype(array.dtype).as_datatype_enum
        for dim in array.shape:
            node.attr["shape"].shape.dim.add().size = dim
        node.attr["_ovtf_variable"].b = True
    for i, name in enumerate(output_names):
        node = out.node.add()
        node.name = f"ovtf_ret_{i}"
        node.op = "Identity"
        base, _, port = name.partition(":")
        node.input.append(f"{renames.get(base, base)}:{port}" if port != "0" else renames.get(base, base))
        node.attr["T"].type = tf.float32.as_datatype_enum
    spec = ClusterSpec.parse(name, out.SerializeToString())
    return spec, [array for _, array in weights]
