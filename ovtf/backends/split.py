"""The SPLIT backend family: one call's batch divided among several backends.

    ovtf.set_backend("SPLIT:NPU.0,NPU.1,GPU")       # OVTF_BACKEND=SPLIT:... works too

Names: `SPLIT:<member>,<member>,...`, each member a backend name `ovtf.backends.get`
accepts (not itself a SPLIT); a member may be listed twice. A malformed SPLIT name (no
member, an empty member, one that is not available, a nested SPLIT) raises ValueError naming
the value and what is accepted.

What it runs: what every member supports (`ocm.chain` of the members' supports).

How one call runs (`SplitExecutable`, one per cluster input signature):
* The cluster must be batch-separable (`batch_separable`, decided from the cluster graph
  and the signature): every data input has the batch dim (dim 0, the same size B), every
  output depends on the inputs row by row, and every op on the way is on an allow-list of
  row-wise ops whose attributes keep dim 0 alone (no reduction over axis 0, no reshape or
  transpose moving dim 0, no matmul or concat across it, no op reading the batch size...).
  Otherwise the whole batch runs on one member (the first that compiles), reason logged once.
* Rows are divided in contiguous, ordered slices; every member gets at least one row when
  B >= members (so every member keeps being measured), the rest in proportion to its
  measured throughput (rows/s). With B < members the B fastest members get a row each.
  B = 0: one zero row runs (uncounted) to learn the outputs' row shapes (OpenVINO refuses
  an empty batch in some ops, e.g. MaxPool); the outputs get 0 rows.
* Members run concurrently (the calling thread runs one slice, a small pool the others);
  each member compiles its own executable per slice size (lazily, not timed).
  Outputs are gathered into TensorFlow's output arrays in row order.
* Balancing: start even. After each call the throughput estimate of every member that ran
  is updated (rows/s, averaged 1:1 with the previous estimate). The split adopts the
  estimates only when `SUSTAINED` calls in a row were imbalanced (the slowest slice took
  more than `IMBALANCE` x the fastest and by more than `MIN_GAP_S`) *and* the new split is
  predicted to shorten the slowest slice by at least `MIN_GAIN`: every new slice size
  costs each member a compilation (~0.5 s for MobileNetV2 here), so a split that chases
  scheduling noise loses far more than it gains (measured before this rule, 4 emulated
  devices on 2 shared cores: 0.3x one device, 40 compiles in 16 calls). The split stays
  a deterministic function of the timings. A change is logged (INFO). Member
  compilations (lazy, per slice size) are not in the timings; each counts in `compiles`.
* A member that fails to compile or run a slice is dropped for this signature (logged,
  counted: `split_member_failures`), and the rows it had re-run on the remaining members;
  with none left the call fails with BackendError (the runtime then runs it in TensorFlow).
Per-member counters: `ovtf.stats()["devices"][member]` (calls, rows, failures, seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ovtf import backends
from ovtf import counters as _counters
from ovtf.backends import Backend, BackendError, BackendFamily, Executable, register_family
from ovtf.once import Once

__all__ = ["SplitFamily", "SplitBackend", "SplitExecutable", "batch_separable", "PREFIX",
           "IMBALANCE", "MIN_GAP_S", "SUSTAINED", "MIN_GAIN", "apportion", "Balancer"]

logger = logging.getLogger("ovtf")

PREFIX = "SPLIT:"
IMBALANCE = 1.25
MIN_GAP_S = 0.001     # slices finishing closer together than this are balanced enough
SUSTAINED = 3         # imbalanced calls in a row before the split moves
MIN_GAIN = 0.15       # a new split must cut the predicted slowest slice by this much
_not_split_notices = Once()


# --- names ---------------------------------------------------------------------------------

class SplitFamily(BackendFamily):
    def canonical_name(self, name: str) -> str | None:
        if not isinstance(name, str) or not name.strip().upper().startswith(PREFIX):
            return None
        text = name.strip()
        rest = text[len(PREFIX):]
        accepted = lambda: ", ".join(n for n in backends.list_backends()  # noqa: E731
                                     if not n.upper().startswith(PREFIX)) or "none"
        form = "'SPLIT:<dev>,<dev>,...'"
        if not rest.strip():
            raise ValueError(f"backend {name!r}: SPLIT needs at least one member: {form} "
                             f"with members from: {accepted()}")
        members = []
        for position, part in enumerate(rest.split(","), 1):
            part = part.strip()
            if not part:
                raise ValueError(f"backend {name!r}: member {position} is empty; expected {form} "
                                 f"with members from: {accepted()}")
            if part.upper().startswith(PREFIX) or part.upper() == "SPLIT":
                raise ValueError(f"backend {name!r}: a SPLIT cannot be a member of a SPLIT; "
                                 f"expected {form} with members from: {accepted()}")
            canonical = backends.canonical_name(part)
            if canonical is None:
                raise ValueError(f"backend {name!r}: member {part!r} is not available; "
                                 f"available: {accepted()}")
            members.append(canonical)
        return PREFIX + ",".join(members)

    def names(self) -> list:
        return []

    def create(self, canonical: str) -> Backend:
        return SplitBackend(canonical[len(PREFIX):].split(","))


# --- the backend -----------------------------------------------------------------------------

class SplitBackend(Backend):
    def __init__(self, members):
        self.member_names = tuple(members)
        self.name = PREFIX + ",".join(self.member_names)
        self._pool = None
        self._lock = threading.Lock()
        self._balancers: dict = {}

    def members(self) -> list:
        return [backends.get(name) for name in self.member_names]

    def operator_support(self):
        from ovtf import ocm
        # StaticCompiles: each compile gets static shapes (a batch is sliced by its size)
        return ocm.chain(*(member.operator_support() for member in self.members()),
                         ocm.rules.StaticCompiles(), target=self.name)

    def weights_as_constants(self) -> bool:
        return all(member.weights_as_constants() for member in self.members())

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=max(1, len(self.member_names) - 1),
                    thread_name_prefix="ovtf-split")
            return self._pool

    def balancer(self, spec, members) -> "Balancer":
        key = (spec.fingerprint, tuple(id(member) for member in members))
        with self._lock:
            balancer = self._balancers.get(key)
            if balancer is None:
                balancer = self._balancers[key] = Balancer(
                    [member.name for member in members], f"{self.name} cluster {spec.name}")
            return balancer

    def compile(self, spec, input_shapes, constants, precision) -> Executable:
        members = self.members()
        separable, reason, batched = batch_separable(spec, input_shapes, constants)
        if not separable:
            if _not_split_notices.first((self.name, spec.fingerprint)):
                logger.info("ovtf: %s: cluster %s runs whole on one member, not split: %s",
                            self.name, spec.name, reason)
            return self._whole(members, spec, input_shapes, constants, precision)
        return SplitExecutable(self, members, spec, input_shapes, constants, precision,
                               batched, self.balancer(spec, members))

    def _whole(self, members, spec, input_shapes, constants, precision):
        errors = []
        data = [i for i in range(len(spec.inputs))
                if i not in constants and not spec.inputs[i].is_variable and input_shapes[i]]
        for member in members:
            try:
                return _Counted(member.name, member.compile(spec, input_shapes, constants,
                                                            precision), data[:1])
            except Exception as error:
                errors.append(f"{member.name}: {error}")
                _counters.record_device(member.name, 0, 0.0, failed=True)
                _counters.increment("split_member_failures")
                logger.warning("ovtf: %s: member %s cannot compile cluster %s (%s); trying the "
                               "next member", self.name, member.name, spec.name, error)
        raise BackendError("compile", f"{self.name}: no member compiled cluster {spec.name}: "
                                      + "; ".join(errors))

    def __repr__(self) -> str:
        return f"<SplitBackend {self.name}>"


class _Counted(Executable):
    """A member's executable for the whole batch, counted on the member."""

    def __init__(self, name, inner, data):
        self.name, self.inner, self.data = name, inner, data
        self.loaded_from_cache = getattr(inner, "loaded_from_cache", False)

    def run(self, inputs, outputs):
        rows = int(inputs[self.data[0]].shape[0]) if self.data else 0
        start = time.perf_counter()
        try:
            self.inner.run(inputs, outputs)
        except Exception:
            _counters.record_device(self.name, rows, time.perf_counter() - start, failed=True)
            raise
        _counters.record_device(self.name, rows, time.perf_counter() - start)


