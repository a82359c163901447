from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import Outcome
from pigeon_lab.checkers.suite import check_all
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


# ----- phantoms (Jepsen's "unexpected") -----
def test_a_stored_message_nobody_sent_is_a_phantom() -> None:
    b = base()
    b.commit("acme", "general", 2, "ghost", "mallory")  # in the final log, never sent
    v = assert_fails(N, *b.build())
    assert v.counts["phantoms"] == 1 and "phantom" in v.counterexamples[0].summary
    assert v.counterexamples[0].rows[0]["source"] == "final_log"


def test_a_stored_message_that_was_sent_is_no_phantom() -> None:
    assert_passes(N, *base().send("c2", "general", "ghost", seq=2).build())


def test_a_delivered_message_nobody_sent_is_a_phantom() -> None:
    b = base()
    b.commit("acme", "general", 2, "ghost", "mallory")
    b.recv("c2", "general", 2).deliver("c2", "general", 2)
    h, ctx = b.build()
    v = assert_fails(N, h, dataclasses.replace(ctx, final_log=final_log_of(ctx).iloc[:1]))
    assert v.counts["phantoms"] == 1
    assert {r["kind"] for r in v.counterexamples[0].rows} <= {"recv", "deliver"}


def test_messages_from_before_the_run_are_not_phantoms() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme")
    for s in (1, 2):  # already in the channel when the run's first client joined at head 2
        b.commit("acme", "general", s, f"old{s}", "someone")
    b.join("c1", "general", head_seq=2).send("c1", "general", "m3", seq=3)
    assert_passes(N, *b.build())
    b.commit("acme", "general", 4, "old4", "someone")  # after the join: a phantom
    assert_fails(N, *b.build())


def test_phantoms_in_a_history_cut_short_are_unknown() -> None:
    b = base()
    b.commit("acme", "general", 2, "ghost", "mallory")
    assert verdict(N, *b.build(complete=False)).outcome is Outcome.UNKNOWN


# ----- content: every observer agrees on msg_id, client_msg_id, sender and body -----
def test_a_push_with_another_body_under_a_stored_seq_fails() -> None:
    b = base().recv("c2", "general", 1, body_hash="forged").deliver("c2", "general", 1)
    v = assert_fails(N, *b.build())
    assert v.counts["differ_body_hash"] == 1 and "body_hash" in v.counterexamples[0].summary
    assert v.counterexamples[0].rows[0].get("source") == "final_log"


def test_a_deliver_row_without_a_body_hash_is_compared_on_what_it_carries() -> None:
    assert_passes(
        N, *base().recv("c2", "general", 1).deliver("c2", "general", 1, body_hash=None).build()
    )


@pytest.mark.parametrize(
    "field, value", [("sender", "bob"), ("client_msg_id", "m9"), ("body_hash", "h-other")]
)
def test_a_sync_disagreeing_with_the_final_log_fails(field: str, value: str) -> None:
    b = base().sync("c2", "general", [1], deliver=False, **{field: value})
    v = assert_fails(N, *b.build())
    assert v.counts[f"differ_{field}"] == 1


# ----- seqs out of range: a counterexample here, not a crash of every checker -----
@pytest.mark.parametrize("bad", [-3, 0, 2**62])
def test_a_seq_out_of_range_fails_order_and_crashes_nothing(bad: int) -> None:
    b = base().recv("c2", "general", 1).deliver("c2", "general", 1)
    b.recv("c2", "general", bad, msg_id="id-x", client_msg_id="m1")
    h, ctx = b.build()
    verdicts = check_all(h, ctx)
    assert all(v.error is None for v in verdicts), [v.error for v in verdicts]
    (order,) = [v for v in verdicts if v.name == N]
    assert order.outcome is Outcome.FAIL and order.counts["out_of_range"] == 1
    assert "out of range" in order.counterexamples[-1].summary


def test_an_absurd_seq_in_the_final_log_fails_order() -> None:
    h, ctx = base().build()
    fl = final_log_of(ctx)
    extra = fl.iloc[[0]].assign(seq=2**61, msg_id="id-far", client_msg_id="m1")
    ctx = dataclasses.replace(ctx, final_log=pd.concat([fl, extra], ignore_index=True))
    v = assert_fails(N, h, ctx)
    assert v.counts["out_of_range"] == 1


def test_seqs_starting_high_are_fine() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme")
    b.join("c1", "general", head_seq=10**12)
    b.send("c1", "general", "m1", seq=10**12 + 1).recv("c1", "general", 10**12 + 1)
    b.readback("acme", "general", truncated=True)
    assert_passes(N, *b.build())


# ----- completeness -----
def test_incomplete_readback_is_unknown_and_its_twin_passes() -> None:
    b = base().recv("c2", "general", 1)
    assert_passes(N, *b.build())
    b.readback("acme", "general", complete=False)
    assert verdict(N, *b.build()).outcome is Outcome.UNKNOWN


def test_no_final_log_is_unknown() -> None:
    assert verdict(N, *base().build(final=False)).outcome is Outcome.UNKNOWN
