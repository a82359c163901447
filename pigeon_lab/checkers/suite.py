"""Run the checkers in report order; a crashing checker yields ``unknown``, never a crash."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pigeon_lab.checkers._prep import clear_cache
from pigeon_lab.checkers.base import REGISTRY, CheckContext, Verdict, checker_names, run_checker

CHECKER_ORDER: tuple[str, ...] = checker_names()
"""Checker names in report order (the registry's, as ``pigeon_lab.checkers`` registers
them): the names a scenario's ``checks.invariants`` accepts."""


def check_all(
    history: pd.DataFrame, ctx: CheckContext, names: Sequence[str] | None = None
) -> list[Verdict]:
    """Verdicts of ``names`` (default: every checker, in report order) on one history.

    The history is turned into integer codes once (see ``_prep``) and shared.
    """
    chosen = CHECKER_ORDER if names is None else tuple(names)
    unknown = [n for n in chosen if n not in REGISTRY]
    if unknown:
        raise KeyError(f"unknown checkers {unknown}; known: {', '.join(CHECKER_ORDER)}")
    try:
        return [run_checker(name, history, ctx) for name in chosen]
    finally:
        clear_cache()
