from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import Outcome
from pigeon_lab.testing import HistoryBuilder
from tests.unit.test_checker_helpers import (
    assert_fails,
    assert_passes,
    generated,
    insert_after,
    verdict,
)

N = "isolation"


def two_tenants() -> HistoryBuilder:
    b = HistoryBuilder().connect("a1", "alice", "acme").connect("a2", "ann", "acme")
    b.connect("z1", "zed", "zeta")
    for c in ("a1", "a2", "z1"):
        b.join(c, "general")
    b.send("a1", "general", "m1", seq=1).send("z1", "general", "z1m", seq=1)
    b.recv("a2", "general", 1).deliver("a2", "general", 1)
    return b


def test_clean_tenants_pass() -> None:
    v = assert_passes(N, *two_tenants().adversarial("z1", "forged_token", "unauthorized").build())
    assert v.counts["adversarial"] == 1


def test_cross_tenant_event_fails() -> None:
    b = two_tenants().recv("z1", "general", 1, msg_workspace="acme")
    assert_fails(N, *b.build())


def test_message_sent_by_another_tenant_fails_even_without_msg_workspace() -> None:
    b = two_tenants().recv("z1", "general", 2, client_msg_id="m1", msg_workspace=None)
    v = assert_fails(N, *b.build())
    assert v.counts["cross_tenant"] == 1


def test_recv_before_join_fails() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").connect("c2", "bob", "acme")
    b.join("c1", "general").send("c1", "general", "m1", seq=1)
    b.recv("c2", "general", 1)
    v = assert_fails(N, *b.build())
    assert v.counts["recv_without_join"] == 1


def test_push_racing_the_join_ack_is_allowed() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").connect("c2", "bob", "acme")
    b.join("c1", "general").send("c1", "general", "m1", seq=1)
    b.row("join", "c2", channel="general").recv("c2", "general", 1)
    b.row("join_ok", "c2", channel="general", seq=1)
    assert_passes(N, *b.build())


def test_recv_after_leave_fails() -> None:
    b = two_tenants().leave("a2", "general").send("a1", "general", "m2", seq=2)
    b.recv("a2", "general", 2)
    assert_fails(N, *b.build())


def test_accepted_adversarial_attempt_fails() -> None:
    v = assert_fails(N, *two_tenants().adversarial("z1", "spoofed_sender", "accepted").build())
    assert v.counts["adversarial_accepted"] == 1


def test_spoofed_sender_fails() -> None:
    b = two_tenants().recv("a1", "general", 1, sender="mallory")
    v = assert_fails(N, *b.build())
    assert v.counts["spoofed_sender"] == 1
    assert v.counterexamples[0].rows[1]["kind"] == "send_invoke"


def test_cut_short_is_unknown() -> None:
    assert verdict(N, *two_tenants().build(complete=False)).outcome is Outcome.UNKNOWN


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["tenant", "nojoin", "spoof", "adversarial"]))
def test_generated_violation_fails(seed: int, what: str) -> None:
    h, ctx = generated(seed)
    h = h.copy()
    recvs = h.index[h["kind"] == "recv"]
    if len(recvs) == 0:
        return
    i = recvs[len(recvs) // 2]
    if what == "tenant":
        h.at[i, "msg_workspace"] = "intruder"
        key = "cross_tenant"
    elif what == "spoof":
        h.at[i, "sender"] = "mallory"
        key = "spoofed_sender"
    elif what == "adversarial":
        row = {**h.loc[i].to_dict(), "kind": "adversarial", "error": "accepted"}
        h = insert_after(h, i, row)
        key = "adversarial_accepted"
    else:
        row = {**h.loc[i].to_dict(), "channel": "never-joined"}
        h = insert_after(h, i, row)
        key = "recv_without_join"
    v = assert_fails(N, h, ctx)
    assert v.counts[key] >= 1
