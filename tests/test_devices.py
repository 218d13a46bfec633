"""OpenVINO device backends (issue 9 part 1): GPU/NPU compile configs, the device's own
query_model answer narrowing what it runs, absent devices explained, `ovtf.devices()`.

No Intel GPU or NPU is available to this project, so:
* the plugins' real messages were captured once on this machine (OpenVINO 2026.4, by
  scripts/capture_plugin_errors.py, in tests/data/plugin_errors.json) and their mapping to
  ovtf's messages is tested from them, with a fake OpenVINO core replaying them;
* a present GPU or NPU is a fake core whose "GPU"/"NPU" compile and query on the real CPU
  plugin (so the configs ovtf builds go through OpenVINO's property parsing), with the
  answers a real device would give supplied by the test. What only real hardware can
  confirm (f16 numerics, compile times, real query_model answers) is listed in README.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import types

import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("openvino")

import ovtf  # noqa: E402
import ovtf.testing  # noqa: E402
from ovtf import backends, ocm  # noqa: E402
from ovtf.backends import BackendError  # noqa: E402
from ovtf.backends import openvino as ovb  # noqa: E402
from ovtf.backends.openvino import device_facts  # noqa: E402
from ovtf.runtime.compiled_cache import PROCESS_CACHE  # noqa: E402
from test_importer import assert_close, make_spec, rand  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "plugin_errors.json")
CAPTURED = json.load(open(FIXTURES))
SCENARIOS = {scenario["name"]: scenario for scenario in CAPTURED["scenarios"]}
# An Intel GPU's OPTIMIZATION_CAPABILITIES as OpenVINO documents them (not read from a device)
GPU_CAPABILITIES = ["FP32", "BIN", "FP16", "INT8", "GPU_HW_MATMUL", "EXPORT_IMPORT"]
FAKE_NAMES = ("GPU", "GPU.0", "GPU.1", "NPU", "NPU.0", "HETERO:GPU,CPU", "SPLIT:GPU,CPU")


def captured(scenario, device, call):
    for entry in SCENARIOS[scenario]["calls"]:
        if entry["device"] == device and entry["call"] == call:
            return entry
    raise KeyError((scenario, device, call))


class FakeCore:
    """Stands in for `openvino.Core`. Devices of kind GPU/NPU answer from `replay` (a scenario
    of the captured fixtures: each call raises RuntimeError with the plugin's own text or
    returns the recorded value), then from `properties`; devices in `present` are listed and
    compile/query on the real CPU plugin with the config they were handed (recorded in
    `compiled`), leaving `refuse` (OpenVINO op types) out of query_model's answer.
    Every other device is the real core's."""

    def __init__(self, real, present=(), replay=None, properties=None, refuse=()):
        self.real = real
        self.present = list(present)
        self.replay = SCENARIOS[replay] if replay else None
        self.properties = dict(properties or {})
        self.refuse = set(refuse)
        self.compiled = []
        self.queried = []

    def _fake(self, device) -> bool:
        return device_facts.kind_of(device) in ("GPU", "NPU")

    def _replayed(self, device, call):
        if self.replay is None:
            return None
        for name in (device, device_facts.kind_of(device)):
            for entry in self.replay["calls"]:
                if entry["device"] == name and entry["call"] == call:
                    return entry
        return None

    def _answer(self, device, call):
        entry = self._replayed(device, call)
        if entry is not None and "error" in entry:
            raise RuntimeError(entry["error"]["text"])
        return entry

    @property
    def available_devices(self):
        return list(self.real.available_devices) + self.present

    def get_property(self, device, key):
        if not self._fake(device):
            return self.real.get_property(device, key)
        for name in (device, device_facts.kind_of(device)):
            if (name, key) in self.properties:
                return self.properties[(name, key)]
        entry = self._answer(device, f"get_property {key}")
        if entry is not None:
            return entry["value"]
        raise RuntimeError(f"fake core: no answer for {device} {key}")

    def query_model(self, model, device, config=None):
        if not self._fake(device):
            return self.real.query_model(model, device, config or {})
        self._answer(device, "query_model")
        self.queried.append((device, dict(config or {})))
        answer = self.real.query_model(model, "CPU")
        refused = {op.get_friendly_name() for op in model.get_ops() if op.get_type_name() in self.refuse}
        return {name: device for name in answer if name not in refused}

    def compile_model(self, model, device, config=None):
        if not self._fake(device):
            return self.real.compile_model(model, device, config or {})
        self._answer(device, "compile_model")
        self.compiled.append((device, dict(config or {})))
        return self.real.compile_model(model, "CPU", dict(config or {}))

    def import_model(self, *args, **kwargs):
        raise RuntimeError("fake core: no import_model")


