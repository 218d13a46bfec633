"""Build ovtf, including its native bridge `ovtf._native` (pybind11, C++17).

The extension compiles against the C API headers of a TensorFlow in the build environment
and links no TensorFlow library (TensorFlow's own import provides the symbols; see
ovtf/_compat.py). It includes OpenVINO's C API headers and links no OpenVINO library either:
`libopenvino_c` is loaded at run time (csrc/openvino_runtime.h), so one build serves every
OpenVINO release in the declared range. With pip's default build isolation the headers come from the
`tensorflow-cpu` pinned in pyproject.toml's [build-system] requires: the C API structs
ovtf uses are the same in every TensorFlow it supports, so that one build serves them all.
Without isolation (`pip install --no-build-isolation -e .`, what scripts/bootstrap.sh does)
the TensorFlow already installed is used.

TensorFlow itself is not a hard requirement: `tensorflow`, `tensorflow-cpu`,
`intel-tensorflow` and the aarch64 builds all provide the `tensorflow` module under
different distribution names, and requiring one would pull a second TensorFlow next to
another. `import ovtf` checks the version instead; the extras install one:
    pip install ovtf[tf]        # or ovtf[tf-cpu]
"""

import importlib.util
import os

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import find_packages, setup

TENSORFLOW_RANGE = ">=2.16,<2.22"  # keep in step with ovtf/_compat.py (the verified range)
OPENVINO_RANGE = ">=2026.2,<2027"  # the tested range (older releases lack ops ovtf places): docs/tf_versions.md


def include_dir(package: str, header: str, provider: str) -> str:
    """`package`'s header folder (it must hold `header`), found without importing the
    package (slow, and not needed). `provider`: the build requirement that brings it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"building ovtf needs {package}'s C headers: build with pip's default isolation "
            f"(pyproject.toml provides {provider}), or install {package} first and use "
            "pip install --no-build-isolation .")
    include = os.path.join(list(spec.submodule_search_locations)[0], "include")
    if not os.path.exists(os.path.join(include, header)):
        raise SystemExit(f"{package} at {include} has no {header}")
    return include


class BuildExt(build_ext):
    """pybind11's build_ext, minus the linker's run-time search paths Python was configured
    with (e.g. pyenv's `-Wl,-rpath,<prefix>/lib`): the extension links no libpython and no
    TensorFlow library, so such a path would only leak the build machine into the wheel."""

    def build_extensions(self):
        linker = self.compiler.linker_so
        self.compiler.linker_so = [arg for arg in linker if not arg.startswith("-Wl,-rpath")]
        super().build_extensions()


native = Pybind11Extension(
    "ovtf._native",
    sources=["csrc/grappler_plugin.cc", "csrc/cluster_kernel.cc", "csrc/fast_path.cc",
             "csrc/python_module.cc", "csrc/openvino_runtime.cc"],
    # build_ext rebuilds when a source or one of these is newer than the built extension;
    # without them an edit to a header alone would leave a stale build in place.
    depends=["csrc/bridge.h", "csrc/openvino_runtime.h"],
    # TensorFlow's C API (grappler plugin, kernels); OpenVINO's C API, for its declarations
    # only: csrc/openvino_runtime.cc loads libopenvino_c at run time, nothing is linked.
    include_dirs=[include_dir("tensorflow", "tensorflow/c/experimental/grappler/grappler.h",
                              "tensorflow-cpu"),
                  include_dir("openvino", "openvino/c/openvino.h", "openvino")],
    cxx_std=17,
    extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
)

setup(
    name="ovtf",
    version="0.1.0",
    description="Accelerate unmodified TensorFlow programs with OpenVINO",
    packages=find_packages(include=["ovtf", "ovtf.*", "openvino_tensorflow", "openvino_tensorflow.*"]),
    ext_modules=[native],
    cmdclass={"build_ext": BuildExt},
    python_requires=">=3.10",
    install_requires=[
        f"openvino{OPENVINO_RANGE}",
        "numpy>=1.24",
        "click>=8.1",   # the `ovtf` command (ovtf/cli)
        "rich>=13",
    ],
    entry_points={"console_scripts": ["ovtf = ovtf.cli:main"]},
    extras_require={
        "tf": [f"tensorflow{TENSORFLOW_RANGE}"],
        "tf-cpu": [f"tensorflow-cpu{TENSORFLOW_RANGE}; platform_machine=='x86_64'",
                   f"tensorflow{TENSORFLOW_RANGE}; platform_machine!='x86_64'"],
        "test": ["pytest>=8", "pytest-timeout", "hypothesis"],
        "opencl": ["pyopencl"],   # names the OpenCL platforms when a GPU is absent (its ValueError, ovtf info)
        "ray": ["ray[data]>=2.10"],   # ovtf.ray.Predictor (map_batches concurrency=; tested: 2.60)
    },
    zip_safe=False,
)
