"""Validation of every setting: API arguments and OVTF_* environment variables.

A bad value must raise ValueError naming the value and what is accepted, and leave the
setting unchanged; the environment is checked at import (in fresh processes here).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys

import pytest

import ovtf
from ovtf import backends, config
from ovtf.runtime.compiled_cache import PROCESS_CACHE

BAD_API_CALLS = [
    # (setter, getter, bad value, words the message must contain)
    (ovtf.set_backend, ovtf.get_backend, "NOPE", ["'NOPE'", "available", "CPU"]),
    (ovtf.set_backend, ovtf.get_backend, "HETERO:NOPE,CPU", ["'HETERO:NOPE,CPU'", "CPU"]),
    (ovtf.set_backend, ovtf.get_backend, 7, ["7", "available"]),
    (ovtf.set_backend, ovtf.get_backend, None, ["None", "available"]),
    (ovtf.set_backend, ovtf.get_backend, "", ["''", "available"]),
    (ovtf.set_disabled_ops, ovtf.get_disabled_ops, ["MatMul", "NoSuchOp"], ["'NoSuchOp'", "op type"]),
    (ovtf.set_disabled_ops, ovtf.get_disabled_ops, "Conv2D,Bogus", ["'Bogus'", "tf.raw_ops"]),
    (ovtf.set_disabled_ops, ovtf.get_disabled_ops, 42, ["42", "comma-separated"]),
    (ovtf.set_disabled_ops, ovtf.get_disabled_ops, [1, 2], ["1", "op type name"]),
    (ovtf.set_min_cluster_size, ovtf.get_min_cluster_size, "three", ["'three'", "integer >= 1"]),
    (ovtf.set_min_cluster_size, ovtf.get_min_cluster_size, 0, ["0", "integer >= 1"]),
    (ovtf.set_min_cluster_size, ovtf.get_min_cluster_size, -2, ["-2", "integer >= 1"]),
    (ovtf.set_min_cluster_size, ovtf.get_min_cluster_size, 2.5, ["2.5", "integer >= 1"]),
    (ovtf.set_min_cluster_size, ovtf.get_min_cluster_size, True, ["True", "integer >= 1"]),
    (ovtf.set_min_cluster_size, ovtf.get_min_cluster_size, None, ["None", "integer >= 1"]),
    (ovtf.set_precision, ovtf.get_precision, "f64", ["'f64'", "f32", "bf16", "f16"]),
    (ovtf.set_precision, ovtf.get_precision, "", ["''", "f32"]),
    (ovtf.set_precision, ovtf.get_precision, 32, ["32", "f32"]),
    (ovtf.set_cache_dir, ovtf.get_cache_dir, "", ["''", "directory"]),
    (ovtf.set_cache_dir, ovtf.get_cache_dir, 5, ["5", "directory path"]),
    (ovtf.set_cache_dir, ovtf.get_cache_dir, "a\0b", ["directory path"]),
    (ovtf.set_placement_html_dir, ovtf.get_placement_html_dir, 5, ["5", "directory path"]),
]


@pytest.mark.parametrize("setter, getter, value, words", BAD_API_CALLS,
                         ids=[f"{c[0].__name__}-{c[2]!r}" for c in BAD_API_CALLS])
def test_bad_api_argument(setter, getter, value, words):
    before = getter()
    with pytest.raises(ValueError) as info:
        setter(value)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert getter() == before, "a rejected value must not change the setting"


def test_cache_dir_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        ovtf.set_cache_dir(path)


def test_get_supported_ops_bad_backend():
    with pytest.raises(ValueError, match=r"'NOPE'.*available"):
        ovtf.get_supported_ops("NOPE")


def test_good_api_values(tmp_path):
    for name in ("cpu", "CPU", "HETERO:CPU", "multi:cpu", "AUTO"):
        ovtf.set_backend(name)
        assert ovtf.get_backend() == backends.canonical_name(name)
    ovtf.set_backend("CPU")
    ovtf.set_disabled_ops("Conv2D, MatMul,")
    assert ovtf.get_disabled_ops() == ["Conv2D", "MatMul"]
    ovtf.set_disabled_ops(("Relu",))
    assert ovtf.get_disabled_ops() == ["Relu"]
    ovtf.set_disabled_ops("")
    assert ovtf.get_disabled_ops() == []
    ovtf.set_min_cluster_size("4")
    assert ovtf.get_min_cluster_size() == 4
    for given, expected in (("FP16", "f16"), ("bfloat16", "bf16"), (" f32 ", "f32")):
        ovtf.set_precision(given)
        assert ovtf.get_precision() == expected
    ovtf.set_cache_dir(tmp_path / "cache")
    assert ovtf.get_cache_dir() == str(tmp_path / "cache")
    ovtf.set_cache_dir(None)
    assert ovtf.get_cache_dir() is None


def test_registered_backend_is_accepted():
    backends.register("Custom-Thing", lambda: backends.get("CPU"))
    try:
        ovtf.set_backend("custom-thing")
        assert ovtf.get_backend() == "Custom-Thing"
    finally:
        ovtf.set_backend("CPU")
        backends.unregister("Custom-Thing")


def test_other_argument_checks():
    with pytest.raises(ValueError, match="non-empty string"):
        backends.register("", lambda: None)
    with pytest.raises(ValueError, match="not callable"):
        backends.register("X", 3)
    for bad in (0, -1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="integer >= 1"):
            PROCESS_CACHE.set_capacity(bad)


# --- the environment ------------------------------------------------------------------------

BAD_ENV = [
    ("OVTF_DISABLE", "maybe", ["'maybe'", "boolean", "1/0"]),
    ("OVTF_BACKEND", "TPU9", ["'TPU9'", "available", "CPU"]),
    ("OVTF_DISABLED_OPS", "MatMul,NotAnOp", ["'NotAnOp'", "op type"]),
    ("OVTF_DYNAMIC_FALLBACK", "2", ["'2'", "boolean"]),
    ("OVTF_LOG_PLACEMENT", "verbose", ["'verbose'", "boolean"]),
    ("OVTF_TRAINING_GRAPHS", "sometimes", ["'sometimes'", "boolean"]),
    ("OVTF_MIN_CLUSTER_SIZE", "big", ["'big'", "integer >= 1"]),
    ("OVTF_COMPILE_TIMEOUT", "-5", ["'-5'", "seconds >= 0"]),
    ("OVTF_MIN_CLUSTER_SIZE", "0", ["'0'", "integer >= 1"]),
    ("OVTF_CACHE_DIR", "   ", ["directory path"]),
    ("OVTF_PLACEMENT_HTML_DIR", "", ["''", "directory path"]),
    ("OVTF_PRECISION", "int8", ["'int8'", "f32", "bf16", "f16"]),
    ("OVTF_LOG_LEVEL", "loud", ["'loud'", "0, 1, 2"]),
    ("OVTF_LOG_LEVEL", "7", ["'7'", "0, 1, 2"]),
    ("OVTF_BAKCEND", "CPU", ["OVTF_BAKCEND", "not an ovtf setting", "OVTF_BACKEND"]),
]


@pytest.mark.parametrize("name, value, words", BAD_ENV, ids=[f"{n}={v!r}" for n, v, _ in BAD_ENV])
def test_bad_environment_value_in_process(name, value, words):
    """load_environment itself (fast): the same parser import uses."""
    before = vars(config.settings).copy()
    with pytest.raises(ValueError) as info:
        config.load_environment({name: value})
    message = str(info.value)
    assert name in message, message
    for word in words:
        assert word in message, message
    assert vars(config.settings) == before


def test_environment_applies_all_or_nothing():
    before = vars(config.settings).copy()
    with pytest.raises(ValueError):
        config.load_environment({"OVTF_PRECISION": "bf16", "OVTF_MIN_CLUSTER_SIZE": "x"})
    assert vars(config.settings) == before


_IMPORT = ("import json\n"
           "try:\n"
           "    import ovtf\n"
           "    s = ovtf._config.settings\n"
           "    print(json.dumps({'ok': True, 'settings': {k: sorted(v) if isinstance(v, frozenset) else v for k, v in vars(s).items()}}))\n"
           "except ValueError as error:\n"
           "    print(json.dumps({'ok': False, 'error': str(error)}))\n")


def _import_with(env: dict) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OVTF_")}
    environment.update(env)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    process = subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True,
                             timeout=240, env=environment)
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    return json.loads(lines[-1])


def test_every_bad_environment_variable_fails_import():
    """Each variable, in its own fresh process: `import ovtf` raises ValueError naming it."""
    cases = {}
    for name, value, words in BAD_ENV:
        cases.setdefault(name, (value, words))       # one process per variable
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = dict(zip(cases, pool.map(lambda n: _import_with({n: cases[n][0]}), cases)))
    for name, result in results.items():
        value, words = cases[name]
        assert not result["ok"], f"{name}={value!r} was accepted: {result}"
        for word in [name] + words:
            assert word in result["error"], (name, result["error"])


def test_good_environment_values_apply(tmp_path):
    result = _import_with({
        "OVTF_DISABLE": "1", "OVTF_BACKEND": "hetero:cpu", "OVTF_DISABLED_OPS": "Conv2D,Relu",
        "OVTF_DYNAMIC_FALLBACK": "off", "OVTF_LOG_PLACEMENT": "yes",
        "OVTF_MIN_CLUSTER_SIZE": "5", "OVTF_CACHE_DIR": str(tmp_path / "c"),
        "OVTF_PRECISION": "BF16", "OVTF_LOG_LEVEL": "2",
        "OVTF_PLACEMENT_HTML_DIR": str(tmp_path / "p"), "OVTF_TRAINING_GRAPHS": "1",
        "OVTF_COMPILE_TIMEOUT": "45"})
    assert result["ok"], result
    assert result["settings"] == {
        "enabled": False, "backend": "HETERO:CPU", "disabled_ops": ["Conv2D", "Relu"],
        "dynamic_fallback": False, "log_placement": True, "min_cluster_size": 5,
        "cache_dir": str(tmp_path / "c"), "precision": "bf16", "log_level": 2,
        "cost_placement": False, "placement_html_dir": str(tmp_path / "p"),
        "training_graphs": True, "compile_timeout": 45.0}


def test_defaults_without_environment():
    result = _import_with({})
    assert result["ok"], result
    assert result["settings"]["min_cluster_size"] == config.DEFAULT_MIN_CLUSTER_SIZE == 16
    assert result["settings"]["precision"] == "f32" and result["settings"]["enabled"]


def test_explicit_call_beats_environment(fresh_process):
    result = fresh_process("""
        import json, ovtf
        before = ovtf.get_precision()
        ovtf.set_precision("f32")
        print(json.dumps({"before": before, "after": ovtf.get_precision()}))
    """, env={"OVTF_PRECISION": "f16"})
    assert result == {"before": "f16", "after": "f32"}
