"""OVTF's offline helpers: graph rewrites before a model runs, warm-up calls, IR export.

OVTF rewrote graphs ahead of time with these; ovtf rewrites every graph as TensorFlow runs
it, so each helper here returns the graph or function as TensorFlow will run it (frozen,
specialized), checks what OVTF checked, or says what to use instead.
"""

from __future__ import annotations

import os

__all__ = ["InvalidArgument", "export_ir", "optimize_graph_with_openvino_tf1",
           "convert_variables_to_constants_with_openvino_tf2", "optimize_graph_with_openvino_tf2",
           "prepare_model", "prepare_model_with_session"]


class InvalidArgument(ValueError, AssertionError):
    """A bad argument. A ValueError, as everywhere in ovtf; also an AssertionError, which is
    what OVTF raised from its graph-optimization helpers."""


def export_ir(output_dir, *args, **kwargs):
    """Not offered: ovtf has no export of the last model's clusters as IR files."""
    raise NotImplementedError(
        "openvino_tensorflow.export_ir is not available with ovtf: to keep compiled clusters "
        "use ovtf.set_cache_dir(path) (OPENVINO_TF_MODEL_CACHE_DIR); to get IR files of a "
        "model convert it with openvino.convert_model and openvino.save_model")


def optimize_graph_with_openvino_tf1(frozen_model_file, output_node_names):
    """OVTF's offline rewrite of a frozen TF1 GraphDef. ovtf rewrites graphs as TensorFlow
    runs them, so the GraphDef is returned as read: importing it and running it in a Session
    runs its clusters on OpenVINO (output_node_names are checked to exist)."""
    import tensorflow as tf
    if not isinstance(frozen_model_file, (str, bytes, os.PathLike)) or not os.path.isfile(frozen_model_file):
        raise InvalidArgument(f"frozen model file {frozen_model_file!r} does not exist "
                              "(a path to a binary GraphDef .pb file)")
    graph_def = tf.compat.v1.GraphDef()
    with open(frozen_model_file, "rb") as handle:
        graph_def.ParseFromString(handle.read())
    names = {node.name for node in graph_def.node}
    missing = [name for name in output_node_names if name.split(":")[0] not in names]
    if missing:
        raise InvalidArgument(f"output node(s) {', '.join(map(repr, missing))} are not in "
                              f"{frozen_model_file!r}")
    return graph_def


def convert_variables_to_constants_with_openvino_tf2(
        saved_model_dir, input_tensors=None, saved_model_signature="serving_default",
        saved_model_tag="serve"):
    """A SavedModel signature as one ConcreteFunction specialized to `input_tensors` (a
    tensor, a list or a dict of tensors / arrays), its variables frozen as constants; it
    returns a flat list of outputs. Calling it runs its clusters on OpenVINO, as every TF
    function does with ovtf."""
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants

    if not isinstance(saved_model_dir, (str, os.PathLike)) or not os.path.isdir(saved_model_dir):
        raise InvalidArgument(f"SavedModel directory {saved_model_dir!r} does not exist")
    try:
        model = tf.saved_model.load(saved_model_dir, tags=[saved_model_tag])
    except (RuntimeError, ValueError):
        model = tf.saved_model.load(saved_model_dir)
    if saved_model_signature not in model.signatures:
        raise InvalidArgument(
            f"signature {saved_model_signature!r} is not in {saved_model_dir!r}; "
            f"available: {', '.join(model.signatures) or 'none'}")
    signature = model.signatures[saved_model_signature]
    if isinstance(input_tensors, dict):
        specs = {key: tf.TensorSpec.from_tensor(tf.convert_to_tensor(value), name=key)
                 for key, value in input_tensors.items()}
        concrete = tf.function(signature).get_concrete_function(**specs)
    else:
        tensors = input_tensors if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if any(tensor is None for tensor in tensors):
            raise InvalidArgument("input_tensors: give a sample tensor (or a list or dict of "
                                  "them) with the shapes and dtypes the model will be called with")
        specs = [tf.TensorSpec.from_tensor(tf.convert_to_tensor(tensor)) for tensor in tensors]
        concrete = tf.function(signature, input_signature=specs).get_concrete_function()
    # As in OVTF, the frozen function returns its outputs as a flat list, in the order of
    # tf.nest.flatten(signature.structured_outputs).
    return convert_to_constants.convert_variables_to_constants_v2(concrete)


def optimize_graph_with_openvino_tf2(
        saved_model_dir, input_tensors=None, saved_model_signature="serving_default",
        saved_model_tag="serve", save_optimized_function_signature=False):
    """OVTF's offline rewrite of a SavedModel signature: with ovtf the frozen, specialized
    ConcreteFunction of convert_variables_to_constants_with_openvino_tf2 (ovtf rewrites it
    when it first runs)."""
    if save_optimized_function_signature:
        raise InvalidArgument(
            "save_optimized_function_signature=True is not supported: ovtf rewrites graphs as "
            "they run, so there is no optimized signature to save; use ovtf.set_cache_dir to "
            "keep compiled clusters across processes")
    return convert_variables_to_constants_with_openvino_tf2(
        saved_model_dir, input_tensors, saved_model_signature, saved_model_tag)


def prepare_model(model, shape, data_type) -> None:
    """Warm up `model` (compile its clusters) with a random input of `shape` and `data_type`."""
    import tensorflow as tf
    model(tf.random.uniform(shape, minval=0, maxval=None if data_type.is_floating else 2,
                            dtype=data_type))


def prepare_model_with_session(session, graph, input_names, output_names, input_shapes) -> None:
    """Warm up a TF1 graph in `session`: one run with uninitialized inputs of the given shapes."""
    import numpy as np
    if len(input_names) != len(input_shapes):
        raise ValueError(f"{len(input_names)} input names but {len(input_shapes)} input shapes")
    feeds = {}
    for name, shape in zip(input_names, input_shapes):
        tensor = graph.get_operation_by_name(name).outputs[0]
        feeds[tensor] = np.zeros(shape, dtype=tensor.dtype.as_numpy_dtype)
    session.run([graph.get_operation_by_name(name).outputs[0] for name in output_names], feeds)
