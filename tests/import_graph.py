"""The import graph of a package, read from its source (no import is executed).

Edges come from every ``import``/``from ... import`` statement in a module, at any
depth (a function-level import is still a dependency), except those under
``if TYPE_CHECKING:`` (type checkers only). Importing ``a.b.c`` also imports the
packages ``a`` and ``a.b`` (their ``__init__``), so those are edges too, except a
module's edges to its own ancestors: a submodule needs its package imported, and a
package's ``__init__`` that re-exports its submodules is the usual shape, not a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, here: str, is_pkg: bool) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            node.body = []  # skip what only type checkers see
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            yield mod
            for alias in node.names:
                yield f"{mod}.{alias.name}"  # `from pkg import module` imports pkg.module


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (directly)."""
    top = root.name
    modules = {module_name(root, p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in _imports(tree, mod, path.name == "__init__.py"):
            if not (target == top or target.startswith(top + ".")):
                continue
            parts = target.split(".")
            # the deepest existing module, and every package on the way
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                if name in modules and name != mod and not mod.startswith(name + "."):
                    graph[mod].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def package_graph(graph: dict[str, set[str]], top: str) -> dict[str, set[str]]:
    """The graph collapsed to the top package's children (``top.scenario``, ``top.run``)."""

    def unit(m: str) -> str:
        parts = m.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else m

    out: dict[str, set[str]] = {}
    for m, targets in graph.items():
        u = unit(m)
        if u == top:
            continue  # the top package's __init__ re-exports; not a layer of its own
        out.setdefault(u, set())
        for t in targets:
            tu = unit(t)
            if tu not in (u, top):
                out[u].add(tu)
    return out
