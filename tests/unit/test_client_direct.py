"""The direct client algorithm (targets without seqs or history): deliver on receipt, once."""

from __future__ import annotations

import random

from pigeon_lab.load import client_algorithm as ca
from pigeon_lab.load.client_direct import DirectAlgorithm, make_algorithm


def joined(algo: ca.ClientAlgorithm, channel: str = "room") -> None:
    algo.join(channel, 0.0)
    (join,) = algo.on_connect(0.0)
    assert isinstance(join, ca.Emit) and "after_seq" not in join.payload
    algo.on_ack(join.op, {"ok": True, "head_seq": 0, "messages": []}, 0.0)


def test_the_factory_picks_the_reference_algorithm_only_with_seqs_and_history() -> None:
    rng = random.Random(1)
    assert type(make_algorithm(ca.Policy(), rng)) is ca.ClientAlgorithm
    assert isinstance(make_algorithm(ca.Policy(), rng, seqs=False), DirectAlgorithm)
    assert isinstance(make_algorithm(ca.Policy(), rng, history=False), DirectAlgorithm)


def test_pushes_are_delivered_on_receipt_once_whatever_their_order() -> None:
    algo = DirectAlgorithm(ca.Policy(), random.Random(1))
    joined(algo)
    got = []
    pushes = [
        {"channel": "room", "id": "b"},
        {"channel": "room", "id": "a"},
        {"channel": "room", "id": "b"},
        {"channel": "room", "client_msg_id": "c"},
    ]
    for m in pushes:
        got += [a.message for a in algo.on_message(m, 1.0) if isinstance(a, ca.Deliver)]
    assert [m.get("id") or m.get("client_msg_id") for m in got] == ["b", "a", "c"]
    assert algo.on_message({"channel": "elsewhere", "id": "z"}, 1.0) == []


def test_no_sync_no_gap_repair_and_rejoin_without_after_seq() -> None:
    algo = DirectAlgorithm(ca.Policy(gap_timeout=0.1), random.Random(1))
    joined(algo)
    algo.on_message({"channel": "room", "id": "x", "seq": 5}, 1.0)
    assert algo.sync_all(2.0) == [] and not [a for a in algo.tick(2.0) if isinstance(a, ca.Emit)]
    algo.on_disconnect(3.0)
    (rejoin,) = algo.on_connect(4.0)
    assert isinstance(rejoin, ca.Emit) and rejoin.payload == {"channel": "room"}


def test_without_acks_a_send_is_emitted_once_and_its_outcome_is_unknown() -> None:
    algo = DirectAlgorithm(ca.Policy(), random.Random(1), acked=False)
    joined(algo)
    out = algo.send("room", "c1", "body", 1.0)
    assert [type(a) for a in out] == [ca.Emit, ca.SendDone]
    done = out[1]
    assert isinstance(done, ca.SendDone) and done.outcome == "info" and done.error == "no_ack"
    assert algo.sends == {} and algo.tick(60.0) == []
