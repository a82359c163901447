from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import Outcome
from pigeon_lab.testing import HistoryBuilder
from tests.unit.test_checker_helpers import (
    assert_fails,
    assert_passes,
    final_log_of,
    generated,
    verdict,
)

N = "order"


def base() -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").connect("c2", "bob", "acme")
    b.join("c1", "general").join("c2", "general")
    return b.send("c1", "general", "m1", seq=1)


def test_every_observer_agrees_passes() -> None:
    b = base().recv("c2", "general", 1).deliver("c2", "general", 1)
    assert_passes(N, *b.build())


def test_reused_seq_fails() -> None:
    # a failover rolled the counter back: seq 1 is handed out again to another message
    b = base()
    b.send("c2", "general", "m2", seq=1, msg_id="id-other")
    v = assert_fails(N, *b.build())
    assert v.counts["conflicting_seqs"] == 1
    assert {r.get("msg_id") for r in v.counterexamples[0].rows} >= {"id-other"}


def test_one_message_at_two_seqs_fails() -> None:
    b = base().recv("c2", "general", 2, msg_id="id-acme-general-1-m1")
    v = assert_fails(N, *b.build())
    assert v.counts["conflicting_messages"] == 1


def test_final_log_disagreeing_with_readers_fails() -> None:
    h, ctx = base().recv("c2", "general", 1).build()
    fl = final_log_of(ctx).copy()
    fl["msg_id"] = "id-rewritten"
    v = assert_fails(N, h, dataclasses.replace(ctx, final_log=fl))
    assert any(r.get("source") == "final_log" for r in v.counterexamples[0].rows)


def test_same_seq_in_two_workspaces_is_fine() -> None:
    b = HistoryBuilder().connect("a", "alice", "acme").connect("z", "zed", "zeta")
    b.join("a", "general").join("z", "general")
    b.send("a", "general", "m1", seq=1).send("z", "general", "m2", seq=1)
    assert_passes(N, *b.build())


def test_cut_short_is_unknown() -> None:
    assert verdict(N, *base().build(complete=False)).outcome is Outcome.UNKNOWN


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_generated_conflicting_seq_fails(seed: int) -> None:
    h, ctx = generated(seed)
    recvs = h.index[(h["kind"] == "recv")]
    if len(recvs) < 2:
        return
    i = recvs[len(recvs) // 2]
    others = h.loc[(h["kind"] == "send_ok") & (h["msg_id"] != h.at[i, "msg_id"]), "msg_id"]
    h = h.copy()
    h.at[i, "msg_id"] = others.iloc[0]
    v = assert_fails(N, h, ctx)
    assert v.counts["violations"] >= 1
