"""What the load records for the checkers (issue 8): every attempt's outcome of a refused
send, the mark of a truncated sync, the message's own workspace; and a client that a stuck
history page cannot spin."""

from __future__ import annotations

import random

from pigeon_lab.checkers.base import Outcome
from pigeon_lab.history.recorder import Recorder
from pigeon_lab.load import client_algorithm as ca
from pigeon_lab.testing import HistoryBuilder
from tests.unit.test_checker_helpers import assert_fails, assert_passes, verdict


def algo(**policy: float) -> ca.ClientAlgorithm:
    a = ca.ClientAlgorithm(ca.Policy(**policy), random.Random(1))  # type: ignore[arg-type]
    a.on_connect(0.0)
    return a


def joined(a: ca.ClientAlgorithm, channel: str = "ch", head: int = 0) -> None:
    (emit,) = a.join(channel, 0.0)
    assert isinstance(emit, ca.Emit)
    a.on_ack(emit.op, {"ok": True, "channel": channel, "head_seq": head, "messages": []}, 0.0)


def msg(seq: int, channel: str = "ch") -> dict[str, object]:
    return {"channel": channel, "seq": seq, "id": f"i{seq}", "client_msg_id": f"c{seq}",
            "sender": "u", "body": "b", "ts": 1, "workspace": "ws0"}  # fmt: skip


# ----- every attempt's outcome of a send -----
def refuse_every_attempt(a: ca.ClientAlgorithm, codes: list[str]) -> ca.SendDone:
    out = a.send("ch", "m1", "body", 0.0)
    now = 0.0
    for code in codes:
        emit = out[0] if out else None
        assert isinstance(emit, ca.Emit), out
        out = a.on_ack(emit.op, {"ok": False, "error": {"code": code, "message": ""}}, now)
        done = [x for x in out if isinstance(x, ca.SendDone)]
        if done:
            return done[0]
        now = a.sends["m1"].retry_at or now
        out = a.tick(now)
    raise AssertionError("the send never ended")


def test_a_send_refused_on_every_attempt_is_a_definite_failure_listing_each() -> None:
    a = algo(send_deadline=1.0, retry_base=0.3, retry_max=0.3)
    joined(a)
    done = refuse_every_attempt(a, ["rate_limited"] * 10)
    assert done.outcome == "fail" and done.attempt > 1
    assert done.errors == ("rate_limited",) * done.attempt


def test_a_refusal_after_an_attempt_of_unknown_outcome_is_not_definite() -> None:
    a = algo(send_deadline=1.0, retry_base=0.3, retry_max=0.3)
    joined(a)
    done = refuse_every_attempt(a, ["unavailable"] + ["rate_limited"] * 10)
    assert done.outcome == "info"  # the first attempt may have been stored
    assert done.errors[0] == "unavailable" and set(done.errors[1:]) == {"rate_limited"}


def refused_after_retries(codes: list[str], stored: bool) -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", seq=1)
    for i in range(1, len(codes)):
        b.row("send_invoke", "c1", channel="general", client_msg_id="m2", attempt=i)
    b.send("c1", "general", "m2", ok=False, attempt=len(codes), error=codes[-1])
    b.rows[-1]["detail"] = ",".join(codes)  # what the load records: each attempt's outcome
    if stored:
        b.commit("acme", "general", 2, "m2", "alice")
    return b


def test_durability_judges_a_send_refused_on_every_attempt() -> None:
    codes = ["rate_limited", "rate_limited", "rate_limited"]
    v = assert_fails("durability", *refused_after_retries(codes, stored=True).build())
    assert v.counts["definite_failures"] == 1 and v.counts["refused_but_stored"] == 1
    twin = assert_passes("durability", *refused_after_retries(codes, stored=False).build())
    assert twin.counts["definite_failures"] == 1


def test_durability_does_not_judge_a_refusal_after_an_unknown_attempt() -> None:
    codes = ["timeout", "rate_limited", "rate_limited"]
    v = assert_passes("durability", *refused_after_retries(codes, stored=True).build())
    assert v.counts["definite_failures"] == 0


def test_durability_does_not_judge_a_listing_that_misses_an_attempt() -> None:
    b = refused_after_retries(["rate_limited", "rate_limited"], stored=True)
    b.rows.insert(-1, {**b.rows[-2], "attempt": 3})  # a third attempt the listing omits
    v = verdict("durability", *b.build())
    assert v.outcome is Outcome.PASS and v.counts["definite_failures"] == 0


# ----- a truncated sync is marked on its first message -----
def test_a_sync_that_skips_over_retention_marks_its_first_message() -> None:
    a = algo()
    joined(a, head=2)
    a.on_message(msg(5), 0.0)  # a gap: 3 and 4 missing
    (emit,) = a.tick(10.0)
    assert isinstance(emit, ca.Emit) and emit.event == "sync"
    ack = {"ok": True, "head_seq": 6, "messages": [msg(4), msg(5), msg(6)], "more": False,
           "truncated": True}  # fmt: skip
    out = a.on_ack(emit.op, ack, 10.0)
    synced = [x for x in out if isinstance(x, ca.Synced)]
    assert [x.truncated for x in synced] == [True, False, False]
    assert [x.message["seq"] for x in out if isinstance(x, ca.Deliver)] == [4, 5, 6]


def test_a_truncated_join_is_marked_on_its_join_not_its_messages() -> None:
    a = algo()
    joined(a, head=2)
    a.on_disconnect(1.0)
    (emit,) = a.on_connect(2.0)
    ack = {"ok": True, "channel": "ch", "head_seq": 6, "messages": [msg(5), msg(6)],
           "truncated": True}  # fmt: skip
    out = a.on_ack(emit.op, ack, 2.0)
    assert [x.truncated for x in out if isinstance(x, ca.Synced)] == [False, False]
    assert any(isinstance(x, ca.JoinDone) and x.truncated for x in out)


# ----- a server stuck on one page -----
def test_a_page_that_does_not_advance_is_not_followed_at_once() -> None:
    a = algo(gap_timeout=0.5)
    joined(a, head=0)
    a.on_message(msg(3), 0.0)
    (emit,) = a.tick(1.0)
    stuck = {"ok": True, "head_seq": 3, "messages": [], "more": True, "truncated": False}
    out = a.on_ack(emit.op, stuck, 1.0)
    assert not [x for x in out if isinstance(x, ca.Emit)]  # no tight loop of syncs
    deadline = a.next_deadline()
    assert deadline is not None and deadline >= 1.5  # gap repair tries again later


# ----- the message's own workspace -----
def test_the_recorder_keeps_the_message_workspace_on_every_message_row() -> None:
    r = Recorder()
    m = msg(1)
    r.message("sync_ok", "u0", "u0", "ws1", "node-1", "ch", m, "h", None, "truncated")
    r.recv_deliver(1, 2, "u0", "u0", "ws1", "node-1", "ch", m, "h", "ch", 1.0)
    t = r.to_table().to_pandas()
    assert list(t["msg_workspace"]) == ["ws0"] * 3
    assert t.loc[t.kind == "sync_ok", "detail"].tolist() == ["truncated"]