# --- balancing -------------------------------------------------------------------------------

class Balancer:
    """Throughput estimates of a SPLIT's members for one cluster, and the split they give."""

    def __init__(self, names, label):
        self.names = list(names)
        self.label = label
        self.estimates = [None] * len(names)      # rows/s, updated after every call
        self.weights = [1.0] * len(names)         # what the split uses (even at first)
        self._lock = threading.Lock()
        self._imbalanced = 0                      # imbalanced calls in a row

    def split(self, batch: int, active: list) -> list:
        """[(member index, rows)] for `batch` rows over the `active` members, in order."""
        with self._lock:
            weights = [self.weights[m] for m in active]
        return apportion(batch, active, weights)

    def update(self, batch: int, timings: list, active: list) -> None:
        """timings: [(member index, rows, seconds)] of one call's slices."""
        timed = [(m, rows, seconds) for m, rows, seconds in timings if rows > 0]
        if not timed:
            return
        with self._lock:
            for m, rows, seconds in timed:
                rate = rows / max(seconds, 1e-6)
                old = self.estimates[m]
                self.estimates[m] = rate if old is None else 0.5 * old + 0.5 * rate
            times = [seconds for _, _, seconds in timed]
            if (len(timed) < 2 or max(times) <= IMBALANCE * min(times)
                    or max(times) - min(times) < MIN_GAP_S):
                self._imbalanced = 0
                return
            self._imbalanced += 1
            if self._imbalanced < SUSTAINED:
                return
            known = [e for e in self.estimates if e is not None]
            mean = sum(known) / len(known)
            weights = [e if e is not None else mean for e in self.estimates]
            before = apportion(batch, active, [self.weights[m] for m in active])
            after = apportion(batch, active, [weights[m] for m in active])

            def slowest(split):
                return max(rows / weights[m] for m, rows in split)

            if after == before or slowest(after) > (1.0 - MIN_GAIN) * slowest(before):
                return
            self.weights = weights
            self._imbalanced = 0
        if after != before:
            logger.info("ovtf: %s: split of %d rows changed to %s (measured rows/s: %s)",
                        self.label, batch,
                        ", ".join(f"{self.names[m]}={rows}" for m, rows in after),
                        ", ".join(f"{self.names[m]}={self.estimates[m]:.0f}"
                                  for m, _ in after if self.estimates[m] is not None))


