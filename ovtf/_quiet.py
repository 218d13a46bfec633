"""Keeps TensorFlow's start-up noise off a newcomer's terminal.

On a machine without a GPU, `import tensorflow` (and the first device query after it) writes
lines like these straight to file descriptor 2, from C++, before any logging is set up, so
`TF_CPP_MIN_LOG_LEVEL` cannot silence them:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: ... (303)

`filtered_stderr()` points descriptor 2 at a temporary file for the duration of a block and,
when the block ends, writes back everything that is not one of these known start-up notices
(NOISE below), so a real warning or error still shows, in order. If the block raises
(other than SystemExit), everything is written back unfiltered. `TF_CPP_MIN_LOG_LEVEL=0` (explicitly asking for all of
TensorFlow's messages) turns the filter off. Imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

# Informational start-up lines of TensorFlow and XLA on CPU-only machines (by source file).
NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ (port|cudart_stub|cuda_platform|cuda_executor|cuda_dnn|cuda_fft|"
    r"cuda_blas|cpu_feature_guard|cpu_utils|gpu_device|dso_loader|cuda_diagnostics|"
    r"computation_placer|tf_trt|device_compiler|service|devices|single_machine|custom_graph_optimizer_registry)\.cc:\d+\] .*"
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow with the"
    r" appropriate compiler flags\."
    r"|Unable to register cu(DNN|FFT|BLAS) factory.*"
    r"|TF-TRT Warning: Could not find TensorRT)$")


def enabled() -> bool:
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() != "0"


def filter_text(text: str) -> str:
    kept = [line for line in text.splitlines(keepends=True) if not NOISE.match(line.rstrip("\n"))]
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr():
    """Run the block with file descriptor 2 captured; write back what is not start-up noise."""
    if not enabled():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield  # no usable descriptor 2 (embedded interpreters): nothing to filter
        return
    capture = tempfile.TemporaryFile(mode="w+b")
    os.dup2(capture.fileno(), 2)
    failed = False
    try:
        yield
    except SystemExit:
        raise  # an orderly exit (a CLI's error message): filtered like a normal end
    except BaseException:
        failed = True
        raise
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", "replace")
        capture.close()
        rest = text if failed else filter_text(text)
        if rest:
            try:
                sys.stderr.write(rest)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

