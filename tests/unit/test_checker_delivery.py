from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import Outcome
from pigeon_lab.testing import HistoryBuilder, with_duplicates
from tests.unit.test_checker_helpers import (
    assert_fails,
    assert_passes,
    generated,
    insert_after,
    verdict,
)

N = "delivery"


def sent(n: int, head: int = 0) -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general", head_seq=head)
    for s in range(head + 1, head + n + 1):
        b.send("c1", "general", f"m{s}", seq=s)
    return b


def test_in_order_from_the_join_head_passes() -> None:
    b = sent(2, head=5).deliver("c1", "general", 6).deliver("c1", "general", 7)
    assert_passes(N, *b.build())


def test_wire_duplicates_are_counted_not_failed() -> None:
    v = assert_passes(N, *with_duplicates())
    assert v.metrics["wire_duplicates"] == 1


def test_duplicate_delivery_fails() -> None:
    b = sent(2).deliver("c1", "general", 1).deliver("c1", "general", 1)
    v = assert_fails(N, *b.build())
    assert v.counts["duplicates"] == 1 and "duplicate" in v.counterexamples[0].summary


def test_reorder_fails() -> None:
    b = sent(2).deliver("c1", "general", 2).deliver("c1", "general", 1)
    v = assert_fails(N, *b.build())
    assert v.counts["violations"] == 2


def test_first_delivery_must_follow_the_join_base() -> None:
    assert_fails(N, *sent(3, head=0).deliver("c1", "general", 2).build())


def test_resume_with_after_seq_continues_and_fresh_join_restarts() -> None:
    b = sent(3).deliver("c1", "general", 1).disconnect("c1").connect("c1", "alice", "acme")
    b.join("c1", "general", head_seq=3, after_seq=1).sync("c1", "general", [2, 3])
    b.leave("c1", "general").send("c1", "general", "m4", seq=4)
    b.join("c1", "general", head_seq=4)
    assert_passes(N, *b.build())


def test_deliver_without_join_fails() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").deliver("c1", "general", 1)
    assert_fails(N, *b.build())


def test_cut_short_is_unknown() -> None:
    b = sent(1).deliver("c1", "general", 1)
    assert verdict(N, *b.build(complete=False)).outcome is Outcome.UNKNOWN


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_generated_reorder_or_duplicate_fails(seed: int, duplicate: bool) -> None:
    h, ctx = generated(seed)
    dl = h.index[h["kind"] == "deliver"]
    if len(dl) < 4:
        return
    i = dl[len(dl) // 2]
    if duplicate:
        h = insert_after(h, i, h.loc[i].to_dict())
    else:
        same = dl[
            (h.loc[dl, "client"] == h.at[i, "client"]).to_numpy()
            & (h.loc[dl, "channel"] == h.at[i, "channel"]).to_numpy()
            & (dl > i)
        ]
        if len(same) == 0:
            return
        j = same[0]
        h = h.copy()
        h.loc[[i, j], "seq"] = h.loc[[j, i], "seq"].to_numpy()
    assert_fails(N, h, ctx)