def apportion(batch: int, active: list, weights: list) -> list:
    """Deterministic: at least one row each when batch >= len(active), the rest by largest
    remainder in proportion to `weights` (ties to the earlier member); with fewer rows than
    members, one row to each of the `batch` heaviest. Returns [(member, rows)] in order."""
    n = len(active)
    if batch <= 0 or n == 0:
        return []
    if batch < n:
        ranked = sorted(range(n), key=lambda i: (-weights[i], i))[:batch]
        return [(active[i], 1) for i in sorted(ranked)]
    rest = batch - n
    total = sum(weights) or float(n)
    quotas = [rest * (w if total else 1.0) / total for w in weights]
    rows = [int(q) for q in quotas]
    left = rest - sum(rows)
    order = sorted(range(n), key=lambda i: (-(quotas[i] - rows[i]), i))
    for i in order[:left]:
        rows[i] += 1
    return [(active[i], rows[i] + 1) for i in range(n)]


# --- one signature ---------------------------------------------------------------------------

class _Sink:
    """A member's outputs for its slice, in arrays of its own."""

    def __init__(self, spec, rows):
        self.spec, self.rows, self.arrays = spec, rows, {}

    def allocate(self, index, shape):
        shape = tuple(int(d) for d in shape)
        if not shape or shape[0] != self.rows:
            raise BackendError("run", f"output {index} has shape {shape}, not {self.rows} rows")
        array = self.arrays[index] = np.empty(shape, dtype=self.spec.outputs[index].dtype)
        return array


