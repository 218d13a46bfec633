"""Models the `ovtf` command understands: a SavedModel directory, a `.keras` file, a frozen
GraphDef `.pb`. Each gives one or more `Entry`s (a signature / the model's call):

* `entry.graph_def`, `entry.fetch`: the graph TensorFlow would hand ovtf, without running it
  (TensorFlow's graph optimizer is run on the function, which inlines nested functions as
  instantiation does; oneDNN fusions are not applied, so op counts can differ by a few);
* `entry.inputs`: [(name, dtype, shape)] with None for unknown dimensions;
* `model.instantiate(entry, shapes)`: a fresh callable (numpy inputs -> list of numpy outputs)
  that TensorFlow instantiates at its first call, so ovtf's on/off state at that moment decides
  whether it is rewritten;
* `model.openvino(entry, shapes)`: the same model converted with `ov.convert_model`.

Errors a user can fix (missing path, unknown format, unreadable file) raise `ModelError`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

FORMATS = ("SavedModel directory", ".keras file", "frozen GraphDef .pb")


class ModelError(Exception):
    """The model path can't be used; the message says why."""


@dataclass
class Entry:
    name: str
    inputs: list                       # [(name, tf.DType, [dim or None])]
    graph_def: object = None
    fetch: list = field(default_factory=list)
    function: object = None            # the concrete function (SavedModel / Keras)


def load(path: str):
    if not os.path.exists(path):
        raise ModelError(f"model path {path!r} does not exist")
    if os.path.isdir(path):
        if not (os.path.exists(os.path.join(path, "saved_model.pb"))
                or os.path.exists(os.path.join(path, "saved_model.pbtxt"))):
            raise ModelError(f"{path!r} is a directory without saved_model.pb: not a SavedModel; "
                             f"ovtf understands a {', a '.join(FORMATS)}")
        return SavedModel(path)
    lower = path.lower()
    if lower.endswith(".keras"):
        return KerasFile(path)
    if lower.endswith(".pb"):
        if os.path.basename(lower) == "saved_model.pb":
            raise ModelError(f"{path!r} is part of a SavedModel: pass its directory "
                             f"{os.path.dirname(path) or '.'!r}")
        return FrozenGraph(path)
    raise ModelError(f"unknown model format: {path!r}; ovtf understands a {', a '.join(FORMATS)}")


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def optimized_graph(function):
    """The function's graph after TensorFlow's graph optimizer (functions inlined)."""
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer
    import tensorflow as tf

    graph_def = function.graph.as_graph_def()
    try:
        meta = tf.compat.v1.train.export_meta_graph(graph_def=graph_def, graph=function.graph)
        fetches = meta_graph_pb2.CollectionDef()
        for tensor in function.outputs:
            fetches.node_list.value.append(tensor.name)
        meta.collection_def["train_op"].CopyFrom(fetches)
        from ovtf import _quiet
        with _quiet.filtered_stderr():  # grappler's "Starting new session" notices
            return tf_optimizer.OptimizeGraph(config_pb2.ConfigProto(), meta)
    except Exception:  # the raw graph is still a faithful picture, nested calls and all
        return graph_def


def _node(tensor_name: str) -> str:
    return tensor_name.split(":")[0]


def concrete_shapes(inputs, batch: int, other: int = 16) -> list:
    """Static shapes: an unknown first dimension is the batch, others `other`."""
    shapes = []
    for _, _, shape in inputs:
        if shape is None:
            raise ModelError("an input has unknown rank; ovtf bench needs known ranks")
        shapes.append([(batch if i == 0 else other) if d is None else int(d)
                       for i, d in enumerate(shape)])
    return shapes


