"""Run the checkers in report order; a crashing checker yields ``unknown``, never a crash."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pigeon_lab.checkers._prep import clear_cache
from pigeon_lab.checkers.base import (
    REGISTRY,
    WORKLOAD_OF,
    CheckContext,
    Verdict,
    checker_names,
    run_checker,
)
from pigeon_lab.history.schema import KINDS

CHECKER_ORDER: tuple[str, ...] = checker_names()
"""Checker names in report order (the registry's, as ``pigeon_lab.checkers`` registers
them): the names a scenario's ``checks.invariants`` accepts."""


def check_all(
    history: pd.DataFrame, ctx: CheckContext, names: Sequence[str] | None = None
) -> list[Verdict]:
    """Verdicts of ``names`` (default: the chat workload's checkers, in report order; a run
    names the checkers of its scenario) on one history.

    The history is turned into integer codes once (see ``_prep``) and shared. Chat's
    checkers get chat's rows only (``chat_rows``); the others the whole history.
    """
    chosen = checker_names(("chat",)) if names is None else tuple(names)
    unknown = [n for n in chosen if n not in REGISTRY]
    if unknown:
        raise KeyError(f"unknown checkers {unknown}; known: {', '.join(CHECKER_ORDER)}")
    chat = chat_rows(history)
    try:
        return [
            run_checker(name, chat if WORKLOAD_OF.get(name, "chat") == "chat" else history, ctx)
            for name in chosen
        ]
    finally:
        clear_cache()


def chat_rows(history: pd.DataFrame) -> pd.DataFrame:
    """The rows the chat checkers judge: those of chat's kinds (a scenario that also runs
    voice, or a plugin workload, records other kinds beside them). The same frame when
    there is nothing else, so the prepared arrays are shared as before."""
    if history.empty or "kind" not in history:
        return history
    mine = history["kind"].isin(KINDS).to_numpy()
    return history if mine.all() else history[mine]
