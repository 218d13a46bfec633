"""Record what OpenVINO's GPU and NPU plugins say on a machine without those devices, as the
fixtures tests/test_devices.py maps to ovtf's messages (tests/data/plugin_errors.json).

    .venv/bin/python scripts/capture_plugin_errors.py [--opencl-loader DIR] [--out PATH]

Each scenario runs in a fresh process (a plugin that failed to load stays failed in its
process): "as installed" (this machine as it is), and with --opencl-loader DIR a second one
with DIR on LD_LIBRARY_PATH, DIR holding an OpenCL ICD loader `libOpenCL.so.1` but no ICD
(e.g. Debian's ocl-icd-libopencl1 unpacked with `apt-get download` + `dpkg -x`, nothing
installed): the state of a machine with the loader and no Intel GPU driver.
(Pointing it at the loader bundled in the pyopencl wheel instead made OpenVINO 2026.4
segfault in `Core.get_versions("GPU")`; not recorded.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

PROBE = r'''
import json, sys
import numpy as np
import openvino as ov
from openvino import opset13 as ops

core = ov.Core()
parameter = ops.parameter([1, 4], np.float32, name="x")
model = ov.Model([ops.relu(parameter)], [parameter], "probe")
calls = []
for device in ("GPU", "GPU.1", "NPU"):
    for call, run in (
            ("compile_model", lambda: core.compile_model(model, device)),
            ("query_model", lambda: core.query_model(model, device)),
            ("get_property FULL_DEVICE_NAME", lambda: core.get_property(device, "FULL_DEVICE_NAME")),
            ("get_property OPTIMIZATION_CAPABILITIES",
             lambda: core.get_property(device, "OPTIMIZATION_CAPABILITIES")),
            ("get_property AVAILABLE_DEVICES", lambda: core.get_property(device, "AVAILABLE_DEVICES")),
            ("get_property SUPPORTED_PROPERTIES",
             lambda: sorted(core.get_property(device, "SUPPORTED_PROPERTIES"))),
            ("get_property INFERENCE_PRECISION_HINT",
             lambda: str(core.get_property(device, "INFERENCE_PRECISION_HINT")))):
        entry = {"device": device, "call": call}
        try:
            value = run()
            entry["value"] = value if isinstance(value, (list, dict, str)) else str(value)
        except Exception as error:
            entry["error"] = {"type": type(error).__name__, "text": str(error)}
        calls.append(entry)
print(json.dumps({"openvino": ov.get_version(), "available_devices": list(core.available_devices),
                  "calls": calls}))
'''


def run_scenario(name: str, description: str, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"scenario {name!r}: the probe exited {done.returncode}:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"name": name, "description": description, **result}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opencl-loader", metavar="DIR",
                        help="folder with an OpenCL ICD loader libOpenCL.so.1 (no ICD)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "data", "plugin_errors.json"))
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    scenarios = [run_scenario("as installed", "no Intel GPU, no NPU, no OpenCL ICD loader "
                              "(libOpenCL.so.1 absent), no NPU driver", env)]
    if args.opencl_loader:
        loader_env = dict(env, LD_LIBRARY_PATH=os.path.abspath(args.opencl_loader))
        scenarios.append(run_scenario(
            "opencl loader, no platform", "an OpenCL ICD loader (ocl-icd 2.3.1, Debian bookworm) "
            "on LD_LIBRARY_PATH, no OpenCL ICD (no platform), no NPU driver", loader_env))
    try:
        import pyopencl
        try:
            platforms = [p.name for p in pyopencl.get_platforms()]
            opencl = {"pyopencl": pyopencl.VERSION_TEXT, "platforms": platforms}
        except Exception as error:
            opencl = {"pyopencl": pyopencl.VERSION_TEXT,
                      "error": {"type": type(error).__name__, "text": str(error)}}
    except ImportError:
        opencl = {"pyopencl": None}
    import platform
    document = {"openvino": scenarios[0]["openvino"], "machine": platform.platform(),
                "captured_by": "scripts/capture_plugin_errors.py", "pyopencl": opencl,
                "scenarios": scenarios}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(document, handle, indent=1, sort_keys=False)
        handle.write("\n")
    print(f"wrote {os.path.abspath(args.out)}: {sum(len(s['calls']) for s in scenarios)} calls "
          f"in {len(scenarios)} scenario(s), OpenVINO {document['openvino']}")


if __name__ == "__main__":
    main()
