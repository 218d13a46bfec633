"""DESIGN.md's public-contract table names every public call of `ovtf` (issue 22: it had
drifted from the API), and names nothing that is not one."""

from __future__ import annotations

import os
import re

import ovtf

DESIGN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                      "DESIGN.md")


def _table_calls() -> set:
    text = open(DESIGN, encoding="utf-8").read()
    table = text[text.index("## Public contract"):]
    table = table[:table.index("\n\n", table.index("| call |"))]
    return set(re.findall(r"`([a-z_]+)\(", table))


def test_the_contract_table_matches_the_api():
    public = {name for name in dir(ovtf) if not name.startswith("_")
              and callable(getattr(ovtf, name)) and not isinstance(getattr(ovtf, name), type)
              and getattr(getattr(ovtf, name), "__module__", "") == "ovtf"}
    assert public - _table_calls() == set(), "public calls missing from DESIGN.md"
    assert _table_calls() - public == set(), "DESIGN.md names calls ovtf lacks"
