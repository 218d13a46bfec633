"""The `SPLIT:` backend-name grammar: which names mean "one batch over several backends".

    SPLIT:<member>,<member>,...       e.g. SPLIT:NPU.0,NPU.1,GPU

Each member is a backend name `ovtf.backends.get` accepts, except another SPLIT; a member may
be listed twice (it then gets two slices). The grammar lives apart from the backend so that
a bad name is refused where it enters (`ovtf.set_backend`, `OVTF_BACKEND`) with a message
naming the value and what is accepted, before anything is built.
"""

from __future__ import annotations

from ovtf import backends

__all__ = ["PREFIX", "FORM", "canonical_split_name", "member_names"]

PREFIX = "SPLIT:"
FORM = "'SPLIT:<dev>,<dev>,...'"


def _accepted() -> str:
    """The backends a SPLIT may be made of, for error messages."""
    return ", ".join(name for name in backends.list_backends()
                     if not name.upper().startswith(PREFIX)) or "none"


def canonical_split_name(name) -> str | None:
    """'SPLIT:' + each member's canonical name, comma-separated; None when `name` is not a
    SPLIT name at all (another family may own it). A malformed SPLIT name (no member, an
    empty member, one that is not available, a nested SPLIT) raises ValueError."""
    if not isinstance(name, str) or not name.strip().upper().startswith(PREFIX):
        return None
    rest = name.strip()[len(PREFIX):]
    if not rest.strip():
        raise ValueError(f"backend {name!r}: SPLIT needs at least one member: {FORM} "
                         f"with members from: {_accepted()}")
    members = []
    for position, part in enumerate(rest.split(","), 1):
        part = part.strip()
        if not part:
            raise ValueError(f"backend {name!r}: member {position} is empty; expected {FORM} "
                             f"with members from: {_accepted()}")
        if part.upper().startswith(PREFIX) or part.upper() == "SPLIT":
            raise ValueError(f"backend {name!r}: a SPLIT cannot be a member of a SPLIT; "
                             f"expected {FORM} with members from: {_accepted()}")
        canonical = backends.canonical_name(part)
        if canonical is None:
            raise ValueError(f"backend {name!r}: member {part!r} is not available; "
                             f"available: {_accepted()}")
        members.append(canonical)
    return PREFIX + ",".join(members)


def member_names(canonical: str) -> list:
    """The member backend names of a canonical SPLIT name, in order."""
    return canonical[len(PREFIX):].split(",")
