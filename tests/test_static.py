"""The code base stays clean: ruff (lint and format) and mypy --strict.

These run the same tools a developer runs, with the configuration in
pyproject.toml, so a change that breaks them fails the suite with the tools'
own messages.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_graph import cycles, import_graph, package_graph

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PATHS = ["pigeon_lab", "reference_backend", "tests", "bench"]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["ruff", "check", *PATHS], id="ruff-check"),
        pytest.param(["ruff", "format", "--check", *PATHS], id="ruff-format"),
    ],
)
def test_ruff(argv: list[str]) -> None:
    result = _run(str(BIN / argv[0]), *argv[1:])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_packages() -> None:
    result = _run(
        str(BIN / "mypy"), "--strict", "--no-incremental", "pigeon_lab", "reference_backend"
    )
    assert result.returncode == 0, result.stdout + result.stderr


MAX_MODULE_LINES = 400
SIZED = ["pigeon_lab", "reference_backend", "bench"]


def test_no_import_cycle_among_modules() -> None:
    graph = import_graph(ROOT / "pigeon_lab")
    assert cycles(graph) == []


def test_no_import_cycle_among_packages() -> None:
    """The layers: a subpackage (or top module) of pigeon_lab never imports one that
    imports it back, through any path (scenario -> report -> checkers -> scenario was one)."""
    graph = package_graph(import_graph(ROOT / "pigeon_lab"), "pigeon_lab")
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("from pkg.a import x\n")
    (pkg / "a" / "x.py").write_text("from pkg.b import y\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a.x import z\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n"
    )
    graph = import_graph(pkg)
    assert cycles(graph) == [["pkg.a", "pkg.a.x", "pkg.b"]]  # pkg.a: its __init__ imports x
    assert graph["pkg.c"] == set()  # TYPE_CHECKING imports are for type checkers only
    assert cycles(package_graph(graph, "pkg")) == [["pkg.a", "pkg.b"]]


def test_no_module_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for d in SIZED
        for p in (ROOT / d).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"
