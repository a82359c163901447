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
