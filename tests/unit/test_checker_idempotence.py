from __future__ import annotations

import dataclasses

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import Outcome
from pigeon_lab.testing import HistoryBuilder
from tests.unit.test_checker_helpers import (
    assert_fails,
    assert_passes,
    final_log_of,
    generated,
    in_channel,
    verdict,
)

N = "idempotence"


def retried() -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    b.row("send_invoke", "c1", channel="general", client_msg_id="m1", attempt=1)
    return b.send("c1", "general", "m1", seq=1, attempt=2)


def test_retry_stored_once_passes() -> None:
    v = assert_passes(N, *retried().build())
    assert v.counts["retried_acks"] == 1


def test_retry_stored_twice_fails() -> None:
    h, ctx = retried().build()
    fl = final_log_of(ctx)
    extra = fl.iloc[[0]].assign(seq=2, msg_id="id-2")
    fl2 = pd.concat([fl, extra], ignore_index=True)
    v = assert_fails(N, h, dataclasses.replace(ctx, final_log=fl2))
    assert v.counts["stored_twice"] == 1


def test_acks_of_one_client_msg_id_at_two_seqs_fail() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", seq=1).send("c1", "general", "m1", seq=2, attempt=2)
    v = assert_fails(N, *b.build())
    assert v.counts["acked_at_two_seqs"] == 1


def test_info_send_stored_twice_fails() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", seq=1, ok=None)
    b.commit("acme", "general", 2, "m1", "alice")
    v = assert_fails(N, *b.build())
    assert v.counts["info_stored_twice"] == 1


def test_no_final_log_is_unknown() -> None:
    assert verdict(N, *retried().build(final=False)).outcome is Outcome.UNKNOWN


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_generated_double_stored_retry_fails(seed: int) -> None:
    h, ctx = generated(seed)
    fl = final_log_of(ctx)
    if fl.empty:
        return
    row = fl.iloc[0]
    head = int(fl.loc[in_channel(fl, row["workspace"], row["channel"]), "seq"].max())
    extra = fl.iloc[[0]].assign(seq=head + 1, msg_id="dup-store")
    ctx = dataclasses.replace(ctx, final_log=pd.concat([fl, extra], ignore_index=True))
    v = assert_fails(N, h, ctx)
    assert v.counts["stored_twice"] == 1


def test_one_client_msg_id_on_two_channels_is_two_messages() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general").join("c1", "random")
    b.send("c1", "general", "m1", seq=1).send("c1", "random", "m1", seq=1)
    b.send("c1", "random", "m2", seq=2).send("c1", "general", "m2", seq=2)
    assert_passes(N, *b.build())


def test_one_client_msg_id_acked_at_two_seqs_of_one_channel_still_fails() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general").join("c1", "random")
    b.send("c1", "random", "m1", seq=1)
    b.send("c1", "general", "m1", seq=1).send("c1", "general", "m1", seq=2, attempt=2)
    v = assert_fails(N, *b.build())
    assert v.counts["acked_at_two_seqs"] == 1


def test_incomplete_readback_is_unknown_and_its_twin_passes() -> None:
    assert_passes(N, *retried().build())
    b = retried().readback("acme", "general", complete=False)
    v = verdict(N, *b.build())
    assert v.outcome is Outcome.UNKNOWN and v.counts["undecidable"] == 1
