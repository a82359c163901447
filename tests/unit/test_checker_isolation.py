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


# ----- isolation by content: ids sent in several workspaces are judged by the pair -----
def shared_id() -> HistoryBuilder:
    """One client_msg_id sent in acme/general and in zeta/random (ids need not be unique)."""
    b = HistoryBuilder().connect("a1", "alice", "acme").connect("z1", "zed", "zeta")
    b.connect("z2", "zoe", "zeta")
    b.join("a1", "general").join("z1", "random").join("z2", "general").join("z2", "random")
    b.send("a1", "general", "dup", seq=1).send("z1", "random", "dup", seq=1)
    return b


def test_a_message_sent_in_one_tenant_only_under_a_shared_id_passes() -> None:
    b = shared_id().recv("z2", "random", 1).deliver("z2", "random", 1)
    assert_passes(N, *b.build())


def test_an_ambiguous_id_received_on_a_channel_it_was_not_sent_on_is_cross_tenant() -> None:
    # acme's message reaches zeta/general (its id was sent in zeta too, but on zeta/random)
    b = shared_id().recv("z2", "general", 1, **leaked_from_acme(shared_id()))
    v = assert_fails(N, *b.build())
    assert v.counts["cross_tenant"] == 1


def leaked_from_acme(b: HistoryBuilder) -> dict[str, object]:
    m = b.messages[("acme", "general", 1)]
    return {"msg_id": m.msg_id, "client_msg_id": m.cmid, "sender": m.sender, "msg_workspace": None}


# ----- sender authenticity -----
def test_a_phantom_whose_sender_is_no_user_of_the_workspace_fails() -> None:
    b = two_tenants()
    b.commit("acme", "general", 2, "ghost", "mallory")
    b.recv("a2", "general", 2).deliver("a2", "general", 2)
    v = assert_fails(N, *b.build())
    assert v.counts["foreign_sender"] == 3  # recv, deliver and the final log


def test_a_message_whose_sender_is_a_user_of_the_workspace_passes_isolation() -> None:
    b = two_tenants()
    b.commit("acme", "general", 2, "ghost", "ann")  # a phantom (order's), but no alien sender
    b.recv("a2", "general", 2).deliver("a2", "general", 2)
    assert_passes(N, *b.build())


def test_a_stored_sender_that_is_not_the_user_who_sent_fails() -> None:
    h, ctx = two_tenants().build()
    fl = final_log_of(ctx).copy()
    fl.loc[(fl["workspace"] == "acme") & (fl["seq"] == 1), "sender"] = "ann"
    v = assert_fails(N, h, dataclasses.replace(ctx, final_log=fl))
    assert v.counts["spoofed_sender"] == 1
    assert v.counterexamples[0].rows[0]["source"] == "final_log"


def test_a_sender_that_is_one_of_several_users_who_sent_the_pair_passes() -> None:
    b = two_tenants()
    b.send("a2", "general", "m1", seq=1)  # ann retried alice's id: deduped to alice's message
    b.recv("a1", "general", 1).deliver("a1", "general", 1)
    assert_passes(N, *b.build())
