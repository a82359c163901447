from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import FaultWindow, Outcome, Verdict
from pigeon_lab.testing import HistoryBuilder
from tests.unit.test_checker_helpers import (
    assert_fails,
    assert_passes,
    final_log_of,
    generated,
    verdict,
    without_entry,
)

N = "gaps"


def chat(n: int = 3) -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").connect("c2", "bob", "acme")
    b.join("c1", "general").join("c2", "general")
    for s in range(1, n + 1):
        b.send("c1", "general", f"m{s}", seq=s)
        for c in ("c1", "c2"):
            b.recv(c, "general", s).deliver(c, "general", s)
    return b


def test_complete_delivery_passes() -> None:
    assert_passes(N, *chat().tick(10_000).build())


def test_hole_in_final_log_fails() -> None:
    v = assert_fails(N, *chat().drop_from_final("acme", "general", 2).build())
    assert v.counts["final_log_holes"] == 1
    assert "lacks seq 2" in v.counterexamples[0].summary


def test_truncated_prefix_is_allowed_but_not_a_middle_hole() -> None:
    b = chat().readback("acme", "general", truncated=True).drop_from_final("acme", "general", 1)
    assert verdict(N, *b.tick(10_000).build()).counts["final_log_holes"] == 0
    b = chat().readback("acme", "general", truncated=True).drop_from_final("acme", "general", 2)
    assert_fails(N, *b.build())


def test_readback_head_above_the_log_is_a_hole() -> None:
    assert_fails(N, *chat().readback("acme", "general", head_seq=4).build())


def test_client_that_stayed_joined_missing_a_committed_seq_fails() -> None:
    b = chat(2)
    b.send("c1", "general", "m3", seq=3).recv("c1", "general", 3).deliver("c1", "general", 3)
    b.tick(10_000).recv("c2", "general", 1)  # c2 is still around, never got 3
    v = assert_fails(N, *b.build())
    assert v.counts["missing_deliveries"] == 1
    assert "never delivered seq 3" in v.counterexamples[0].summary


def test_messages_acked_just_before_the_end_are_not_required() -> None:
    b = chat(2)
    b.send("c1", "general", "m3", seq=3).recv("c1", "general", 3).deliver("c1", "general", 3)
    assert_passes(N, *b.build())  # within settle_ms of c2's last event


def test_client_that_ended_disconnected_is_not_blamed_for_the_tail() -> None:
    b = chat(2).disconnect("c2")
    b.send("c1", "general", "m3", seq=3).recv("c1", "general", 3).deliver("c1", "general", 3)
    assert_passes(N, *b.tick(10_000).build())


def test_resume_after_reconnect_continues_the_membership() -> None:
    b = chat(1).disconnect("c2")
    b.send("c1", "general", "m2", seq=2).recv("c1", "general", 2).deliver("c1", "general", 2)
    b.connect("c2", "bob", "acme").join("c2", "general", head_seq=2, after_seq=1)
    b.sync("c2", "general", [2])
    assert_passes(N, *b.tick(10_000).build())


def test_missing_final_log_or_cut_short_is_unknown() -> None:
    assert verdict(N, *chat().build(final=False)).outcome is Outcome.UNKNOWN
    assert verdict(N, *chat().build(complete=False)).outcome is Outcome.UNKNOWN


def test_incomplete_readback_is_unknown() -> None:
    b = chat().readback("acme", "general", complete=False).drop_from_final("acme", "general", 2)
    assert verdict(N, *b.tick(10_000).build()).outcome is Outcome.UNKNOWN


def test_repaired_live_gap_is_a_metric_not_a_failure() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", seq=1).send("c1", "general", "m2", seq=2)
    b.recv("c1", "general", 2).sync("c1", "general", [1, 2])
    v = assert_passes(N, *b.tick(10_000).build())
    assert v.metrics["live_gaps_repaired"] == 1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_generated_hole_fails(seed: int) -> None:
    h, ctx = generated(seed)
    fl = final_log_of(ctx)
    mid = fl[fl["seq"] > 1]
    if mid.empty:
        return
    row = mid.iloc[0]
    v = assert_fails(N, h, without_entry(ctx, row["workspace"], row["channel"], row["seq"] - 1))
    assert v.counts["final_log_holes"] == 1


