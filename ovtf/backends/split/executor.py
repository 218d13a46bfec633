"""Running one call's batch of a cluster on several members, and putting the rows back.

`SplitExecutable` (one per cluster input signature) asks its `Balancer` for contiguous row
slices, runs them concurrently (the calling thread runs one slice, the backend's small pool
the others), and gathers each member's outputs into TensorFlow's output arrays in row
order. Each member compiles its own executable per slice size, lazily; those compilations
count in `compiles` but not in the balancer's timings.

No row is ever lost: a member that fails to compile or run a slice is dropped for this
signature (logged, counted: `split_member_failures`) and its rows re-run on the remaining
members (`split_reruns`); with none left the call raises BackendError, and the runtime runs
the cluster in TensorFlow. An empty batch runs one zero row, uncounted, to learn the outputs'
row shapes (OpenVINO refuses an empty batch in some ops, e.g. MaxPool).

`WholeBatchExecutable` is the other way a SPLIT runs a cluster: a batch that cannot be
divided goes whole to one member, counted on that member.
Per-member counters: `ovtf.stats()["devices"][member]` (calls, rows, failures, seconds).
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from ovtf import counters as _counters
from ovtf.backends import BackendError, Executable

__all__ = ["SplitExecutable", "WholeBatchExecutable"]

logger = logging.getLogger("ovtf")


class WholeBatchExecutable(Executable):
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
    """A batch-separable cluster for one input signature, run in row slices over members."""

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
