"""One cluster's shape plan: which inputs key its compiled executables, which of their dims are
compiled dynamic, and which compile-time inputs are baked in by value.

    planner = ShapePlanner(name, data_inputs, compile_time_inputs, dynamic_allowed)
    keyed, dynamic, baked = planner.plan      # read without a lock: replaced, never mutated
    planner.observe(inputs)                   # a signature with no executable; True: new plan
    planner.dynamic_failed(error, plan)       # its dynamic compile failed: a narrower plan
    compile_shapes(plan, inputs)              # the shapes to compile with (-1: dynamic)

Variable shapes (no recompile cliff)
    A cluster whose input shapes keep changing (NLP traffic: 40 sequence lengths through one
    `input_signature=[None, None]` function) would compile once per shape and, with more
    shapes than the compiled-cluster cache holds, never hit. So after `DYNAMIC_AFTER_SHAPES`
    distinct input signatures of one cluster, the dims that varied among them are compiled
    dynamic (-1): one executable serves every value along them (counter `dynamic_compiles`;
    a dim that starts varying later widens it once more). Only where the backend's operator
    support allows it (`support.policy().dynamic_shapes`; a static-shape device such as the
    NPU, `rules.StaticShapes`, or SPLIT, never gets one: it compiles per shape). Inputs whose
    rank changes stay static. Compile-time integer inputs whose values varied too (a
    `tf.range(n)` limit from outside the cluster) are then fed as parameters, where the
    frontend accepts that; if the dynamic compile fails, they are keyed by value again, and
    if it still fails the cluster compiles per shape as before.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

__all__ = ["ShapePlanner", "DYNAMIC_AFTER_SHAPES", "compile_shapes", "masked"]

logger = logging.getLogger("ovtf")

# Distinct input signatures of one cluster compiled static before the dims that varied go
# dynamic. 3: a model served at two batch sizes keeps its (faster) static executables; a
# third shape says the shape is open (benchmarks/variable_shapes.py).
DYNAMIC_AFTER_SHAPES = 3
_SHAPES_REMEMBERED = 64     # distinct signatures remembered per cluster to find the varying dims


class ShapePlanner:
    """The shape plan of one cluster; thread-safe.

    `plan` is (keyed inputs, their dynamic dims or None, baked compile-time inputs): static
    (dims None) until the shapes vary."""

    def __init__(self, name: str, data_inputs: tuple, compile_time_inputs: tuple,
                 dynamic_allowed: bool):
        self.name = name
        self.data_inputs = data_inputs
        self.compile_time_inputs = compile_time_inputs
        self.dynamic_allowed = dynamic_allowed
        self.plan = (data_inputs, None, compile_time_inputs)
        self._signatures_seen: OrderedDict = OrderedDict()
        self._feed_values = True      # False once feeding varying compile-time inputs failed
        self._lock = threading.Lock()

    def observe(self, inputs) -> bool:
        """A signature with no compiled executable: remember it, and once
        DYNAMIC_AFTER_SHAPES distinct ones were seen, leave the dims that varied among them
        dynamic (and feed compile-time inputs whose values varied). True: the plan changed."""
        shapes = tuple(tuple(inputs[i].shape) for i in self.data_inputs)
        values = tuple(inputs[i].tobytes() for i in self.compile_time_inputs)
        with self._lock:
            seen = self._signatures_seen
            seen[(shapes, values)] = None
            seen.move_to_end((shapes, values))
            while len(seen) > _SHAPES_REMEMBERED:
                seen.popitem(last=False)
            if len(seen) < DYNAMIC_AFTER_SHAPES:
                return False
            signatures = list(seen)
            dims_by_input = []
            for position in range(len(self.data_inputs)):
                all_shapes = [signature[0][position] for signature in signatures]
                if len({len(shape) for shape in all_shapes}) != 1:
                    dims_by_input.append(())    # the rank changes: this input stays static
                    continue
                dims_by_input.append(tuple(d for d in range(len(all_shapes[0]))
                                           if len({shape[d] for shape in all_shapes}) > 1))
            fed = tuple(index for position, index in enumerate(self.compile_time_inputs)
                        if self._feed_values
                        and len({signature[1][position] for signature in signatures}) > 1)
            if not any(dims_by_input) and not fed:
                return False
            baked = tuple(i for i in self.compile_time_inputs if i not in fed)
            keyed = self.data_inputs + fed
            plan = (keyed, tuple(dims_by_input) + ((),) * len(fed), baked)
            if plan == self.plan:
                return False
            self.plan = plan
        shown = ", ".join(f"input {index} dims {list(dims)}"
                          for index, dims in zip(self.data_inputs, dims_by_input) if dims)
        logger.info("ovtf: cluster %s: %d input shapes seen; compiling it with %s dynamic%s",
                    self.name, len(signatures), shown or "no dims",
                    f", compile-time input(s) {list(fed)} fed as parameters" if fed else "")
        return True

    def dynamic_failed(self, error, plan) -> bool:
        """The dynamic compile of `plan` failed: key varying compile-time inputs by value
        again, or (when none were fed) compile per shape from now on."""
        with self._lock:
            if self.plan is not plan:
                return True     # another thread changed the plan already: try that one
            keyed, dynamic, baked = plan
            fed = keyed[len(self.data_inputs):]
            if fed and self._feed_values:
                self._feed_values = False
                self.plan = (self.data_inputs, dynamic[:len(self.data_inputs)],
                             self.compile_time_inputs)
                what = f"compile-time inputs {list(fed)} are baked in by value again"
            else:
                self.dynamic_allowed = False
                self.plan = (self.data_inputs, None, self.compile_time_inputs)
                what = "it compiles once per input shape"
        logger.info("ovtf: cluster %s: compiling with dynamic shapes failed (%s: %s); %s",
                    self.name, error.stage, error, what)
        return True


def compile_shapes(plan, inputs) -> list:
    """The shape of every input as `plan` compiles it: its dynamic dims -1."""
    keyed, dynamic, _ = plan
    shapes = [tuple(array.shape) for array in inputs]
    if dynamic is not None:
        for index, dims in zip(keyed, dynamic):
            shapes[index] = masked(shapes[index], dims)
    return shapes


def masked(shape, dims):
    """`shape` with `dims` set to -1 (dynamic); unchanged when it has no such dims."""
    if not dims or len(shape) <= dims[-1]:
        return shape
    shape = list(shape)
    for dim in dims:
        shape[dim] = -1
    return tuple(shape)