def random_inputs(inputs, shapes, seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays = []
    for (_, dtype, _), shape in zip(inputs, shapes):
        if dtype.is_floating:
            arrays.append(rng.random(shape, dtype=np.float32).astype(dtype.as_numpy_dtype))
        elif dtype.is_bool:
            arrays.append(rng.random(shape) < 0.5)
        elif dtype.is_integer:
            arrays.append(rng.integers(0, 10, shape).astype(dtype.as_numpy_dtype))
        else:
            raise ModelError(f"input dtype {dtype.name} can't be generated")
    return arrays


def _outputs(result) -> list:
    import tensorflow as tf

    flat = tf.nest.flatten(result)
    return [t.numpy() if hasattr(t, "numpy") else t for t in flat]


def _openvino_reshape(model, shapes):
    import openvino as ov

    if len(model.inputs) == len(shapes):
        model.reshape({port.get_any_name() if port.get_names() else i: ov.PartialShape(shape)
                       for i, (port, shape) in enumerate(zip(model.inputs, shapes))})
    return model


class SavedModel:
    format = "SavedModel"

    def __init__(self, path):
        self.path = path
        self.entries = []
        loaded = self._load()
        signatures = dict(loaded.signatures)
        if not signatures:
            raise ModelError(f"SavedModel {path!r} has no signatures to analyze "
                             "(save it with signatures=... or export a Keras model)")
        self._alive = [loaded]  # a signature's variables live as long as its loaded object
        for name, function in sorted(signatures.items()):
            specs = function.structured_input_signature[1]
            inputs = [(key, spec.dtype, None if spec.shape.rank is None else spec.shape.as_list())
                      for key, spec in sorted(specs.items())]
            self.entries.append(Entry(name, inputs, optimized_graph(function),
                                      [_node(t.name) for t in function.outputs], function))

    def _load(self):
        import tensorflow as tf
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = tf.saved_model.load(self.path)
            getattr(self, "_alive", []).append(loaded)
            return loaded
        except Exception as error:
            raise ModelError(f"cannot load SavedModel {self.path!r}: {_first_line(error)}") from None

    def instantiate(self, entry, shapes):
        function = self._load().signatures[entry.name]  # a fresh load: a new function

        def call(arrays):
            return _outputs(function(**{name: a for (name, _, _), a in zip(entry.inputs, arrays)}))
        return call

    def openvino(self, entry, shapes):
        import openvino as ov
        function = self._load().signatures[entry.name]
        return _openvino_reshape(ov.convert_model(function), shapes)


class KerasFile:
    format = "Keras"

    def __init__(self, path):
        self.path = path
        try:
            import keras
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.model = keras.saving.load_model(path, compile=False)
        except Exception as error:
            raise ModelError(f"cannot load Keras file {path!r}: {_first_line(error)}") from None
        inputs = []
        for i, tensor in enumerate(self.model.inputs):
            import tensorflow as tf
            name = getattr(tensor, "name", None) or f"input_{i}"
            inputs.append((name, tf.as_dtype(tensor.dtype), list(tensor.shape)))
        function = self._function(inputs, [s for _, _, s in inputs]).get_concrete_function()
        self.entries = [Entry("call", inputs, optimized_graph(function),
                              [_node(t.name) for t in function.outputs], function)]

    def _function(self, inputs, shapes):
        import tensorflow as tf
        specs = [tf.TensorSpec(shape, dtype) for (_, dtype, _), shape in zip(inputs, shapes)]
        model = self.model
        if len(specs) == 1:
            return tf.function(lambda x: model(x, training=False), input_signature=specs)
        return tf.function(lambda *xs: model(list(xs), training=False), input_signature=specs)

    def instantiate(self, entry, shapes):
        function = self._function(entry.inputs, shapes)
        return lambda arrays: _outputs(function(*arrays))

    def openvino(self, entry, shapes):
        import openvino as ov
        return ov.convert_model(self._function(entry.inputs, shapes).get_concrete_function())


class FrozenGraph:
    format = "frozen GraphDef"

    def __init__(self, path):
        from tensorflow.core.framework import graph_pb2
        self.path = path
        graph_def = graph_pb2.GraphDef()
        try:
            with open(path, "rb") as handle:
                graph_def.ParseFromString(handle.read())
        except Exception as error:
            raise ModelError(f"cannot read {path!r} as a frozen GraphDef: {_first_line(error)}") from None
        if not graph_def.node:
            raise ModelError(f"{path!r} holds no graph nodes: not a frozen GraphDef")
        if graph_def.library.function and any(n.op == "StatefulPartitionedCall" for n in graph_def.node):
            pass  # still a graph; its calls are analyzed as they are
        import tensorflow as tf
        consumers = {inp.lstrip("^").split(":")[0] for n in graph_def.node for inp in n.input}
        inputs = []
        for node in graph_def.node:
            if node.op == "Placeholder":
                shape = node.attr["shape"].shape
                dims = None if shape.unknown_rank else [d.size if d.size >= 0 else None for d in shape.dim]
                inputs.append((node.name, tf.as_dtype(node.attr["dtype"].type), dims))
        fetch = [n.name for n in graph_def.node if n.name not in consumers
                 and n.op not in ("NoOp", "Placeholder", "Const", "Assert", "SaveV2", "RestoreV2")]
        if not fetch:
            raise ModelError(f"{path!r}: no output node found (every node feeds another)")
        self.graph_def = graph_def
        self.entries = [Entry("graph", inputs, graph_def, fetch)]

    def instantiate(self, entry, shapes):
        import tensorflow as tf
        graph_def = self.graph_def

        def body():
            tf.graph_util.import_graph_def(graph_def, name="")
        wrapped = tf.compat.v1.wrap_function(body, [])
        function = wrapped.prune([wrapped.graph.get_tensor_by_name(f"{name}:0") for name, _, _ in entry.inputs],
                                 [wrapped.graph.get_tensor_by_name(f"{name}:0") for name in entry.fetch])
        return lambda arrays: _outputs(function(*[tf.constant(a) for a in arrays]))

    def openvino(self, entry, shapes):
        import openvino as ov
        return _openvino_reshape(ov.convert_model(self.path), shapes)
