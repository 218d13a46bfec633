"""The import path of the OpenVINO backend family before it became the package
`ovtf.backends.openvino`, kept so that code written against it still imports.

New code imports `ovtf.backends.openvino`. This module only re-exports its public names:
to replace something for a test, patch the module that owns it (e.g.
`ovtf.backends.openvino.shared_core._core`), not this one.
"""

from __future__ import annotations

from ovtf.backends.openvino import (DEFAULT_PERFORMANCE_HINT, FAMILY, REMOVED_DEVICES,  # noqa: F401
                                    NativeExecutable, OpenVINOBackend, OpenVINOExecutable,
                                    OpenVINOFamily, core, list_devices, native_runtime,
                                    zero_size_tensor)
