"""`OpenVINOBackend`: one OpenVINO device string ("CPU", "GPU.1", "HETERO:GPU,CPU", ...) as an
ovtf backend. It says what the device can run and compiles one cluster for one input
signature: import (ovtf.importer) -> checks -> compile -> an executable (`executables`).

What it can run (`operator_support`): the OpenVINO registry (`ovtf.ocm.TableSupport`),
narrowed per device kind: static shapes only on the NPU (`rules.StaticShapes`: DESIGN fact
12), and on GPU, NPU and other single devices but the CPU, the op types the device's own
query_model refused in clusters compiled earlier (`query_refusals`).

Handed in (both optional): `core`, the `openvino.Core` it asks, compiles and imports with
(None: the process's shared one, `shared_core.core()`; a test hands in a stand-in with the same
methods), and `notices`, the `Once` that remembers which (device, precision) notes were said
(None: its own; the family hands all its backends one, so a note is said once per device and
precision).

How it compiles (`compile`):
1. the settings (`compile_config`): INFERENCE_PRECISION_HINT always set explicitly (f32 by
   default, DESIGN fact 10; per device kind `device_facts.compile_config`, whose notes are said
   once per device and precision) and PERFORMANCE_HINT LATENCY, not THROUGHPUT: TensorFlow
   calls a cluster once per step and waits, and THROUGHPUT only wins with several threads
   calling at once, which TF programs rarely do. A composite device gets them per member;
2. the disk cache first, when one is set (`blob_cache`);
3. import; a model that computes a zero-size tensor is refused (`zero_size_tensor`: OpenVINO
   crashes or computes wrong shapes on them, DESIGN fact 18) and, where the device is asked,
   one with an op its query_model refuses (`query_refusals.check_query`);
4. through OpenVINO's C API where that applies (`native`), else the Python API; the CPU
   plugin's snippets running out of registers is retried with snippets off.
Every failure is a `BackendError` with its stage ("import", "compile"): the cluster then runs
in TensorFlow.
"""

from __future__ import annotations

import logging
import re

from ovtf.backends import Backend, BackendError, Executable, ZeroSizeTensor
from ovtf.backends.openvino import blob_cache, device_facts, shared_core
from ovtf.backends.openvino.executables import OpenVINOExecutable, parameter_inputs
from ovtf.backends.openvino.grammar import COMPOSITE, is_composite
from ovtf.backends.openvino.native import compile_native
from ovtf.backends.openvino.query_refusals import check_query, query_refusals
from ovtf.importer import ImportFailure, import_cluster
from ovtf.once import Once

__all__ = ["OpenVINOBackend", "DEFAULT_PERFORMANCE_HINT", "zero_size_tensor"]

logger = logging.getLogger("ovtf")

_PRECISION_HINTS = {"f32": "f32", "bf16": "bf16", "f16": "f16"}
DEFAULT_PERFORMANCE_HINT = "LATENCY"


