"""The import path of the OpenVINO backend family before it became the package
`ovtf.backends.openvino`, kept so that code written against it still imports.

New code imports `ovtf.backends.openvino`. This module only re-exports its public names; a
test hands the family or a backend its own core (`FAMILY.use_core(core)`,
`OpenVINOBackend(device, core=...)`) instead of patching either.
"""

from __future__ import annotations

from ovtf.backends.openvino import (DEFAULT_PERFORMANCE_HINT, FAMILY, REMOVED_DEVICES,  # noqa: F401
                                    NativeExecutable, OpenVINOBackend, OpenVINOExecutable,
                                    OpenVINOFamily, core, list_devices, native_runtime,
                                    zero_size_tensor)
