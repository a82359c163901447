"""Delivery by set semantics (a target without seqs): literal histories that must fail and
their twins that must pass."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pigeon_lab.checkers.base import CAPABILITIES, run_checker
from pigeon_lab.testing import HistoryBuilder

NO_SEQS = CAPABILITIES - {"seqs", "history"}


def room(sends: int = 3) -> HistoryBuilder:
    """alice, bob and carol joined one room; alice sends ``sends`` messages, all acked."""
    b = HistoryBuilder()
    for client, user in (("a", "alice"), ("b", "bob"), ("c", "carol")):
        b.connect(client, user, "acme")
        b.row("join", client, channel="room")
        b.row("join_ok", client, channel="room")
    for i in range(1, sends + 1):
        b.row("send_invoke", "a", channel="room", client_msg_id=f"m{i}", attempt=1)
        b.row("send_ok", "a", channel="room", client_msg_id=f"m{i}", msg_id=f"id{i}", attempt=1)
    return b


def delivered(b: HistoryBuilder, client: str, *cmids: str) -> HistoryBuilder:
    for cmid in cmids:
        b.row("deliver", client, channel="room", client_msg_id=cmid, sender="alice")
    return b


def verdict(b: HistoryBuilder) -> tuple[str, dict[str, int]]:
    b.tick(10_000)
    for client in ("a", "b", "c"):
        b.disconnect(client, "client disconnect")
    history, ctx = b.build()
    v = run_checker("delivery", history, replace(ctx, final_log=None, capabilities=NO_SEQS))
    return str(v.outcome), v.counts


def test_every_member_got_every_message_once_in_order_passes() -> None:
    b = room()
    delivered(b, "b", "m1", "m2", "m3")
    delivered(b, "c", "m1", "m2", "m3")
    outcome, counts = verdict(b)
    assert outcome == "pass" and counts["required_deliveries"] == 6


def test_a_missing_delivery_fails() -> None:
    b = room()
    delivered(b, "b", "m1", "m2", "m3")
    delivered(b, "c", "m1", "m3")
    outcome, counts = verdict(b)
    assert outcome == "fail" and counts["missing"] == 1


def test_a_member_that_left_midway_is_not_required_to_get_the_rest() -> None:
    b = room()
    delivered(b, "b", "m1", "m2", "m3")
    delivered(b, "c", "m1")
    b.disconnect("c", "transport close")  # before the settle time after the acks
    outcome, _ = verdict(b)
    assert outcome == "pass"


@pytest.mark.parametrize(
    "c_gets,counter",
    [(("m1", "m2", "m2", "m3"), "duplicates"), (("m1", "m3", "m2"), "reordered"),
     (("m1", "m2", "m3", "zz"), "phantoms")],
)  # fmt: skip
def test_a_duplicate_a_reorder_or_a_phantom_fails(c_gets: tuple[str, ...], counter: str) -> None:
    b = room()
    delivered(b, "b", "m1", "m2", "m3")
    delivered(b, "c", *c_gets)
    outcome, counts = verdict(b)
    assert outcome == "fail" and counts[counter] == 1


def test_the_seq_checkers_say_what_they_miss() -> None:
    b = room()
    delivered(b, "b", "m1", "m2", "m3")
    history, ctx = b.build()
    ctx = replace(ctx, capabilities=NO_SEQS)
    for name in ("durability", "order", "gaps"):
        v = run_checker(name, history, ctx)
        assert str(v.outcome) == "unknown" and "seqs" in v.summary, (name, v.summary)
