from __future__ import annotations

import dataclasses

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import Outcome
from pigeon_lab.testing import HistoryBuilder, indefinite
from tests.unit.test_checker_helpers import (
    assert_fails,
    assert_passes,
    final_log_of,
    generated,
    verdict,
    without_entry,
)

N = "durability"


def two_sends() -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    return b.send("c1", "general", "m1", seq=1).send("c1", "general", "m2", seq=2)


def test_acked_writes_in_final_log_pass() -> None:
    assert_passes(N, *two_sends().build())


def test_lost_acked_write_fails_with_the_ack_as_proof() -> None:
    v = assert_fails(N, *two_sends().drop_from_final("acme", "general", 1).build())
    assert v.counts["lost"] == 1
    assert v.counterexamples[0].rows[0]["kind"] == "send_ok"
    assert v.counterexamples[0].rows[0]["seq"] == 1


def test_different_message_at_the_acked_seq_fails() -> None:
    b = two_sends()
    h, ctx = b.build()
    fl = final_log_of(ctx).copy()
    fl.loc[fl["seq"] == 2, "body_hash"] = "other"
    v = assert_fails(N, h, dataclasses.replace(ctx, final_log=fl))
    assert v.counts["mismatched"] == 1 and len(v.counterexamples[0].rows) == 2


def test_send_info_never_counts_as_lost() -> None:
    v = verdict(N, *indefinite())
    assert v.outcome is not Outcome.FAIL and v.counts["lost"] == 0
    # with nothing acknowledged there is nothing to judge: unknown, never a vacuous pass
    assert v.outcome is Outcome.UNKNOWN and v.summary.startswith("nothing to judge")


def test_send_info_beside_an_acked_send_passes() -> None:
    b = HistoryBuilder()
    b.connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", seq=1)
    b.send("c1", "general", "m2", ok=None)
    assert_passes(N, *b.build())


def test_missing_final_log_is_unknown() -> None:
    assert verdict(N, *two_sends().build(final=False)).outcome is Outcome.UNKNOWN


def test_incomplete_readback_makes_channel_unknown_not_pass() -> None:
    b = (
        two_sends()
        .readback("acme", "general", complete=False)
        .drop_from_final("acme", "general", 1)
    )
    v = verdict(N, *b.build())
    assert v.outcome is Outcome.UNKNOWN and v.counts["undecidable"] == 2


def test_truncated_prefix_is_not_a_loss() -> None:
    b = (
        two_sends()
        .readback("acme", "general", truncated=True)
        .drop_from_final("acme", "general", 1)
    )
    assert verdict(N, *b.build()).outcome is Outcome.UNKNOWN


def test_history_cut_short_is_unknown() -> None:
    assert verdict(N, *two_sends().build(complete=False)).outcome is Outcome.UNKNOWN


def test_acked_never_read_is_a_metric() -> None:
    v = assert_passes(N, *two_sends().build())
    assert v.metrics["acked_never_read"] == 2


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_generated_lost_ack_fails(seed: int) -> None:
    h, ctx = generated(seed)
    acks = h[(h["kind"] == "send_ok")]
    if acks.empty:
        return
    a = acks.iloc[len(acks) // 2]
    v = assert_fails(N, h, without_entry(ctx, a["workspace"], a["channel"], a["seq"]))
    assert any(
        r.get("client_msg_id") == a["client_msg_id"] for c in v.counterexamples for r in c.rows
    )
    assert isinstance(h, pd.DataFrame)


# ----- definite failures: a refused send must not be stored -----
def refused(stored: bool, attempts: int = 1) -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", seq=1)
    for a in range(1, attempts):  # earlier attempts whose outcome the client never learned
        b.row("send_invoke", "c1", channel="general", client_msg_id="m2", attempt=a)
    b.send("c1", "general", "m2", ok=False, attempt=attempts, error="too_large")
    if stored:
        b.commit("acme", "general", 2, "m2", "alice")
    return b


def test_a_definitely_refused_send_that_was_stored_fails() -> None:
    v = assert_fails(N, *refused(stored=True).build())
    assert v.counts["refused_but_stored"] == 1 and v.counts["definite_failures"] == 1
    rows = v.counterexamples[0].rows
    assert rows[0]["kind"] == "send_fail" and rows[1]["source"] == "final_log"


def test_a_definitely_refused_send_that_was_not_stored_passes() -> None:
    v = assert_passes(N, *refused(stored=False).build())
    assert v.counts["definite_failures"] == 1 and v.counts["refused_but_stored"] == 0


def test_a_refused_send_seen_by_a_client_fails_even_if_the_log_lost_it() -> None:
    b = refused(stored=True).connect("c2", "bob", "acme").join("c2", "general", head_seq=1)
    b.recv("c2", "general", 2).drop_from_final("acme", "general", 2)
    v = assert_fails(N, *b.build())
    assert v.counts["refused_but_stored"] == 1
    assert any(r["kind"] == "recv" for r in v.counterexamples[0].rows)


def test_a_refusal_after_a_retry_is_not_definite() -> None:
    # attempt 1 timed out (maybe stored), attempt 2 was refused: the client records send_fail,
    # but the first attempt may have been the one that was stored
    v = assert_passes(N, *refused(stored=True, attempts=2).build())
    assert v.counts["definite_failures"] == 0


def test_a_backend_that_refused_every_send_proves_nothing() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", ok=False)
    assert verdict(N, *b.build()).outcome is Outcome.UNKNOWN
    b.commit("acme", "general", 1, "m1", "alice")  # but a stored refusal is a violation
    assert_fails(N, *b.build())