class SplitExecutable(Executable):
    def __init__(self, backend, members, spec, input_shapes, constants, precision, batched,
                 balancer):
        self.backend = backend
        self.members = members
        self.spec = spec
        self.input_shapes = [tuple(shape) for shape in input_shapes]
        self.constants = constants
        self.precision = precision
        self.batched = frozenset(batched)
        self.batch = self.input_shapes[batched[0]][0]
        self.balancer = balancer
        self.dropped: set = set()
        self._compiled: dict = {}                   # (member, rows) -> executable
        self._locks = [threading.Lock() for _ in members]
        self._lock = threading.Lock()
        self.loaded_from_cache = False

    def _executable(self, m, rows):
        key = (m, rows)
        executable = self._compiled.get(key)
        if executable is None:
            with self._locks[m]:
                executable = self._compiled.get(key)
                if executable is None:
                    shapes = [(rows,) + shape[1:] if i in self.batched else shape
                              for i, shape in enumerate(self.input_shapes)]
                    executable = self.members[m].compile(self.spec, shapes, self.constants,
                                                         self.precision)
                    _counters.increment("compiles")
                    self._compiled[key] = executable
        return executable

    def _run_slice(self, m, start, rows, inputs, record=True):
        """Run rows [start, start+rows) on member m: (sink, seconds) or the exception."""
        name = self.members[m].name
        if not record:
            def record_device(*args, **kwargs):
                pass
        else:
            record_device = _counters.record_device
        try:
            executable = self._executable(m, rows)
        except Exception as error:
            record_device(name, rows, 0.0, failed=True)
            return error
        sliced = [array[start:start + rows] if i in self.batched else array
                  for i, array in enumerate(inputs)]
        sink = _Sink(self.spec, rows)
        begin = time.perf_counter()
        try:
            executable.run(sliced, sink)
            if len(sink.arrays) != len(self.spec.outputs):
                raise BackendError("run", f"wrote {len(sink.arrays)} of "
                                          f"{len(self.spec.outputs)} outputs")
        except Exception as error:
            record_device(name, rows, time.perf_counter() - begin, failed=True)
            return error
        seconds = time.perf_counter() - begin
        record_device(name, rows, seconds)
        return sink, seconds

    def _run_empty(self, inputs, outputs) -> None:
        """B = 0: devices may refuse an empty batch (OpenVINO's MaxPool does), so one zero
        row is run (not counted) to learn each output's row shape; the outputs get 0 rows."""
        probe = [np.zeros((1,) + array.shape[1:], array.dtype) if i in self.batched else array
                 for i, array in enumerate(inputs)]
        errors = []
        for m in range(len(self.members)):
            if m in self.dropped:
                continue
            outcome = self._run_slice(m, 0, 1, probe, record=False)
            if isinstance(outcome, BaseException):
                errors.append(f"{self.members[m].name}: {outcome}")
                continue
            sink, _ = outcome
            for index in range(len(self.spec.outputs)):
                outputs.allocate(index, (0,) + sink.arrays[index].shape[1:])
            return
        raise BackendError("run", f"{self.backend.name}: no member ran cluster "
                                  f"{self.spec.name}: " + "; ".join(errors))

    def run(self, inputs, outputs) -> None:
        batch = int(inputs[min(self.batched)].shape[0])
        if batch == 0:
            return self._run_empty(inputs, outputs)
        with self._lock:
            active = [m for m in range(len(self.members)) if m not in self.dropped]
        pending = [(0, batch)]          # row ranges still to run
        results = []                    # (start, sink)
        timings = []
        first_pass = True
        while pending:
            if not active:
                raise BackendError("run", f"{self.backend.name}: every member failed cluster "
                                          f"{self.spec.name}")
            slices = []
            for start, count in pending:
                for m, rows in self.balancer.split(count, active):
                    slices.append((m, start, rows))
                    start += rows
            pending = []
            outcomes = self._run_all(slices, inputs)
            for (m, start, rows), outcome in zip(slices, outcomes):
                if isinstance(outcome, BaseException):
                    self._drop(m, outcome)
                    if m in active:
                        active.remove(m)
                    pending.append((start, rows))
                else:
                    sink, seconds = outcome
                    results.append((start, sink))
                    if first_pass:
                        timings.append((m, rows, seconds))
            if pending:
                _counters.increment("split_reruns")
            first_pass = False
        if not pending and len(timings) == len(results):
            self.balancer.update(batch, timings, active)
        results.sort(key=lambda item: item[0])
        for index in range(len(self.spec.outputs)):
            parts = [sink.arrays[index] for _, sink in results]
            rest = parts[0].shape[1:]
            if any(part.shape[1:] != rest for part in parts):
                raise BackendError("run", f"{self.backend.name}: output {index} of cluster "
                                          f"{self.spec.name}: slices disagree on its shape")
            target = outputs.allocate(index, (batch,) + rest)
            np.concatenate(parts, axis=0, out=target) if len(parts) > 1 else \
                np.copyto(target, parts[0], casting="unsafe")

    def _run_all(self, slices, inputs):
        if len(slices) == 1:
            m, start, rows = slices[0]
            return [self._run_slice(m, start, rows, inputs)]
        pool = self.backend.pool()
        futures = [pool.submit(self._run_slice, m, start, rows, inputs)
                   for m, start, rows in slices[1:]]
        m, start, rows = slices[0]
        return [self._run_slice(m, start, rows, inputs)] + [future.result() for future in futures]

    def _drop(self, m, error) -> None:
        with self._lock:
            if m in self.dropped:
                return
            self.dropped.add(m)
        _counters.increment("split_member_failures")
        logger.warning("ovtf: %s: member %s failed cluster %s for this signature (%s); its rows "
                       "run on the other members", self.backend.name, self.members[m].name,
                       self.spec.name, error)


