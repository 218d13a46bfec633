"""Imports inside ovtf run one way: every import (function-level ones included) read with
`ast`, and the module graph must have no cycle; `config` and `counters` import nothing of
ovtf, and the layers point the way DESIGN.md draws them."""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ovtf")


def _module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
    return relative[: -len(".__init__")] if relative.endswith(".__init__") else relative


def _modules() -> dict:
    """module name -> source path (None for the native extension: it imports nothing)."""
    found = {"ovtf._native": None}
    for directory, _, files in os.walk(ROOT):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(directory, file)
                found[_module_name(path)] = path
    return found


def _imports(name: str, path: str, modules: dict) -> set:
    """The ovtf modules `name` imports. `from pkg import x` is an edge to `pkg.x` when that
    is a module, else to `pkg` (importing a package also runs its parents, which is not
    counted: every module would otherwise depend on `ovtf/__init__`)."""
    tree = ast.parse(open(path).read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    edges = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names if alias.name.split(".")[0] == "ovtf")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] != "ovtf":
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                edges.add(target if target in modules else base)
    return {edge for edge in edges if edge in modules and edge != name}


@pytest.fixture(scope="module")
def graph() -> dict:
    modules = _modules()
    return {name: _imports(name, path, modules) if path else set() for name, path in modules.items()}


def _cycles(graph: dict) -> list:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def _reachable(graph: dict, start: str) -> set:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_walk_sees_function_level_imports(graph):
    assert "ovtf.backends.openvino.backend" in graph  # and it reads imports inside functions:
    assert "ovtf.backends.disk_cache" in graph["ovtf.backends.openvino.backend"]


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_cycle_detection_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["ovtf.config", "ovtf.counters", "ovtf.once", "ovtf.spec"])
def test_leaves_import_nothing_of_ovtf(graph, module):
    assert graph[module] == set()


@pytest.mark.parametrize("lower, upper", [
    ("ovtf.ocm", "ovtf.partitioner"), ("ovtf.ocm", "ovtf.backends"), ("ovtf.ocm", "ovtf.runtime"),
    ("ovtf.ocm", "ovtf.importer"), ("ovtf.partitioner", "ovtf.runtime"),
    ("ovtf.partitioner", "ovtf.backends"), ("ovtf.importer", "ovtf.backends"),
    ("ovtf.importer", "ovtf.runtime"), ("ovtf.backends", "ovtf.runtime"),
    ("ovtf.backends", "ovtf.partitioner"), ("ovtf.runtime", "ovtf.partitioner"),
    ("ovtf.runtime", "ovtf.hook"), ("ovtf.partitioner", "ovtf.hook"),
])
def test_layers_point_down(graph, lower, upper):
    """Nothing in a lower layer reaches a module of an upper one."""
    reached = set()
    for name in graph:
        if name == lower or name.startswith(lower + "."):
            reached |= _reachable(graph, name)
    offending = sorted(m for m in reached if m == upper or m.startswith(upper + "."))
    assert offending == [], f"{lower} reaches {offending}"


# Below the hook, settings arrive as arguments (`config.current` handed down): these layers
# import no mutable state of `ovtf.config` (its upper-case constants are fine).
BELOW_THE_HOOK = ("ovtf.runtime", "ovtf.backends", "ovtf.partitioner", "ovtf.ocm",
                  "ovtf.importer", "ovtf.spec")


def _config_imports(path: str) -> list:
    """(line, what) for each import of ovtf.config in `path` other than of constants."""
    found = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names
                      if alias.name == "ovtf.config"]
        elif isinstance(node, ast.ImportFrom):
            if node.module == "ovtf.config":
                found += [(node.lineno, f"ovtf.config.{alias.name}") for alias in node.names
                          if not alias.name.isupper()]
            elif node.module == "ovtf":
                found += [(node.lineno, "ovtf.config") for alias in node.names
                          if alias.name == "config"]
    return found


def test_nothing_below_the_hook_reads_the_settings():
    offenders = {}
    for name, path in _modules().items():
        if path and any(name == layer or name.startswith(layer + ".") for layer in BELOW_THE_HOOK):
            found = _config_imports(path)
            if found:
                offenders[name] = found
    assert not offenders, offenders
