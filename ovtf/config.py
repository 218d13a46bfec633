"""ovtf's user settings: one validated value per knob, read from the environment at import.

Every public setter in `ovtf` lands here. Environment variables are parsed once, when ovtf
is imported; an explicit call always wins over the environment. Every value is validated
where it enters: a bad one raises `ValueError` naming the value and what is accepted, both
from a call and (at import) from the environment.

Knobs that depend on other packages (which backends exist, which op types TensorFlow knows)
are validated through functions handed in (`set_backend_resolver`, called by `import ovtf`
before it reads the environment), so this module imports nothing of ovtf.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace

PRECISIONS = ("f32", "bf16", "f16")
# OVTF_LOG_LEVEL: how much a placement report says (0 quiet... see placement_log).
LOG_LEVELS = (0, 1, 2)
DEFAULT_BACKEND = "CPU"
# The smallest cluster (in compute ops) worth sending to the device. Measured on this 2-core
# CPU (benchmarks/min_cluster_size.py, benchmarks/README.md "Cost placement"): every cluster
# call cost ~120-200 us through Python (islands of 2-16 cheap ops 3-4x slower than TF; of 1-4
# ops led by a 256x256 MatMul 1.1-1.5x slower). With the kernel's fast path (no Python on a
# repeated call) a single cluster costs 0-34 us over TF and breaks even at ~16 cheap 4x4 ops,
# but islands of 2-16 cheap 64x64 ops cut apart by TF ops are still 1.45-1.95x slower (26-46
# us per cluster; benchmarks/README.md "Per-call cost"), so 16 stands. A Keras
# LSTM (20 steps, clusters inside the loop body) ran 0.77 ms in TF, 5.1 ms with minimum 2
# (3 clusters x 20 iterations) and 0.74 ms with minimum 16 (its fragments stay in TF). Real
# models are big clusters (ResNet50: 813 ops, MobileNetV2: 467, one cluster each; the BERT-like
# encoder fully offloaded),
# unaffected by the minimum. So 16: fragments that lose stay in TF, models that win are
# untouched. An op count can't tell a cheap fragment from an expensive one; lower it
# (OVTF_MIN_CLUSTER_SIZE) for graphs with small but heavy fragments.
DEFAULT_MIN_CLUSTER_SIZE = 16

# Cost placement (ovtf.runtime.cost_placement): time each (cluster, signature) on the device and in
# TensorFlow after warm-up, keep the faster. Default: see benchmarks/README.md.
DEFAULT_COST_PLACEMENT = False

# Training steps (graphs with gradient or optimizer-update ops) stay in TensorFlow: their
# clusters run once per step with fresh weights (fed as parameters, copies both ways), and a
# Keras `fit` measured 1.8x as long with them offloaded (issue 11; benchmarks/training_fit.py).
# OVTF_TRAINING_GRAPHS=1 / ovtf.enable_training_graphs() offloads them anyway.
DEFAULT_TRAINING_GRAPHS = False

# Seconds a cluster compile may take before the call gives up waiting for it (the cluster
# then runs in TensorFlow, or raises with fallback off). OpenVINO cannot cancel a compile, so
# it goes on in a worker and its result, if it ever comes, is cached. Measured compiles on
# this 2-core CPU: a small cluster ~75 ms, ResNet50 ~0.7 s, a BERT-like encoder a few s; a
# dilated convolution hung > 90 s (issue 18). 300 s leaves big models room on slow
# machines and still ends a hang. 0: no bound.
DEFAULT_COMPILE_TIMEOUT = 300.0

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    backend: str = DEFAULT_BACKEND
    disabled_ops: frozenset = field(default_factory=frozenset)
    dynamic_fallback: bool = True
    log_placement: bool = False
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE
    cache_dir: str | None = None
    precision: str = "f32"
    log_level: int = 1
    cost_placement: bool = DEFAULT_COST_PLACEMENT
    placement_html_dir: str | None = None   # a placement picture per graph goes here
    training_graphs: bool = DEFAULT_TRAINING_GRAPHS   # partition training steps too
    compile_timeout: float = DEFAULT_COMPILE_TIMEOUT   # seconds; 0: no bound


_lock = threading.Lock()
# Replaced as a whole by every change, never changed in place: a reference someone holds is
# a consistent snapshot. Below the hook nothing reads it; the hook hands `current` down.
settings = Settings()
_listeners: list = []     # called after every change of `settings`


def current() -> Settings:
    """The settings in force now (a frozen snapshot)."""
    return settings


def on_change(listener) -> None:
    """Call `listener()` after every settings change (the hook disarms kernels' fast paths,
    which would otherwise repeat calls made under the old settings)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _changed() -> None:
    for listener in list(_listeners):
        listener()