# --- batch separability ----------------------------------------------------------------------

_UNARY = frozenset("""Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Elu Erf Erfc Exp Expm1
Floor Identity IsFinite IsInf IsNan LeakyRelu Log Log1p LogicalNot Neg Reciprocal Inv Relu Relu6
Round Rint Rsqrt Selu Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Square Tan Tanh Cast
StopGradient Snapshot PreventGradient ZerosLike OnesLike Softmax LogSoftmax Invert""".split())
_ELEMENTWISE = frozenset("""Add AddV2 Sub Mul RealDiv Div DivNoNan FloorDiv FloorMod Mod Maximum
Minimum Pow SquaredDifference BiasAdd Greater GreaterEqual Less LessEqual Equal NotEqual
LogicalAnd LogicalOr SelectV2 AddN Atan2 Xdivy Xlogy MulNoNan ClipByValue""".split())
_SPATIAL = frozenset("""Conv2D Conv3D DepthwiseConv2dNative _FusedConv2D
_FusedDepthwiseConv2dNative MaxPool AvgPool MaxPool3D AvgPool3D FusedBatchNorm FusedBatchNormV2
FusedBatchNormV3 _FusedBatchNormEx LRN""".split())
_REDUCTIONS = frozenset("Sum Mean Max Min Prod All Any EuclideanNorm".split())
_MATMUL = frozenset({"MatMul", "_FusedMatMul"})
_BATCH_MATMUL = frozenset({"BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"})
_ROW_OPS = (_UNARY | _ELEMENTWISE | _SPATIAL | _REDUCTIONS | _MATMUL | _BATCH_MATMUL
            | {"Reshape", "Transpose", "ConcatV2", "ExpandDims", "Squeeze", "Pad", "PadV2",
               "MirrorPad", "ArgMax", "ArgMin"})
ROW_WISE_OPS = _ROW_OPS
"""Op types `batch_separable` may accept on batch-carrying tensors (with attribute checks)."""


class _NotSeparable(Exception):
    pass


