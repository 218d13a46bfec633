"""Build ovtf, including its native bridge `ovtf._native` (pybind11, C++17).

The extension compiles against the C API headers of the TensorFlow installed in the build
environment and links no TensorFlow library (TensorFlow's own import provides the symbols).
Build without isolation so the installed TensorFlow is the one used:
    pip install --no-build-isolation -e .
"""

import os

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import find_packages, setup


def tensorflow_include_dir() -> str:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF import chatter is not build output
    try:
        import tensorflow as tf
    except ImportError as error:
        raise SystemExit(
            "building ovtf needs TensorFlow installed first (its C headers): "
            "pip install tensorflow, then pip install --no-build-isolation .") from error
    include = tf.sysconfig.get_include()
    header = os.path.join(include, "tensorflow", "c", "experimental", "grappler", "grappler.h")
    if not os.path.exists(header):
        raise SystemExit(f"TensorFlow at {include} has no grappler C API header ({header})")
    return include


native = Pybind11Extension(
    "ovtf._native",
    sources=["csrc/ovtf_native.cc"],
    include_dirs=[tensorflow_include_dir()],
    cxx_std=17,
    extra_compile_args=["-O2", "-Wall", "-Wno-unused-function"],
)

setup(
    name="ovtf",
    version="0.1.0",
    description="Accelerate unmodified TensorFlow programs with OpenVINO",
    packages=find_packages(include=["ovtf", "ovtf.*"]),
    ext_modules=[native],
    cmdclass={"build_ext": build_ext},
    python_requires=">=3.10",
    install_requires=[
        # tensorflow-cpu works too; either provides the `tensorflow` module.
        "tensorflow>=2.16,<2.23; platform_machine=='x86_64' or platform_machine=='aarch64'",
        "openvino>=2025.0",
        "numpy>=1.24",
    ],
    extras_require={"test": ["pytest", "pytest-timeout", "hypothesis"]},
    zip_safe=False,
)
