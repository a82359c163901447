from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import (
    REGISTRY,
    CheckContext,
    Outcome,
    Verdict,
    checker_names,
    register,
    run_checker,
)
from pigeon_lab.checkers.suite import CHECKER_ORDER, check_all
from tests.unit.test_checker_helpers import generated

CHAT = checker_names(["chat"])
"""The checkers of chat, the workload these generated histories run (voice's say unknown)."""


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 100_000))
def test_generated_correct_histories_pass_every_checker(seed: int) -> None:
    h, ctx = generated(seed)
    for v in check_all(h, ctx, names=CHAT):
        assert v.outcome is Outcome.PASS, (v.name, v.summary, v.counterexamples[:2], v.error)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 100_000))
def test_history_cut_short_is_never_pass(seed: int) -> None:
    h, ctx = generated(seed)
    h = h.iloc[: len(h) // 2].reset_index(drop=True)
    for v in check_all(h, dataclasses.replace(ctx, complete=False)):
        if v.name != "slo":
            assert v.outcome is not Outcome.PASS, v.name


def test_unsorted_string_history_is_judged_the_same() -> None:
    h, ctx = generated(7)
    shuffled = h.sample(frac=1.0, random_state=1).astype({"kind": str})
    a = [v.outcome for v in check_all(h, ctx, names=CHAT)]
    b = [v.outcome for v in check_all(shuffled, ctx, names=CHAT)]
    assert a == b == [Outcome.PASS] * 7


def test_order_and_names() -> None:
    h, ctx = generated(1)
    assert [v.name for v in check_all(h, ctx, names=CHECKER_ORDER)] == list(CHECKER_ORDER)
    assert [v.name for v in check_all(h, ctx)] == list(checker_names(("chat",)))
    assert [v.name for v in check_all(h, ctx, names=["gaps"])] == ["gaps"]
    with pytest.raises(KeyError):
        check_all(h, ctx, names=["nope"])


def test_a_crashing_checker_gives_unknown() -> None:
    @register("boom")
    def boom(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
        raise RuntimeError("bad")

    try:
        v = run_checker("boom", pd.DataFrame(), CheckContext(final_log=None))
        assert v.outcome is Outcome.UNKNOWN and "RuntimeError" in (v.error or "")
        (v,) = check_all(pd.DataFrame(), CheckContext(final_log=None), names=["boom"])
        assert v.outcome is Outcome.UNKNOWN
    finally:
        del REGISTRY["boom"]


def test_garbage_history_gives_unknown_not_pass() -> None:
    bad = pd.DataFrame({"t": [1], "kind": ["send_ok"]})
    for v in check_all(bad, CheckContext(final_log=None, complete=True)):
        assert v.outcome is not Outcome.PASS or v.name in ("order", "delivery", "isolation")


def test_scenario_validation_knows_exactly_the_registered_checkers() -> None:
    """The suite's order is the registry's: every registered checker, none besides."""
    from pigeon_lab.checkers.base import REGISTRY

    assert set(REGISTRY) == set(CHECKER_ORDER)


def test_an_empty_history_passes_no_checker() -> None:
    """Nothing examined proves nothing: every checker says unknown, none says pass."""
    from pigeon_lab.testing import empty

    verdicts = check_all(*empty(), names=CHECKER_ORDER)
    assert [v.outcome for v in verdicts] == [Outcome.UNKNOWN] * len(CHECKER_ORDER), [
        (v.name, v.summary) for v in verdicts
    ]


@pytest.mark.parametrize("name", [n for n in checker_names(("chat",)) if n != "slo"])
def test_every_invariant_checker_says_what_it_proves_and_cannot_see(name: str) -> None:
    import importlib

    mod = importlib.import_module(f"pigeon_lab.checkers.{name}")
    assert isinstance(mod.PROVES, str) and mod.PROVES.endswith(".") and len(mod.PROVES) > 40
    spots = mod.BLIND_SPOTS
    assert isinstance(spots, tuple) and spots and all(isinstance(s, str) and s for s in spots)


def test_a_forged_message_appended_to_the_log_and_pushed_to_every_member_is_caught() -> None:
    """Issue 8's corruption: a message no client sent, at the next seq, from a sender who is
    no user of the workspace, delivered to every member. It used to pass every checker."""
    from pigeon_lab.testing import HistoryBuilder

    b = HistoryBuilder().connect("c1", "alice", "acme").connect("c2", "bob", "acme")
    b.join("c1", "general").join("c2", "general")
    for s in (1, 2):
        b.send("c1", "general", f"m{s}", seq=s)
        for c in ("c1", "c2"):
            b.recv(c, "general", s).deliver(c, "general", s)
    b.commit("acme", "general", 3, "forged", "root")
    for c in ("c1", "c2"):
        b.recv(c, "general", 3).deliver(c, "general", 3)
    b.tick(10_000).disconnect("c1", error="client disconnect")
    b.disconnect("c2", error="client disconnect")
    outcomes = {v.name: v.outcome for v in check_all(*b.build())}
    assert outcomes["order"] is Outcome.FAIL and outcomes["isolation"] is Outcome.FAIL
    assert {n for n, o in outcomes.items() if o is not Outcome.PASS} == {"order", "isolation"}