def batch_separable(spec, input_shapes, constants):
    """(True, None, batched input indices) when the cluster may run split along dim 0 for
    this signature, else (False, reason, ())."""
    try:
        batched = _batched_inputs(spec, input_shapes, constants)
        _check_graph(spec, input_shapes, constants, batched)
        return True, None, tuple(batched)
    except _NotSeparable as error:
        return False, str(error), ()
    except Exception as error:  # the graph could not be analysed: do not split it
        return False, f"could not analyse the cluster graph ({type(error).__name__}: {error})", ()


def _batched_inputs(spec, input_shapes, constants):
    data = [i for i in range(len(spec.inputs))
            if i not in constants and not spec.inputs[i].is_variable]
    if not data:
        raise _NotSeparable("the cluster has no data inputs")
    sizes = {}
    for i in data:
        shape = tuple(input_shapes[i])
        if not shape:
            raise _NotSeparable(f"input {i} is a scalar (no batch dim)")
        sizes.setdefault(shape[0], []).append(i)
    if len(sizes) > 1:
        raise _NotSeparable("the data inputs disagree on dim 0 ("
                            + ", ".join(f"{size}: inputs {ids}" for size, ids in sizes.items())
                            + "), so not every input carries the batch")
    return data


def _check_graph(spec, input_shapes, constants, batched):
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2, tensor_shape_pb2
    from tensorflow.python.framework import tensor_util

    from ovtf.spec import arg_name, ret_name

    graph_def = graph_pb2.GraphDef()
    graph_def.CopyFrom(spec.graph_def)
    names = {arg_name(i): i for i in range(len(spec.inputs))}
    values = {}
    for node in graph_def.node:
        if node.name in names:
            i = names[node.name]
            shape = list(input_shapes[i])
            if i in batched:
                shape[0] = -1
            proto = tensor_shape_pb2.TensorShapeProto(
                dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape])
            node.attr["shape"].shape.CopyFrom(proto)
            if i in constants and constants[i] is not None:
                values[node.name + ":0"] = np.asarray(constants[i])
        elif node.op == "Const":
            values[node.name + ":0"] = tensor_util.MakeNdarray(node.attr["value"].tensor)
        node.ClearField("device")

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")

    state = {}                    # tensor name -> "B" (rows along dim 0) | "C" (no batch)
    batched_names = {arg_name(i) for i in batched}

    def value(tensor):
        if tensor.name not in values:
            raise _NotSeparable(f"{tensor.op.name} ({tensor.op.type}) needs a constant "
                                f"{tensor.name} to be known row-wise")
        return values[tensor.name]

    for op in graph.get_operations():
        if op.name in names:
            kind = "B" if op.name in batched_names else "C"
            for out in op.outputs:
                state[out.name] = kind
            continue
        ins = [state.get(t.name) for t in op.inputs]
        if None in ins:
            raise _NotSeparable(f"{op.name} ({op.type}) reads a tensor of unknown kind")
        if "B" not in ins:
            for out in op.outputs:
                state[out.name] = "C"
            continue
        if op.type not in _ROW_OPS:
            raise _NotSeparable(f"{op.name} ({op.type}) is not known to keep batch rows "
                                "apart")
        _check_op(op, ins, value)
        for position, out in enumerate(op.outputs):
            state[out.name] = "B" if position == 0 else None

    for i in range(len(spec.outputs)):
        op = graph.get_operation_by_name(ret_name(i))
        if state.get(op.outputs[0].name) != "B":
            raise _NotSeparable(f"output {i} does not carry the batch rows")


def _rank(tensor):
    rank = tensor.shape.rank
    if rank is None:
        raise _NotSeparable(f"{tensor.name} has an unknown rank")
    return rank


def _axes(raw, rank):
    return {int(a) % rank if rank else int(a) for a in np.atleast_1d(raw).ravel()}