# --- parsing and validation (shared by setters and the environment) -------------------------

def parse_bool(value, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{what}: {value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")


def _parse_int(value, what: str, accepted: str) -> int:
    """An int, or a string of decimal digits; never a bool or a float (2.5 must not become 2)."""
    message = f"{what}: {value!r} is not {accepted}"
    if isinstance(value, bool):
        raise ValueError(message)
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError(message)
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(message) from None


def parse_int_range(value, what: str, low: int, high: int | None = None) -> int:
    """An integer >= low (and <= high when given), from an int or a decimal string."""
    accepted = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    number = _parse_int(value, what, accepted)
    if number < low or (high is not None and number > high):
        raise ValueError(f"{what}: {value!r} is not {accepted}")
    return number


def parse_min_cluster_size(value, what: str = "min cluster size") -> int:
    return parse_int_range(value, what, 1)


def parse_log_level(value, what: str = "log level") -> int:
    accepted = f"one of {', '.join(map(str, LOG_LEVELS))} (0: none, 1: summary, 2: per node)"
    number = _parse_int(value, what, accepted)
    if number not in LOG_LEVELS:
        raise ValueError(f"{what}: {value!r} is not {accepted}")
    return number


def parse_compile_timeout(value, what: str = "compile timeout") -> float:
    """Seconds (an int, a float or a decimal string) >= 0; 0 means no bound."""
    accepted = "a number of seconds >= 0 (0: no bound)"
    if isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is not {accepted}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not {accepted}") from None
    else:
        raise ValueError(f"{what}: {value!r} is not {accepted}")
    if not number >= 0 or number == float("inf"):   # NaN, negative, infinite
        raise ValueError(f"{what}: {value!r} is not {accepted}")
    return number


def parse_precision(value, what: str = "precision") -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}: {value!r} is not a known precision; accepted: {', '.join(PRECISIONS)}")
    text = value.strip().lower()
    aliases = {"fp32": "f32", "float32": "f32", "fp16": "f16", "float16": "f16", "bfloat16": "bf16"}
    text = aliases.get(text, text)
    if text not in PRECISIONS:
        raise ValueError(f"{what}: {value!r} is not a known precision; accepted: {', '.join(PRECISIONS)}")
    return text


def split_op_names(value, what: str = "disabled ops") -> list:
    """The names in a comma-separated string (empty parts dropped) or an iterable of strings
    (stripped), not checked to exist: `parse_op_list` checks them."""
    if value is None:
        return []
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
        return [name for name in names if name]
    try:
        items = list(value)
    except TypeError:
        raise ValueError(f"{what}: {value!r} is neither a comma-separated string of op type "
                         "names nor a list of them") from None
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise ValueError(f"{what}: {bad[0]!r} is not an op type name (a string such as 'MatMul')")
    return [name.strip() for name in items]


def parse_op_list(value, what: str = "disabled ops") -> frozenset:
    """A comma-separated string or an iterable of TF op type names, each checked to exist."""
    names = split_op_names(value, what)
    unknown = [name for name in names if not is_known_op(name)]
    if unknown:
        raise ValueError(
            f"{what}: unknown TensorFlow op type(s) {', '.join(map(repr, unknown))}; "
            "use op type names as in tf.raw_ops (e.g. 'Conv2D', 'MatMul')")
    return frozenset(names)


# (name -> canonical name or None, () -> names to list): the backend registry's answers,
# handed in by the API layer so that this module imports nothing of ovtf.
_backend_resolver = None


def set_backend_resolver(canonical_name, list_backends) -> None:
    global _backend_resolver
    _backend_resolver = (canonical_name, list_backends)


def parse_backend(value, what: str = "backend") -> str:
    """Whatever the backend registry accepts (`ovtf.backends.canonical_name`): a listed
    backend, a registered one, or an OpenVINO device string over present devices."""
    if _backend_resolver is None:
        raise RuntimeError("ovtf.config: no backend resolver (import ovtf sets it)")
    canonical_name, list_backends = _backend_resolver
    try:
        canonical = canonical_name(value) if isinstance(value, str) else None
    except ValueError as error:   # a family explaining the name (an absent GPU, "SPLIT:", ...)
        if what == "backend":
            raise
        raise ValueError(f"{what}: {error}") from None
    if canonical is not None:
        return canonical
    available = list_backends()
    raise ValueError(
        f"{what}: backend {value!r} is not available; available: {', '.join(available) or 'none'}"
        " (or an OpenVINO device string over them, e.g. 'AUTO', 'HETERO:<dev>,<dev>', "
        "'MULTI:<dev>,<dev>')")


def parse_cache_dir(value, what: str = "cache dir") -> str | None:
    """A directory path (created on first use), or None for no disk cache. A path that exists
    but is not a directory is rejected here; one that can't be written is not: ovtf warns
    once when it first tries and keeps compiled clusters in memory only."""
    if value is None:
        return None
    try:
        text = os.fspath(value)
    except TypeError:
        raise ValueError(f"{what}: {value!r} is not a directory path (a str or os.PathLike)") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text.strip() == "" or "\0" in text:
        raise ValueError(f"{what}: {value!r} is not a directory path")
    path = os.path.abspath(os.path.expanduser(text))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{what}: {value!r} exists and is not a directory")
    return path


def is_known_op(name: str) -> bool:
    """Whether TensorFlow has an op type of this name (tf.raw_ops spelling)."""
    from tensorflow.python.framework import op_def_registry
    return op_def_registry.get(name) is not None


# --- environment ------------------------------------------------------------------------

_ENV_PARSERS = {
    "OVTF_DISABLE": ("enabled", lambda v, w: not parse_bool(v, w)),
    "OVTF_BACKEND": ("backend", parse_backend),
    "OVTF_DISABLED_OPS": ("disabled_ops", parse_op_list),
    "OVTF_DYNAMIC_FALLBACK": ("dynamic_fallback", parse_bool),
    "OVTF_LOG_PLACEMENT": ("log_placement", parse_bool),
    "OVTF_MIN_CLUSTER_SIZE": ("min_cluster_size", parse_min_cluster_size),
    "OVTF_CACHE_DIR": ("cache_dir", parse_cache_dir),
    "OVTF_PRECISION": ("precision", parse_precision),
    "OVTF_LOG_LEVEL": ("log_level", parse_log_level),
    "OVTF_COST_PLACEMENT": ("cost_placement", parse_bool),
    "OVTF_PLACEMENT_HTML_DIR": ("placement_html_dir", parse_cache_dir),
    "OVTF_TRAINING_GRAPHS": ("training_graphs", parse_bool),
    "OVTF_COMPILE_TIMEOUT": ("compile_timeout", parse_compile_timeout),
}


def load_environment(environ=None) -> None:
    """Apply every OVTF_* variable; raises ValueError naming the variable and its value."""
    environ = os.environ if environ is None else environ
    known = set(_ENV_PARSERS)
    for name in sorted(environ):
        if name.startswith("OVTF_") and name not in known:
            raise ValueError(
                f"environment variable {name} is not an ovtf setting; known: {', '.join(sorted(known))}")
    updates = {}
    for name, (attribute, parse) in _ENV_PARSERS.items():
        if name in environ:
            updates[attribute] = parse(environ[name], f"environment variable {name}")
    _replace(updates)


def update(**values) -> None:
    """Set already-validated values atomically."""
    _replace(values)


def _replace(values: dict) -> None:
    global settings
    with _lock:
        for attribute in values:
            if not hasattr(settings, attribute):
                raise AttributeError(attribute)
        settings = replace(settings, **values)
    _changed()
