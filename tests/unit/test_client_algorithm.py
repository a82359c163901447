"""The reference client algorithm as a pure state machine: delivery, resume, retries."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.load import client_algorithm as ca

CH = "general"


def msg(seq: int) -> dict[str, Any]:
    return {
        "channel": CH,
        "seq": seq,
        "id": f"m{seq}",
        "client_msg_id": f"c{seq}",
        "sender": "u",
        "body": "b",
        "ts": 0,
    }


class Harness:
    """Plays the server: a log of n messages; answers joins and syncs from it."""

    def __init__(self, n: int, policy: ca.Policy | None = None, seed: int = 0) -> None:
        self.log = [msg(s) for s in range(1, n + 1)]
        self.algo = ca.ClientAlgorithm(policy or ca.Policy(sync_limit=3), random.Random(seed))
        self.now = 0.0
        self.delivered: list[int] = []
        self.pending: list[ca.Emit] = []
        self.head = 0  # what the server says when joining fresh

    def run(self, actions: list[ca.Action]) -> None:
        for a in actions:
            if isinstance(a, ca.Deliver):
                self.delivered.append(a.message["seq"])
            elif isinstance(a, ca.Emit):
                self.pending.append(a)

    def answer_all(self) -> None:
        while self.pending:
            e = self.pending.pop(0)
            self.run(self.algo.on_ack(e.op, self.answer(e), self.now))

    def answer(self, e: ca.Emit) -> dict[str, Any]:
        p = e.payload
        if e.event == "join" and "after_seq" not in p:
            return {
                "ok": True,
                "channel": CH,
                "head_seq": self.head,
                "messages": [],
                "more": False,
                "truncated": False,
                "node": "n1",
            }
        after, limit = p["after_seq"], p.get("limit", 3)
        rest = [m for m in self.log if m["seq"] > after]
        return {
            "ok": True,
            "head_seq": len(self.log),
            "messages": rest[:limit],
            "more": len(rest) > limit,
            "truncated": False,
        }

    def advance(self, dt: float) -> None:
        self.now += dt
        self.run(self.algo.tick(self.now))


def joined(n: int, head: int = 0) -> Harness:
    h = Harness(n)
    h.head = head
    h.run(h.algo.join(CH, 0.0))
    h.run(h.algo.on_connect(0.0))
    h.answer_all()
    return h


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.integers(1, n), max_size=3 * n),  # live pushes: any order, dups, drops
            st.lists(st.integers(0, 3 * n), max_size=4),  # when the gap timer is allowed to fire
        )
    )
)
def test_any_interleaving_delivers_1_to_n_once_in_order(
    case: tuple[int, list[int], list[int]],
) -> None:
    n, pushes, tick_points = case
    h = joined(n)
    for i, seq in enumerate(pushes):
        h.run(h.algo.on_message(msg(seq), h.now))
        if i in tick_points:
            h.advance(1.0)
            h.answer_all()
    # the last message is known (e.g. from the ack of a later send): repair to the head
    h.algo.channels[CH].known_head = n
    h.run(h.algo.sync_all(h.now))
    h.answer_all()
    for _ in range(3):
        h.advance(1.0)
        h.answer_all()
    assert h.delivered == list(range(1, n + 1))


def test_gap_is_repaired_by_sync_after_the_timeout() -> None:
    h = joined(5)
    h.run(h.algo.on_message(msg(1), 0.0))
    h.run(h.algo.on_message(msg(4), 0.0))
    assert h.delivered == [1]
    h.advance(0.1)
    assert not h.pending  # not yet
    h.advance(1.0)
    assert [e.event for e in h.pending] == ["sync"]
    assert h.pending[0].payload["after_seq"] == 1
    h.answer_all()
    assert h.delivered == [1, 2, 3, 4, 5]


def test_resume_after_reconnect_delivers_what_was_missed() -> None:
    h = joined(10)
    for s in (1, 2, 3):
        h.run(h.algo.on_message(msg(s), h.now))
    h.run(h.algo.on_disconnect(h.now))
    assert h.algo.reconnect_at is not None
    h.advance(h.algo.reconnect_at - h.now)
    h.run(h.algo.on_connect(h.now))
    (join,) = h.pending
    assert join.event == "join" and join.payload["after_seq"] == 3
    h.answer_all()  # join returns 4..6 with more; sync follows for the rest
    assert h.delivered == list(range(1, 11))


def test_fresh_join_starts_at_head_and_keeps_early_pushes() -> None:
    h = Harness(7)
    h.head = 5
    h.run(h.algo.join(CH, 0.0))
    h.run(h.algo.on_connect(0.0))
    h.run(h.algo.on_message(msg(6), 0.0))  # arrives before the join ack
    h.answer_all()
    h.run(h.algo.on_message(msg(7), 0.0))
    assert h.delivered == [6, 7]


def sender(policy: ca.Policy, seed: int = 0) -> tuple[ca.ClientAlgorithm, ca.Emit]:
    a = ca.ClientAlgorithm(policy, random.Random(seed))
    a.join(CH, 0.0)
    (join,) = a.on_connect(0.0)
    assert isinstance(join, ca.Emit)
    a.on_ack(join.op, {"ok": True, "head_seq": 0, "messages": []}, 0.0)
    (emit,) = a.send(CH, "cmid-1", "body", 0.0)
    assert isinstance(emit, ca.Emit)
    return a, emit


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["not_durable", "unavailable", "internal", "timeout"]), st.integers(0, 10_000)
)
def test_retries_keep_the_id_back_off_within_bounds_and_end_in_info(code: str, seed: int) -> None:
    policy = ca.Policy(ack_timeout=1.0, send_deadline=10.0, retry_base=0.1, retry_max=2.0)
    a, emit = sender(policy, seed)
    now, attempts, done = 0.0, [emit], None
    while done is None:
        e = attempts[-1]
        if code == "timeout":
            now += policy.ack_timeout
            out = a.tick(now)
        else:
            now += 0.01
            out = a.on_ack(e.op, {"ok": False, "error": {"code": code}}, now)
        done = next((x for x in out if isinstance(x, ca.SendDone)), None)
        if done is None:
            assert a.sends["cmid-1"].retry_at is not None
            delay = a.sends["cmid-1"].retry_at - now
            b = min(policy.retry_max, policy.retry_base * 2 ** (e.attempt - 1))
            assert b / 2 - 1e-9 <= delay <= b + 1e-9
            now += delay
            (nxt,) = [x for x in a.tick(now) if isinstance(x, ca.Emit)]
            assert nxt.payload["client_msg_id"] == "cmid-1" and nxt.attempt == e.attempt + 1
            attempts.append(nxt)
    assert done.outcome == "info" and done.error == code
    assert done.latency <= (policy.send_deadline + policy.ack_timeout) * 1000
    assert len(attempts) >= 2


def test_disconnect_retries_after_reconnect_with_the_same_id() -> None:
    a, _ = sender(ca.Policy())
    a.on_disconnect(0.1)
    assert a.sends["cmid-1"].last_error == "disconnect"
    (join,) = a.on_connect(0.5)
    assert isinstance(join, ca.Emit)
    a.on_ack(join.op, {"ok": True, "head_seq": 0, "messages": []}, 0.5)
    (retry,) = [x for x in a.tick(5.0) if isinstance(x, ca.Emit) and x.event == "send"]
    assert retry.payload["client_msg_id"] == "cmid-1" and retry.attempt == 2
    (ok,) = a.on_ack(retry.op, {"ok": True, "seq": 1, "id": "m", "duplicate": True}, 5.1)
    assert isinstance(ok, ca.SendDone) and ok.outcome == "ok" and ok.duplicate


def test_deadline_while_disconnected_gives_info() -> None:
    a, _ = sender(ca.Policy(send_deadline=3.0))
    a.stopping = True  # no reconnect
    a.on_disconnect(0.1)
    (done,) = [x for x in a.tick(3.5) if isinstance(x, ca.SendDone)]
    assert done.outcome == "info" and done.error == "disconnect"


def test_definite_errors_fail_at_once() -> None:
    for code in ("bad_request", "not_member", "too_large", "forbidden"):
        a, emit = sender(ca.Policy())
        (done,) = a.on_ack(emit.op, {"ok": False, "error": {"code": code}}, 0.1)
        assert isinstance(done, ca.SendDone) and done.outcome == "fail" and done.error == code
        assert ca.error_code(code).definite
        assert a.idle()


def test_error_table_flags() -> None:
    assert not ca.error_code("not_durable").definite
    assert ca.error_code("rate_limited").retry
    assert not ca.error_code("something-new").definite


@given(st.integers(0, 20), st.integers(0, 1000))
def test_reconnect_delay_is_full_jitter_within_the_cap(failures: int, seed: int) -> None:
    p = ca.Policy(reconnect_base=0.5, reconnect_max=5.0)
    d = ca.reconnect_delay(p, failures, random.Random(seed))
    assert 0.0 <= d <= min(5.0, 0.5 * 2**failures)


def test_next_deadline_never_spins_while_waiting_for_a_join() -> None:
    a, _ = sender(ca.Policy(send_deadline=30.0))
    a.on_disconnect(0.1)
    a.on_connect(1.0)  # join not acked yet
    nd = a.next_deadline()
    assert nd is not None and nd > 1.0
    assert not [x for x in a.tick(2.0) if isinstance(x, ca.Emit) and x.event == "send"]


def _sends(actions: list[ca.Action]) -> list[ca.Emit]:
    return [x for x in actions if isinstance(x, ca.Emit) and x.event == "send"]


def test_duplicate_send_resends_an_acked_message_once_with_the_same_id_and_body() -> None:
    a, emit = sender(ca.Policy(duplicate_ratio=1.0))
    (first,) = a.on_ack(emit.op, {"ok": True, "seq": 1, "id": "m1", "duplicate": False}, 0.1)
    assert isinstance(first, ca.SendDone) and first.outcome == "ok" and first.attempt == 1
    assert a.next_deadline() == pytest.approx(0.1)  # the retry path sends it again at once
    (again,) = _sends(a.tick(0.1))
    assert again.attempt == 2 and again.payload == emit.payload  # same id, channel and body
    # a correct server answers the duplicate with the original seq; it is not resent again
    (second,) = a.on_ack(again.op, {"ok": True, "seq": 1, "id": "m1", "duplicate": True}, 0.2)
    assert isinstance(second, ca.SendDone) and second.outcome == "ok"
    assert (second.seq, second.attempt, second.duplicate) == (1, 2, True)
    assert second.latency == pytest.approx(100.0)  # measured from the duplicate's ack wait
    assert a.idle() and not _sends(a.tick(10.0))


def test_duplicate_send_retries_like_any_send_and_is_off_by_default() -> None:
    a, emit = sender(ca.Policy(duplicate_ratio=1.0, ack_timeout=1.0))
    a.on_ack(emit.op, {"ok": True, "seq": 1, "id": "m1"}, 0.1)
    (again,) = _sends(a.tick(0.1))
    assert not [x for x in a.tick(1.2) if isinstance(x, ca.SendDone)]  # ack timeout: retried
    (retry,) = _sends(a.tick(5.0))
    assert retry.attempt == 3 and retry.payload == again.payload
    plain, e = sender(ca.Policy())
    assert len(plain.on_ack(e.op, {"ok": True, "seq": 1, "id": "m1"}, 0.1)) == 1
    assert plain.idle()
    stopping, e = sender(ca.Policy(duplicate_ratio=1.0))
    stopping.stopping = True  # the run is draining: no new duplicate
    stopping.on_ack(e.op, {"ok": True, "seq": 1, "id": "m1"}, 0.1)
    assert stopping.idle()