def _check_op(op, ins, value):
    t = op.type
    where = f"{op.name} ({t})"
    out = op.outputs[0]
    rank_out = _rank(out)
    if rank_out == 0:
        raise _NotSeparable(f"{where} has a scalar output")

    def broadcast_ok(tensors):
        for tensor, kind in tensors:
            rank = _rank(tensor)
            if kind == "B" and rank != rank_out:
                raise _NotSeparable(f"{where} broadcasts the batch dim away from dim 0")
            if kind == "C" and rank == rank_out:
                first = tensor.shape.as_list()[0]
                if first != 1:
                    raise _NotSeparable(f"{where} combines rows with a tensor of {first} rows")

    def only_first_batched():
        if ins[0] != "B" or "B" in ins[1:]:
            raise _NotSeparable(f"{where} combines batch tensors in more than its first input")

    if t in _UNARY:
        if t in ("Softmax", "LogSoftmax") and rank_out < 2:
            raise _NotSeparable(f"{where} normalises over the batch dim")
        return
    if t in _ELEMENTWISE:
        broadcast_ok(list(zip(op.inputs, ins)))
        return
    if t in _MATMUL:
        only_first_batched()
        if op.get_attr("transpose_a"):
            raise _NotSeparable(f"{where} transposes its batch input")
        return
    if t in _BATCH_MATMUL:
        if rank_out < 3:
            only_first_batched()
            if op.get_attr("adj_x"):
                raise _NotSeparable(f"{where} transposes its batch input")
            return
        broadcast_ok(list(zip(op.inputs[:2], ins[:2])))
        return
    if t in _SPATIAL:
        only_first_batched()
        for attr in ("ksize", "strides", "dilations"):
            try:
                entries = op.get_attr(attr)
            except ValueError:
                continue
            if entries and entries[0] != 1:
                raise _NotSeparable(f"{where} has {attr}[0] = {entries[0]} across the batch")
        try:
            if op.get_attr("is_training"):
                raise _NotSeparable(f"{where} computes batch statistics (is_training)")
        except ValueError:
            pass
        return
    if t in _REDUCTIONS or t in ("ArgMax", "ArgMin"):
        only_first_batched()
        if 0 in _axes(value(op.inputs[1]), _rank(op.inputs[0])):
            raise _NotSeparable(f"{where} reduces over the batch axis")
        return
    if t == "Reshape":
        only_first_batched()
        target = np.asarray(value(op.inputs[1])).ravel()
        source = op.inputs[0].shape.as_list()[1:]
        if (not target.size or target[0] != -1 or (target[1:] < 0).any()
                or None in source or int(np.prod(source)) != int(np.prod(target[1:]))):
            raise _NotSeparable(f"{where} reshapes across the batch dim (shape {target.tolist()})")
        return
    if t == "Transpose":
        only_first_batched()
        perm = np.asarray(value(op.inputs[1])).ravel()
        if not perm.size or int(perm[0]) % rank_out != 0:
            raise _NotSeparable(f"{where} moves the batch dim (perm {perm.tolist()})")
        return
    if t == "ConcatV2":
        if "C" in ins[:-1]:
            raise _NotSeparable(f"{where} concatenates a tensor without the batch dim")
        if ins[-1] != "C" or 0 in _axes(value(op.inputs[-1]), rank_out):
            raise _NotSeparable(f"{where} concatenates across the batch dim")
        return
    if t == "ExpandDims":
        only_first_batched()
        if 0 in _axes(value(op.inputs[1]), rank_out):
            raise _NotSeparable(f"{where} inserts a dim before the batch dim")
        return
    if t == "Squeeze":
        dims = op.get_attr("squeeze_dims")
        if not dims or 0 in _axes(dims, _rank(op.inputs[0])):
            raise _NotSeparable(f"{where} may squeeze the batch dim")
        return
    if t in ("Pad", "PadV2", "MirrorPad"):
        only_first_batched()
        paddings = np.asarray(value(op.inputs[1]))
        if paddings.ndim != 2 or paddings[0].any():
            raise _NotSeparable(f"{where} pads the batch dim")
        return
    raise _NotSeparable(f"{where} is not known to keep batch rows apart")


register_family(SplitFamily())