class OpenVINOBackend(Backend):
    def __init__(self, device: str = "CPU", performance_hint: str = DEFAULT_PERFORMANCE_HINT,
                 extra_config: dict | None = None, *, core=None, notices: Once | None = None):
        self.name = device
        self.device = device
        self.performance_hint = performance_hint
        self.extra_config = dict(extra_config or {})
        self._core = core
        # (device, precision) whose compute precision differs from the one asked: said once
        self.notices = Once() if notices is None else notices
        self._facts: dict = {}       # (device, property) -> value read from OpenVINO (or None)
        self.refused_ops: dict = {}  # TF op type -> why the device's query_model refused it

    # --- what the device is ------------------------------------------------------------------

    @property
    def core(self):
        """The `openvino.Core` this backend asks, compiles and imports with."""
        return shared_core.core() if self._core is None else self._core

    @property
    def device_kind(self) -> str:
        """"CPU", "GPU", "NPU", or the composite's prefix ("HETERO", "AUTO", ...)."""
        return device_facts.kind_of(self.device)

    @property
    def queries_model(self) -> bool:
        """Whether each cluster is checked with the device's own `query_model` before it
        is compiled: GPU and NPU (and other single devices), not the CPU (the registry is
        verified on the CPU plugin op by op, tests/test_ops.py, and on it query_model costs
        more than compiling: 86 ms vs 69 ms for a 4-op cluster here), not composite devices
        (HETERO places unsupported ops itself; AUTO/MULTI pick a device per request)."""
        return self.device_kind not in ("CPU",) + COMPOSITE and ":" not in self.device

    def _fact(self, device: str, key: str):
        if (device, key) not in self._facts:
            try:
                value = self.core.get_property(device, key)
            except Exception:
                value = None
            if key == "SUPPORTED_PROPERTIES" and value is not None:
                value = frozenset(str(name) for name in value)
            elif key == "OPTIMIZATION_CAPABILITIES" and value is not None:
                value = [str(capability) for capability in value]
            self._facts[(device, key)] = value
        return self._facts[(device, key)]

    def operator_support(self):
        """The OpenVINO registry, narrowed for the device: static shapes on the NPU, and
        the op types its query_model refused in a cluster compiled earlier."""
        support = self.__dict__.get("_support")
        if support is None:
            from ovtf import ocm
            from ovtf.ocm import TableSupport, rules
            table = TableSupport(target=self.name)
            parts = [table]
            if self.device_kind == "NPU":
                parts.append(rules.StaticShapes())
            if self.queries_model:
                parts.append(query_refusals(self, table.op_types()))
            support = self.__dict__["_support"] = (
                ocm.chain(*parts, target=self.name) if len(parts) > 1 else table)
        return support

    def describe(self) -> dict:
        """What `ovtf.devices()` says about this device (composites: their members)."""
        if is_composite(self.device):
            return {"name": self.name, "full_name": f"OpenVINO {self.device}", "kind": self.device_kind,
                    "precisions": [], "capabilities": [], "emulated": False}
        return device_facts.describe(self.core, self.device)

    # --- compiling -----------------------------------------------------------------------------

    def _device_config(self, device: str, precision: str):
        kind = device_facts.kind_of(device)
        capabilities = supported = None
        if kind in ("GPU", "NPU"):
            capabilities = self._fact(device, "OPTIMIZATION_CAPABILITIES")
            supported = self._fact(device, "SUPPORTED_PROPERTIES")
        chosen = device_facts.compile_config(device, precision, capabilities, supported,
                                             self.performance_hint)
        if chosen.note and self.notices.first((device, precision)):
            logger.info("ovtf: %s", chosen.note)
        return chosen

    def compile_config(self, precision: str) -> dict:
        if precision not in _PRECISION_HINTS:
            raise BackendError("compile", f"unknown precision {precision!r}")
        prefix, _, members = self.device.partition(":")
        if prefix in COMPOSITE:
            # composite devices: the precision belongs to each member device
            settings = {"PERFORMANCE_HINT": self.performance_hint}
            names = [m for m in members.split(",") if m] or list(self.core.available_devices)
            settings["DEVICE_PROPERTIES"] = {
                name: {k: v for k, v in self._device_config(name, precision).settings.items()
                       if k != "PERFORMANCE_HINT"} for name in names}
        else:
            settings = dict(self._device_config(self.device, precision).settings)
        settings.update(self.extra_config)
        return settings

    _exportable = True   # False once the device said it cannot export compiled models

    def compile(self, spec, input_shapes, constants, precision) -> Executable:
        from ovtf.backends import disk_cache

        settings = self.compile_config(precision)
        cache = disk_cache.in_use() if self._exportable else None
        key = None
        if cache is not None:
            key = blob_cache.cluster_key(spec, self.device, settings, input_shapes, constants)
            cached = blob_cache.import_cached(cache, key, self.device, settings, spec, constants,
                                              self.core)
            if cached is not None:
                return cached
        try:
            model = import_cluster(spec, input_shapes, constants)
        except ImportFailure as error:
            raise BackendError("import", error) from error
        empty = zero_size_tensor(model)
        if empty is not None:
            raise BackendError("import", ZeroSizeTensor(f"cluster {spec.name}: {empty}"))
        if self.queries_model:
            check_query(self, spec, model, settings)
        native = compile_native(self.device, spec, model, settings, constants)
        if native is not None:
            if cache is not None:
                self._export(cache, blob_cache.native_key(key),
                             lambda: blob_cache.native_blob(native.native_model))
            return native
        try:
            compiled, snippets_off = _compile_python(self.core, spec, model, self.device,
                                                     settings)
        except Exception as error:
            raise BackendError("compile", f"cluster {spec.name} on {self.device}: "
                                          f"{device_facts.plugin_reason(error)} ({error})") from error
        if cache is not None and not snippets_off:
            self._export(cache, key, lambda: compiled.export_model().getvalue())
        return OpenVINOExecutable(compiled, parameter_inputs(spec, constants), spec)

    def _export(self, cache, key, blob) -> None:
        if not blob_cache.export(cache, key, blob, self.device):
            self._exportable = False   # the device cannot export: no disk cache for it