@pytest.fixture
def fake_core():
    """fake_core(**FakeCore options) -> the FakeCore now behind ovtf's OpenVINO backends
    (handed to the OpenVINO family; the backends it created before are created anew)."""
    real = ovb.core()

    def forget():
        for name in FAKE_NAMES:
            backends.unregister(name)
        PROCESS_CACHE.clear()

    def install(**options):
        core = FakeCore(real, **options)
        ovb.FAMILY.use_core(core)
        forget()
        return core

    yield install
    ovb.FAMILY.use_core(None)
    forget()


@pytest.fixture
def no_pyopencl(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopencl", None)   # `import pyopencl` -> ImportError


def fake_pyopencl(monkeypatch, platforms=(), error=None):
    module = types.ModuleType("pyopencl")

    def get_platforms():
        if error is not None:
            raise error
        return [types.SimpleNamespace(
            name=name, get_devices=lambda names=names: [types.SimpleNamespace(name=n) for n in names])
            for name, names in platforms]

    module.get_platforms = get_platforms
    monkeypatch.setitem(sys.modules, "pyopencl", module)


# --- the captured messages ----------------------------------------------------------------------

def test_fixtures_are_openvino_2026_4_on_a_machine_without_gpu_or_npu():
    assert CAPTURED["openvino"].startswith("2026.4")
    assert set(SCENARIOS) == {"as installed", "opencl loader, no platform"}
    for scenario in SCENARIOS.values():
        assert scenario["available_devices"] == ["CPU"]
    # the NPU plugin answers some properties without a device: listing decides presence
    assert captured("as installed", "NPU", "get_property OPTIMIZATION_CAPABILITIES")["value"] == \
        ["FP16", "INT8", "EXPORT_IMPORT"]
    assert captured("as installed", "NPU", "get_property AVAILABLE_DEVICES")["value"] == []


GPU_NO_LOADER = ("OpenVINO's GPU plugin cannot load: libOpenCL.so.1 (the OpenCL ICD loader) is "
                 "not installed (Debian/Ubuntu: ocl-icd-libopencl1; an Intel GPU also needs its "
                 "OpenCL driver, intel-opencl-icd)")
GPU_NO_DEVICE = ("OpenVINO's GPU plugin loads but finds no supported GPU (an OpenCL loader is "
                 "installed, but no Intel GPU with its OpenCL driver answers)")
NPU_NO_COMPILER = ("OpenVINO's NPU plugin cannot load its compiler "
                   "(libopenvino_intel_npu_compiler_loader.so is not installed; it comes with "
                   "Intel's NPU driver)")


def _expected(scenario, device, call):
    if device.startswith("GPU"):
        if scenario == "as installed":
            return GPU_NO_LOADER
        if call == "query_model":
            return f"OpenVINO's GPU plugin has no GPU with index {device.partition('.')[2] or 0}"
        return GPU_NO_DEVICE
    if call == "get_property FULL_DEVICE_NAME":
        return "the plugin does not answer FULL_DEVICE_NAME here"
    return NPU_NO_COMPILER


ERRORS = [(scenario["name"], entry["device"], entry["call"])
          for scenario in CAPTURED["scenarios"] for entry in scenario["calls"] if "error" in entry]


@pytest.mark.parametrize("scenario, device, call", ERRORS)
def test_every_captured_plugin_error_has_its_sentence(scenario, device, call):
    text = captured(scenario, device, call)["error"]["text"]
    assert device_facts.plugin_reason(text) == _expected(scenario, device, call)


def test_unknown_plugin_text_keeps_its_last_meaningful_line():
    text = "Exception from src/inference/src/cpp/core.cpp:117:\nsomething new happened\n\n"
    assert device_facts.plugin_reason(text) == "something new happened"


def test_this_machines_live_gpu_error_is_one_the_fixtures_know():
    core = ovb.core()
    if any(device_facts.kind_of(d) == "GPU" for d in core.available_devices):
        pytest.skip("this machine has a GPU OpenVINO can use")
    try:
        core.get_property("GPU", "FULL_DEVICE_NAME")
    except Exception as error:
        assert device_facts.plugin_reason(error) in (GPU_NO_LOADER, GPU_NO_DEVICE), str(error)
    else:
        pytest.fail("the GPU plugin answered FULL_DEVICE_NAME without a listed GPU")


# --- absent devices -------------------------------------------------------------------------------

def test_absent_gpu_without_opencl_loader_and_without_pyopencl(fake_core, no_pyopencl):
    fake_core(replay="as installed")
    with pytest.raises(ValueError) as info:
        backends.get("GPU")
    message = str(info.value)
    assert message.startswith("backend 'GPU': OpenVINO 2026.4")
    assert "has no device 'GPU' on this machine; it lists: CPU" in message
    assert GPU_NO_LOADER in message
    assert "pyopencl is not installed: `pip install pyopencl` (or ovtf[opencl])" in message
    assert not backends.is_available("GPU")
    with pytest.raises(ValueError, match=r"backend 'GPU': OpenVINO"):
        ovtf.set_backend("GPU")
    assert ovtf.get_backend() == "CPU"


def test_absent_gpu_with_loader_and_pyopencl_seeing_no_platform(fake_core, monkeypatch):
    fake_core(replay="opencl loader, no platform")
    # pyopencl's own exception text when no ICD is installed (captured here with 2026.1.4)
    fake_pyopencl(monkeypatch, error=RuntimeError(CAPTURED["pyopencl"]["error"]["text"]))
    with pytest.raises(ValueError) as info:
        backends.get("gpu.1")
    message = str(info.value)
    assert "has no device 'GPU.1'" in message
    # AVAILABLE_DEVICES answers [] once the plugin loads
    assert ("OpenVINO's GPU plugin loads but finds no GPU device (an Intel GPU needs its "
            "OpenCL driver, intel-opencl-icd)") in message
    assert "OpenCL (pyopencl): no OpenCL platform is installed" in message


def test_absent_gpu_where_opencl_has_only_another_vendor(fake_core, monkeypatch):
    fake_core(replay="opencl loader, no platform")
    fake_pyopencl(monkeypatch, platforms=[("NVIDIA CUDA", ["NVIDIA H200"])])
    with pytest.raises(ValueError) as info:
        backends.get("GPU")
    assert ("OpenCL platforms (pyopencl): NVIDIA CUDA: NVIDIA H200 - none is Intel's: "
            "OpenVINO's GPU plugin drives Intel GPUs only") in str(info.value)


def test_absent_npu(fake_core):
    fake_core(replay="as installed")
    for name in ("NPU", "npu.0"):
        with pytest.raises(ValueError) as info:
            backends.get(name)
        message = str(info.value)
        assert f"has no device '{name.upper()}' on this machine; it lists: CPU" in message
        assert ("OpenVINO's NPU plugin loads but finds no NPU device (the NPU needs Intel's NPU "
                "driver with Level Zero)") in message
        assert "OpenCL" not in message
        assert "ovtf.testing.emulated_devices(n, kind='NPU')" in message


def test_absent_member_of_composite_and_split_names_the_member(fake_core, no_pyopencl):
    fake_core(replay="as installed")
    with pytest.raises(ValueError, match=r"^backend 'HETERO:GPU,CPU': member 'GPU': OpenVINO .*"
                                         r"libOpenCL\.so\.1"):
        backends.get("HETERO:GPU,CPU")
    with pytest.raises(ValueError, match=r"backend 'GPU': OpenVINO .*libOpenCL\.so\.1"):
        backends.get("SPLIT:GPU,CPU")


def test_missing_index_of_a_present_gpu(fake_core):
    fake_core(present=["GPU"], properties={("GPU", "AVAILABLE_DEVICES"): ["0"]})
    assert backends.canonical_name("gpu") == "GPU"
    assert backends.canonical_name("GPU.0") == "GPU.0"     # OpenVINO's name for its only GPU
    with pytest.raises(ValueError, match=r"no device 'GPU\.1'.*lists: CPU, GPU\. its GPU "
                                         r"devices are: GPU"):
        backends.get("GPU.1")


def test_environment_backend_gpu_fails_at_import_saying_why(fresh_process):
    result = fresh_process("""
        import json
        try:
            import ovtf
        except ValueError as error:
            print(json.dumps({"error": str(error)}))
        else:
            print(json.dumps({"backend": ovtf.get_backend()}))
    """, env={"OVTF_BACKEND": "GPU"})
    import openvino
    if "GPU" in openvino.Core().available_devices:
        pytest.skip("this machine has a GPU")
    assert "OVTF_BACKEND" in result["error"] and "has no device 'GPU'" in result["error"]
    assert "lists: CPU" in result["error"] and "GPU plugin" in result["error"]


def test_real_pyopencl_answers_if_installed():
    pyopencl = pytest.importorskip("pyopencl")
    platforms, problem = device_facts.opencl_platforms()
    assert problem is None and isinstance(platforms, list), (pyopencl.VERSION_TEXT, problem)


# --- compile configs per device and precision -------------------------------------------------------

@pytest.mark.parametrize("precision, settings, used, note", [
    ("f32", {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}, "f32", None),
    ("f16", {"INFERENCE_PRECISION_HINT": "f16", "EXECUTION_MODE_HINT": "PERFORMANCE"}, "f16", None),
    ("bf16", {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}, "f32",
     "device GPU (GPU) does not list BF16 in its OPTIMIZATION_CAPABILITIES (BIN, EXPORT_IMPORT, "
     "FP16, FP32, GPU_HW_MATMUL, INT8); precision bf16 requested, using f32"),
])
def test_gpu_compile_config(precision, settings, used, note):
    chosen = device_facts.compile_config("GPU", precision, GPU_CAPABILITIES)
    assert chosen.settings == {"PERFORMANCE_HINT": "LATENCY", **settings}
    assert (chosen.precision, chosen.note) == (used, note)


def test_gpu_bf16_where_listed_and_unknown_capabilities():
    assert device_facts.compile_config("GPU.1", "bf16", GPU_CAPABILITIES + ["BF16"]).settings[
        "INFERENCE_PRECISION_HINT"] == "bf16"
    unknown = device_facts.compile_config("GPU", "f16", None)
    assert unknown.settings["INFERENCE_PRECISION_HINT"] == "f16" and unknown.note is None


def test_npu_compile_config_from_the_captured_properties():
    capabilities = captured("as installed", "NPU", "get_property OPTIMIZATION_CAPABILITIES")["value"]
    supported = captured("as installed", "NPU", "get_property SUPPORTED_PROPERTIES")["value"]
    chosen = device_facts.compile_config("NPU", "f32", capabilities, supported)
    assert chosen.settings == {"PERFORMANCE_HINT": "LATENCY"}   # no precision key it lacks
    assert chosen.precision == "f16"
    assert chosen.note == ("device NPU (NPU) computes in f16 (OPTIMIZATION_CAPABILITIES: "
                           "EXPORT_IMPORT, FP16, INT8); precision f32 requested, using f16")
    listed = device_facts.compile_config("NPU.0", "f16", capabilities,
                                         supported + ["INFERENCE_PRECISION_HINT"])
    assert listed.settings == {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f16"}
    assert listed.note is None


def test_cpu_config_is_unchanged():
    for precision in ("f32", "bf16", "f16"):
        assert backends.get("CPU").compile_config(precision) == {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}


def test_present_devices_get_their_configs_through_the_backend(fake_core, caplog):
    fake_core(present=["GPU", "NPU"], properties={
        ("GPU", "OPTIMIZATION_CAPABILITIES"): GPU_CAPABILITIES,
        ("GPU", "SUPPORTED_PROPERTIES"): ["INFERENCE_PRECISION_HINT", "EXECUTION_MODE_HINT"]},
        replay="as installed")   # the NPU answers its properties as captured
    gpu, npu = backends.get("GPU"), backends.get("NPU")
    assert gpu.compile_config("f32") == {"PERFORMANCE_HINT": "LATENCY",
                                         "INFERENCE_PRECISION_HINT": "f32",
                                         "EXECUTION_MODE_HINT": "ACCURACY"}
    with caplog.at_level(logging.INFO, logger="ovtf"):
        for _ in range(3):
            assert npu.compile_config("f32") == {"PERFORMANCE_HINT": "LATENCY"}
            gpu.compile_config("bf16")
    notes = [r.getMessage() for r in caplog.records]
    assert sum("computes in f16" in n for n in notes) == 1        # said once
    assert sum("does not list BF16" in n for n in notes) == 1
    hetero = backends.get("HETERO:GPU,CPU").compile_config("f32")
    assert hetero["DEVICE_PROPERTIES"] == {
        "GPU": {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"},
        "CPU": {"INFERENCE_PRECISION_HINT": "f32"}}


# --- support objects: NPU static shapes, query_model refusals -------------------------------------

def _spec():
    return make_spec(lambda x, w: [tf.nn.softmax(tf.nn.relu(tf.matmul(x, w))), tf.abs(x) * 2.0],
                     [(tf.float32, (None, 16)), (tf.float32, (16, 8))])


def test_npu_support_refuses_dynamic_signatures_gpu_does_not(fake_core):
    fake_core(present=["GPU", "NPU"])
    dynamic = [(1, (-1, 16), False)]
    assert "dynamic shape" in backends.get("NPU").operator_support().policy().judge_inputs(dynamic)
    assert backends.get("GPU").operator_support().policy().judge_inputs(dynamic) is None
    assert backends.get("NPU").operator_support().policy().judge_inputs([(1, (4, 16), False)]) is None
    assert backends.get("NPU").queries_model and not backends.get("CPU").queries_model
    assert not backends.get("HETERO:GPU,CPU").queries_model


def test_query_model_refusal_fails_the_cluster_and_narrows_the_support(fake_core, caplog):
    core = fake_core(present=["GPU"], properties={("GPU", "OPTIMIZATION_CAPABILITIES"): GPU_CAPABILITIES},
                     refuse={"Softmax"})
    gpu = backends.get("GPU")
    spec = _spec()
    assert "Softmax" in ocm.supported_ops(gpu.operator_support())
    with caplog.at_level(logging.WARNING, logger="ovtf"), pytest.raises(BackendError) as info:
        gpu.compile(spec, [(4, 16), (16, 8)], {}, "f32")
    assert info.value.stage == "compile"
    # the OpenVINO op keeps its TF node's name, or a name under it ('Softmax/_ovtf_softmax':
    # ovtf's NaN-row lowering)
    assert "GPU's query_model does not support OpenVINO op(s) Softmax 'Softmax" in str(info.value)
    assert "(from TF op types Softmax)" in str(info.value)
    assert core.compiled == []                     # not compiled once refused
    assert core.queried == [("GPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
                                     "EXECUTION_MODE_HINT": "ACCURACY"})]
    assert any("Softmax stays in TensorFlow on GPU" in r.getMessage() for r in caplog.records)
    support = gpu.operator_support()
    node = next(n for n in spec.graph_def.node if n.op == "Softmax")
    mark = support.judge(node)
    assert not mark.supported and mark.reason == "UNSUPPORTED_OP"
    assert "refused by GPU's query_model" in mark.detail
    assert "Softmax" not in ovtf.get_supported_ops("GPU") and "Relu" in ovtf.get_supported_ops("GPU")
    assert "Softmax" in ovtf.get_supported_ops("CPU")


def test_gpu_cluster_runs_with_its_config_and_refused_ops_stay_in_tf(fake_core):
    core = fake_core(present=["GPU"], properties={("GPU", "OPTIMIZATION_CAPABILITIES"): GPU_CAPABILITIES},
                     refuse={"Softmax"})
    spec = _spec()
    gpu = backends.get("GPU")
    x, w = rand(4, 16), rand(16, 8)
    with pytest.raises(BackendError):                 # learns: Softmax is not for this GPU
        gpu.compile(spec, [(4, 16), (16, 8)], {}, "f32")
    ovtf.set_backend("GPU")
    ovtf.disable_dynamic_fallback()                   # a wrong placement raises, never hides
    weights = tf.constant(w)

    @tf.function
    def body(x):
        return tf.nn.softmax(tf.nn.relu(tf.matmul(x, weights) + 1.0) * 2.0)

    got = body(tf.constant(x)).numpy()
    ovtf.disable()
    expected = tf.function(lambda x: tf.nn.softmax(tf.nn.relu(tf.matmul(x, weights) + 1.0) * 2.0))(
        tf.constant(x)).numpy()
    ovtf.enable()
    assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert ovtf.stats()["devices"]["GPU"]["calls"] == 1 and ovtf.stats()["fallbacks"] == 0
    assert [device for device, _ in core.compiled] == ["GPU"]
    assert core.compiled[0][1]["EXECUTION_MODE_HINT"] == "ACCURACY"


def test_query_model_error_is_a_compile_failure_with_the_plugins_reason(fake_core):
    fake_core(present=["NPU"], replay="as installed")   # the NPU without its compiler, as captured
    with pytest.raises(BackendError) as info:
        backends.get("NPU").compile(_spec(), [(4, 16), (16, 8)], {}, "f16")
    assert info.value.stage == "compile"
    assert f"query_model on NPU failed: {NPU_NO_COMPILER}" in str(info.value)


def test_compile_error_text_is_translated(fake_core):
    """compile_model's own error (captured: GPU plugin loaded, no GPU) reaches the fallback
    reason as ovtf's sentence followed by OpenVINO's text."""
    core = fake_core(present=["GPU"], replay="opencl loader, no platform",
                     properties={("GPU", "OPTIMIZATION_CAPABILITIES"): GPU_CAPABILITIES})

    class NoQuery(ovb.OpenVINOBackend):   # skip the query (it fails first with this replay)
        queries_model = False

    with pytest.raises(BackendError) as info:
        NoQuery("GPU", core=core).compile(_spec(), [(4, 16), (16, 8)], {}, "f32")
    assert info.value.stage == "compile"
    assert f"on GPU: {GPU_NO_DEVICE} (Exception from src/inference" in str(info.value)


# --- ovtf.devices() -----------------------------------------------------------------------------------

def test_devices_lists_openvino_devices_and_emulated_ones():
    listed = ovtf.devices()
    cpu = next(d for d in listed if d["name"] == "CPU")
    assert cpu["emulated"] is False and cpu["kind"] == "CPU" and cpu["full_name"]
    assert "FP32" in cpu["capabilities"] and cpu["precisions"][0] == "f32"
    assert set(cpu) == {"name", "full_name", "kind", "precisions", "capabilities", "emulated"}
    with ovtf.testing.emulated_devices(2, kind="NPU", prefix="NPU") as names:
        assert names == ["NPU.0", "NPU.1"]           # rehearsing under the real names
        emulated = [d for d in ovtf.devices() if d["emulated"]]
        assert [d["name"] for d in emulated] == names
        assert all(d["precisions"] == ["f16"] and "emulated" in d["full_name"] for d in emulated)
        assert all(set(d) == set(cpu) for d in emulated)
        ovtf.set_backend("SPLIT:NPU.0,NPU.1")
        ovtf.set_backend("CPU")
    assert not any(d["emulated"] for d in ovtf.devices())
    if "NPU" not in ovb.core().available_devices:
        with pytest.raises(ValueError, match="has no device 'NPU.0'"):
            backends.get("NPU.0")


def test_devices_with_a_fake_gpu(fake_core):
    fake_core(present=["GPU"], properties={
        ("GPU", "OPTIMIZATION_CAPABILITIES"): GPU_CAPABILITIES,
        ("GPU", "FULL_DEVICE_NAME"): "Intel(R) Arc(TM) A770 Graphics (dGPU)"})
    gpu = next(d for d in ovtf.devices() if d["name"] == "GPU")
    assert gpu == {"name": "GPU", "full_name": "Intel(R) Arc(TM) A770 Graphics (dGPU)", "kind": "GPU",
                   "precisions": ["f32", "f16"], "capabilities": GPU_CAPABILITIES, "emulated": False}
    assert backends.get("GPU").describe() == gpu
