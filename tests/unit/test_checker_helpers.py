"""Helpers shared by the checker tests: generated histories and violations to inject."""

from __future__ import annotations

import dataclasses

import pandas as pd

from pigeon_lab.checkers.base import CheckContext, Outcome, Verdict
from pigeon_lab.checkers.suite import check_all
from pigeon_lab.testing import correct_history


def generated(seed: int) -> tuple[pd.DataFrame, CheckContext]:
    return correct_history(seed, clients=5, channels=2, messages=60, workspaces=2).build()


def verdict(name: str, history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    (v,) = check_all(history, ctx, names=[name])
    assert v.error is None, v.error
    return v


def assert_fails(name: str, history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    v = verdict(name, history, ctx)
    assert v.outcome is Outcome.FAIL, v.summary
    assert v.counterexamples and v.counterexamples[0].rows, v
    return v


def assert_passes(name: str, history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    v = verdict(name, history, ctx)
    assert v.outcome is Outcome.PASS, (v.summary, v.counterexamples[:2])
    return v


def final_log_of(ctx: CheckContext) -> pd.DataFrame:
    """The context's final log (the builders write one unless told not to)."""
    assert ctx.final_log is not None
    return ctx.final_log


def in_channel(final_log: pd.DataFrame, workspace: object, channel: object) -> pd.Series:
    """Mask of the final-log entries of one (workspace, channel)."""
    return (final_log["workspace"] == workspace) & (final_log["channel"] == channel)


def without_entry(ctx: CheckContext, workspace: object, channel: object, seq: int) -> CheckContext:
    """``ctx`` with the final-log entry at (workspace, channel, seq) removed."""
    fl = final_log_of(ctx)
    keep = ~(in_channel(fl, workspace, channel) & (fl["seq"] == seq))
    return dataclasses.replace(ctx, final_log=fl[keep].reset_index(drop=True))


def insert_after(history: pd.DataFrame, i: int, row: dict[str, object]) -> pd.DataFrame:
    """``history`` with ``row`` inserted after position ``i`` (same t, so time order holds)."""
    top, bottom = history.iloc[: i + 1], history.iloc[i + 1 :]
    new = pd.DataFrame([row]).astype({c: history[c].dtype for c in row if c != "kind"})
    out = pd.concat([top, new, bottom], ignore_index=True)
    out["kind"] = out["kind"].astype("category")
    return out
