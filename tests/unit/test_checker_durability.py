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
