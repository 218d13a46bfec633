"""Shared pytest setup: quiet TensorFlow, import ovtf once, and run snippets in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests build graphs of a few ops and must see them clustered; ovtf's default minimum
# (config.DEFAULT_MIN_CLUSTER_SIZE) is sized for real programs and is tested on its own in
# test_config. Set before ovtf is imported; processes the tests start inherit it.
os.environ["OVTF_MIN_CLUSTER_SIZE"] = "2"

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def run_in_fresh_process(code: str, timeout: float = 240, env: dict | None = None) -> dict:
    """Run `code` in a new Python process (tests/ on the path); its last stdout line must be
    JSON, which is returned. Fails the test with the process output otherwise."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = TESTS_DIR + os.pathsep + environment.get("PYTHONPATH", "")
    environment.update(env or {})
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        timeout=timeout, env=environment)
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    if process.returncode != 0 or not lines:
        pytest.fail(f"fresh process failed (exit {process.returncode}):\n"
                    f"stdout:\n{process.stdout[-3000:]}\nstderr:\n{process.stderr[-5000:]}")
    return json.loads(lines[-1])


@pytest.fixture
def fresh_process():
    return run_in_fresh_process


@pytest.fixture(autouse=True)
def _reset_ovtf_settings():
    """Each test starts from default settings and zeroed counters."""
    import ovtf
    from ovtf import config

    saved = config.Settings(**vars(config.settings))
    ovtf.reset_stats()
    yield
    config.update(**vars(saved))