# ----- the tail: a membership that ends with the client's own disconnect -----
def ended_by_client(delivered: bool, faults: tuple[FaultWindow, ...] = ()) -> Verdict:
    b = chat(2)
    b.send("c1", "general", "m3", seq=3).recv("c1", "general", 3).deliver("c1", "general", 3)
    if delivered:
        b.recv("c2", "general", 3).deliver("c2", "general", 3)
    b.tick(10_000).disconnect("c1", error="client disconnect")
    b.disconnect("c2", error="client disconnect")  # the normal end of a load user
    return verdict(N, *b.build(faults=faults))


def test_a_normal_end_must_have_delivered_the_committed_tail() -> None:
    v = ended_by_client(delivered=False)
    assert v.outcome is Outcome.FAIL and v.counts["missing_deliveries"] == 1
    assert "never delivered seq 3" in v.counterexamples[0].summary


def test_a_normal_end_that_delivered_the_tail_passes() -> None:
    assert ended_by_client(delivered=True).outcome is Outcome.PASS


def test_a_fault_in_the_last_settle_period_excuses_the_tail() -> None:
    t0 = 1_000_000_000
    fault = FaultWindow("pause", "node-1", start_t=t0 + 15_000_000, end_t=None)
    assert ended_by_client(delivered=False, faults=(fault,)).outcome is Outcome.PASS
    healed = FaultWindow("pause", "node-1", start_t=t0, end_t=t0 + 16_000_000)
    assert ended_by_client(delivered=False, faults=(healed,)).outcome is Outcome.FAIL


def test_the_adversarys_own_close_counts_as_a_normal_end() -> None:
    b = chat(2)
    b.send("c1", "general", "m3", seq=3).recv("c1", "general", 3).deliver("c1", "general", 3)
    b.tick(10_000).disconnect("c2", error="client")
    assert verdict(N, *b.build()).outcome is Outcome.FAIL


# ----- retention: a skip after a truncated resume is a recorded truncation -----
def truncated_resume(flag: bool, evicted: tuple[int, ...] = (1, 2, 3)) -> HistoryBuilder:
    """c2 is away while 2..4 are sent; when it resumes after 1, 2 and 3 are out of retention."""
    b = chat(1).disconnect("c2")
    for s in (2, 3, 4):
        b.send("c1", "general", f"m{s}", seq=s).recv("c1", "general", s).deliver("c1", "general", s)
    b.connect("c2", "bob", "acme").join("c2", "general", head_seq=4, after_seq=1, truncated=flag)
    b.sync("c2", "general", [4])  # the join returned only what retention kept
    for s in evicted:
        b.drop_from_final("acme", "general", s)
    return b.readback("acme", "general", truncated=True).tick(10_000)


def test_a_recorded_truncation_is_not_a_gap() -> None:
    h, ctx = truncated_resume(flag=True).build()
    assert_passes(N, h, ctx)
    v = assert_passes("delivery", h, ctx)
    assert v.metrics["recorded_truncations"] == 1


def test_the_same_skip_without_a_truncation_is_a_gap() -> None:
    h, ctx = truncated_resume(flag=False).build()
    assert_fails(N, h, ctx)
    assert_fails("delivery", h, ctx)


def test_a_truncation_the_final_log_refutes_is_a_gap() -> None:
    h, ctx = truncated_resume(flag=True, evicted=(1,)).build()  # 2 and 3 were still there
    assert_fails(N, h, ctx)
    v = assert_fails("delivery", h, ctx)
    assert v.metrics["refuted_truncations"] == 1


def test_a_truncated_sync_marked_on_its_first_message_is_a_recorded_truncation() -> None:
    b = chat(1)
    for s in (2, 3, 4):
        b.send("c1", "general", f"m{s}", seq=s).recv("c1", "general", s).deliver("c1", "general", s)
    b.sync("c2", "general", [4], detail="truncated")  # c2 missed 2..4 live, sync: 4 only
    for s in (1, 2, 3):
        b.drop_from_final("acme", "general", s)
    h, ctx = b.readback("acme", "general", truncated=True).tick(10_000).build()
    assert_passes(N, h, ctx)
    assert_passes("delivery", h, ctx)
