"""Imports go one way (DESIGN.md §6): no cycle between liverecd's modules, and the layers
api → schedule → engine → ops are imported only downward. Every import counts, also those
inside functions or under TYPE_CHECKING: a lazy import hides a cycle, it does not remove it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import liverecd

PACKAGE = Path(liverecd.__file__).parent

# A layer → the layers it must not import.
FORBIDDEN = {
    "api": ("schedule", "engine", "ops"),
    "schedule": ("engine", "ops", "api"),
    "engine": ("ops",),
}

LAYERS = {"api", "schedule", "engine", "ops"}

Graph = dict[str, set[str]]


def _module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(
    node: ast.Import | ast.ImportFrom, here: str, is_package: bool, modules: set[str]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        anchor = here.split(".")
        anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    # `from pkg import mod` imports the module pkg.mod; `from pkg import name`, pkg itself.
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in modules else base


def import_graph(root: Path) -> Graph:
    """Module → the modules of the same package it imports, read from the source with `ast`."""
    files = {_module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    graph: Graph = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.update(t for t in _targets(node, name, is_package, modules) if t in modules)
        graph[name] = found - {name}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                found.append(sorted([v, *group]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in LAYERS else None


def layer_violations(graph: Graph) -> list[str]:
    """`a imports b` for every import of a forbidden layer."""
    bad = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if _layer(target) in FORBIDDEN.get(_layer(module) or "", ()):
                bad.append(f"{module} imports {target}")
    return bad


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(PACKAGE)


def test_no_import_cycle_between_liverecd_modules(graph: Graph) -> None:
    assert cycles(graph) == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downward(graph: Graph, layer: str) -> None:
    wrong = [v for v in layer_violations(graph) if v.startswith(f"liverecd.{layer}.")]
    assert wrong == []


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a two-module cycle, a lazy relative import, an api → ops import."""
    pkg = tmp_path / "liverecd"
    for sub in ("api", "ops"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "api" / "a.py").write_text("from liverecd.ops import b\n")
    (pkg / "ops" / "b.py").write_text("def f():\n    from ..api import a\n")
    fake = import_graph(pkg)
    assert cycles(fake) == [["liverecd.api.a", "liverecd.ops.b"]]
    assert layer_violations(fake) == ["liverecd.api.a imports liverecd.ops.b"]