# The CPU plugin's snippets (its JIT for fused element-wise subgraphs) can run out of vector
# registers on a long element-wise chain and refuse the whole model ("Can't allocate registers
# for a snippet": the exact Atan2 lowering between a constant and a broadcast input, TF's
# BinaryOpTest.testFloatDifferentShapes, on AVX2). Such a model is compiled again with snippets
# off (the same ops as separate kernels); a model that compiles is never touched. The retried
# compilation is not exported to the disk cache: a CPU blob is recompiled on import with the
# cache key's settings, which would fail the same way.
_SNIPPET_REGISTERS = "allocate registers for a snippet"


def _compile_python(core, spec, model, device, settings):
    """(compiled model, whether snippets had to be turned off) through the Python API."""
    try:
        return core.compile_model(model, device, settings), False
    except Exception as error:
        if _SNIPPET_REGISTERS not in str(error) or "SNIPPETS_MODE" in settings:
            raise
        logger.info("ovtf: cluster %s: OpenVINO's snippets ran out of registers on %s; "
                    "compiling it with SNIPPETS_MODE=DISABLE", spec.name, device)
        return core.compile_model(model, device, dict(settings, SNIPPETS_MODE="DISABLE")), True


_ZERO_DIM = re.compile(r"[\[,]0[\],]")


def zero_size_tensor(model):
    """A description of the first data tensor with a zero dim that `model` computes, else
    None. Data: not a Constant or a Parameter, and of rank >= 2 or a non-integer type; an
    empty 1-D integer tensor is the shape of a scalar (ShapeOf, shape arithmetic), made by
    the frontend for ordinary graphs."""
    import openvino as ov

    integers = {ov.Type.i8, ov.Type.i16, ov.Type.i32, ov.Type.i64, ov.Type.u8, ov.Type.u16,
                ov.Type.u32, ov.Type.u64}
    skipped = ("Constant", "Parameter", "Result")
    for op in model.get_ordered_ops():
        if op.get_type_name() in skipped:
            continue
        for output in op.outputs():
            shape = output.get_partial_shape()
            # the text ("[2,0,3]", "[?,4]", "[...]") first: walking the dims of every
            # output costs ~5x more (2,000 ops: ~40 ms of text vs ~270 ms of dims)
            if not _ZERO_DIM.search(str(shape)):
                continue
            dims = [dim.get_length() if dim.is_static else -1 for dim in shape]
            if 0 in dims and (len(dims) >= 2 or output.get_element_type() not in integers):
                return f"{op.get_type_name()} {op.get_friendly_name()} makes a zero-size " \
                       f"tensor {dims}"
    return None
