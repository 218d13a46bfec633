"""ovtf's user settings: one validated value per knob, read from the environment at import.

Every public setter in `ovtf` lands here. Environment variables are parsed once, when ovtf
is imported; an explicit call always wins over the environment. Every value is validated
where it enters: a bad one raises `ValueError` naming the value and what is accepted, both
from a call and (at import) from the environment.

Knobs that depend on other packages (which backends exist, which op types TensorFlow knows)
are validated through small hooks so that this module imports nothing heavy.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

PRECISIONS = ("f32", "bf16", "f16")
DEFAULT_BACKEND = "CPU"
# Measured on ResNet50/MobileNetV2 (see docs/PERFORMANCE.md): a cluster with fewer compute
# ops than this costs more in the TF->OpenVINO hand-off (~15 us) than it saves.
DEFAULT_MIN_CLUSTER_SIZE = 2

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass
class Settings:
    enabled: bool = True
    backend: str = DEFAULT_BACKEND
    disabled_ops: frozenset = field(default_factory=frozenset)
    dynamic_fallback: bool = True
    log_placement: bool = False
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE
    cache_dir: str | None = None
    precision: str = "f32"


_lock = threading.Lock()
settings = Settings()


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


def parse_min_cluster_size(value, what: str = "min cluster size") -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is not an integer >= 1")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an integer >= 1") from None
    if number < 1:
        raise ValueError(f"{what}: {value!r} is not an integer >= 1")
    return number


def parse_precision(value, what: str = "precision") -> str:
    text = str(value).strip().lower()
    aliases = {"fp32": "f32", "float32": "f32", "fp16": "f16", "float16": "f16", "bfloat16": "bf16"}
    text = aliases.get(text, text)
    if text not in PRECISIONS:
        raise ValueError(f"{what}: {value!r} is not a known precision; accepted: {', '.join(PRECISIONS)}")
    return text


def parse_op_list(value, what: str = "disabled ops") -> frozenset:
    """A comma-separated string or an iterable of TF op type names, each checked to exist."""
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
        names = [name for name in names if name]
    else:
        names = [str(name).strip() for name in value]
    unknown = [name for name in names if not _is_known_op(name)]
    if unknown:
        raise ValueError(
            f"{what}: unknown TensorFlow op type(s) {', '.join(map(repr, unknown))}; "
            "use op type names as in tf.raw_ops (e.g. 'Conv2D', 'MatMul')")
    return frozenset(names)


def parse_backend(value, what: str = "backend") -> str:
    name = str(value).strip()
    available = _available_backends()
    canonical = {b.upper(): b for b in available}
    if name.upper() in canonical:
        return canonical[name.upper()]
    raise ValueError(f"{what}: backend {value!r} is not available; available: {', '.join(available)}")


def parse_cache_dir(value, what: str = "cache dir") -> str | None:
    if value is None:
        return None
    text = os.fspath(value)
    if not isinstance(text, str) or text.strip() == "":
        raise ValueError(f"{what}: {value!r} is not a directory path")
    return os.path.abspath(os.path.expanduser(text))


def _is_known_op(name: str) -> bool:
    from tensorflow.python.framework import op_def_registry
    return op_def_registry.get(name) is not None


def _available_backends() -> list:
    from ovtf import backends
    return backends.list_backends()


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
}


def load_environment(environ=None) -> None:
    """Apply every OVTF_* variable; raises ValueError naming the variable and its value."""
    environ = os.environ if environ is None else environ
    known = set(_ENV_PARSERS) | {"OVTF_LOG_LEVEL"}
    for name in sorted(environ):
        if name.startswith("OVTF_") and name not in known:
            raise ValueError(
                f"environment variable {name} is not an ovtf setting; known: {', '.join(sorted(known))}")
    updates = {}
    for name, (attribute, parse) in _ENV_PARSERS.items():
        if name in environ:
            updates[attribute] = parse(environ[name], f"environment variable {name}")
    with _lock:
        for attribute, value in updates.items():
            setattr(settings, attribute, value)


def update(**values) -> None:
    """Set already-validated values atomically."""
    with _lock:
        for attribute, value in values.items():
            if not hasattr(settings, attribute):
                raise AttributeError(attribute)
            setattr(settings, attribute, value)
