"""Rules decided from a graph's constants: values OpenVINO cannot compute on, known before any
call (a zero-size constant, a constant NonMaxSuppression). `ovtf.ocm.marker` chains them with
the generic rules (`ovtf.ocm.rules`); zero-size tensors that only arrive at run time are the
runtime's (`ovtf.runtime.cluster`, fallback reason "zero_size")."""

from __future__ import annotations

from tensorflow.core.framework import types_pb2

from ovtf.ocm.policy import MAX_BAKED_ELEMENTS
from ovtf.ocm.rules import BOUNDARY_OPS, CONTROL_FLOW_OPS
from ovtf.ocm.support import SHAPE, SUPPORTED, Mark, OperatorSupport
from ovtf.ocm.table import is_stateful


class NoZeroSize(OperatorSupport):
    """Zero-size tensors known when the graph is built never reach OpenVINO: its TensorFlow
    frontend and CPU plugin crash the process on many of them (ArgMin of an empty constant:
    SIGSEGV in the frontend; BroadcastTo a zero-size shape: SIGFPE; MatrixBandPart: heap
    corruption) or compute wrong shapes, where TensorFlow returns an empty tensor or raises.
    Refused (reason SHAPE), so the node runs in TensorFlow:
      * a Const with a zero dim, and every node that reads one;
      * a node whose shape argument is a constant with a 0 in it (BroadcastTo, Fill,
        Reshape, Tile multiples, Slice sizes, ...): its output is zero-size;
      * a StridedSlice whose constant bounds select nothing on some axis whatever the input
        shape (`x[-3:-3:-1]`, `x[2:2]`): OpenVINO returns one element there.
    Zero-size tensors that arrive at run time are routed to TensorFlow by the runtime
    (`ovtf.runtime.cluster`, fallback reason "zero_size")."""

    # op -> input position of its output-shape argument (a 0 there: a zero-size output)
    SHAPE_ARGUMENTS = {"BroadcastTo": 1, "Fill": 0, "Reshape": 1, "Tile": 1, "Slice": 2,
                       "Empty": 0, "RandomUniform": 0, "RandomStandardNormal": 0,
                       "TruncatedNormal": 0, "StatelessRandomUniformV2": 0,
                       "StatelessRandomNormalV2": 0}
    _MAX_ELEMENTS = MAX_BAKED_ELEMENTS   # shape arguments are small; larger ones are data

    def __init__(self, graph_def):
        self.nodes = {node.name: node for node in graph_def.node if node.op == "Const"}
        self._empty: dict = {}
        self._values: dict = {}

    def judge(self, node) -> Mark:
        if node.op == "Const":
            shape = self._zero_dims(node)
            if shape is not None:
                return Mark(False, SHAPE, f"a zero-size constant (shape {shape}); OpenVINO "
                                          "does not compute on zero-size tensors")
            return SUPPORTED
        data = [name for name in node.input if not name.startswith("^")]
        for name in data:
            source = self.nodes.get(name.split(":")[0])
            if source is not None:
                shape = self._zero_dims(source)
                if shape is not None:
                    return Mark(False, SHAPE, f"reads the zero-size constant {source.name} "
                                              f"(shape {shape}); OpenVINO does not compute on "
                                              "zero-size tensors")
        position = self.SHAPE_ARGUMENTS.get(node.op)
        if position is not None and position < len(data):
            value = self._value(data[position])
            if value is not None and value.ndim <= 1 and 0 in value.tolist():
                return Mark(False, SHAPE, f"its shape argument {value.tolist()} has a 0: the "
                                          "output is zero-size")
        if node.op == "StridedSlice" and len(data) >= 4:
            axis = self._empty_slice_axis(node, data)
            if axis is not None:
                return Mark(False, SHAPE, f"its constant bounds select nothing in slice entry "
                                          f"{axis}: the output is zero-size")
        return SUPPORTED

    def _zero_dims(self, node):
        """The shape of a Const with a zero dim, else None."""
        if node.name not in self._empty:
            dims = [d.size for d in node.attr["value"].tensor.tensor_shape.dim] \
                if "value" in node.attr else []
            self._empty[node.name] = dims if 0 in dims else None
        return self._empty[node.name]

    def _value(self, tensor_name):
        """The numpy value of a small integer Const `tensor_name`, else None."""
        node = self.nodes.get(tensor_name.split(":")[0])
        if node is None or "value" not in node.attr:
            return None
        if node.name not in self._values:
            value = None
            proto = node.attr["value"].tensor
            if proto.dtype in (types_pb2.DT_INT32, types_pb2.DT_INT64):
                size = 1
                for dim in proto.tensor_shape.dim:
                    size *= dim.size
                if size <= self._MAX_ELEMENTS:
                    from tensorflow.python.framework import tensor_util
                    try:
                        value = tensor_util.MakeNdarray(proto)
                    except Exception:   # a malformed constant: no opinion here
                        value = None
            self._values[node.name] = value
        return self._values[node.name]

    def _empty_slice_axis(self, node, data):
        """An axis that the StridedSlice's constant begin/end/strides make empty for every
        input shape (bounds of one sign, none masked), else None."""
        begin, end, strides = (self._value(name) for name in data[1:4])
        if begin is None or end is None or strides is None or begin.ndim != 1 or \
                not (len(begin) == len(end) == len(strides)):
            return None
        masks = {name: node.attr[name].i if name in node.attr else 0
                 for name in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                              "shrink_axis_mask")}
        special = masks["begin_mask"] | masks["end_mask"] | masks["ellipsis_mask"] | \
            masks["new_axis_mask"] | masks["shrink_axis_mask"]
        for index, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
            if special & (1 << index) or s == 0 or (b < 0) != (e < 0):
                continue
            if (s > 0 and e <= b) or (s < 0 and e >= b):
                return index
        return None


class NoConstantNms(OperatorSupport):
    """A NonMaxSuppression whose boxes and scores are computed from constants alone stays in
    TensorFlow: OpenVINO's CPU plugin (2026.4) cannot compile it ("Can not create StaticMemory
    object. The memory desc is undefined": it takes the node for a constant, but its output
    shape is only known when it runs). TF's own kernel tests build such graphs."""

    def __init__(self, graph_def):
        self._constant = _constant_nodes(graph_def) \
            if any(node.op.startswith("NonMaxSuppression") for node in graph_def.node) else set()

    def judge(self, node) -> Mark:
        if not node.op.startswith("NonMaxSuppression"):
            return SUPPORTED
        data = [name.split(":")[0] for name in node.input if not name.startswith("^")]
        if len(data) >= 2 and data[0] in self._constant and data[1] in self._constant:
            return Mark(False, SHAPE, "its boxes and scores are constants: OpenVINO's CPU plugin "
                                      "cannot compile a constant NonMaxSuppression (its output "
                                      "shape is only known when it runs)")
        return SUPPORTED


def _constant_nodes(graph_def) -> set:
    """Names of the nodes whose value follows from Const nodes alone (no stateful op, no
    graph input on the way)."""
    constant = {node.name for node in graph_def.node if node.op == "Const"}
    pending = [node for node in graph_def.node if node.op != "Const" and node.input
               and node.op not in BOUNDARY_OPS and node.op not in CONTROL_FLOW_OPS]
    changed = True
    while changed:
        changed = False
        for node in pending:
            if node.name in constant:
                continue
            if all(name.lstrip("^").split(":")[0] in constant for name in node.input) \
                    and not is_stateful(node.op):
                constant.add(node.name)
                changed = True
    return constant
