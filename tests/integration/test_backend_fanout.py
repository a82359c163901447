"""The fast broadcast path (adapter.deliver, wswriter, speedups) against protocol.md.

A `message` push is encoded once and its frame written to each member's connection buffer;
other nodes get the encoded packet through Redis. These tests check what that must not
change: every member on every node (WebSocket or long-polling) gets each message exactly
once and intact, nobody else gets it, and a connection's packets keep their order.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.integration.backend_harness import (
    Peer,
    Stack,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
    stack_fixture,  # noqa: F401 - fixture
    token,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def chan() -> str:
    return "f-" + uuid.uuid4().hex[:12]


def send(ch: str, body: str) -> dict[str, str]:
    return {"channel": ch, "client_msg_id": uuid.uuid4().hex, "body": body}


async def polling_peer(url: str, ws: str, user: str) -> Peer:
    return await Peer(url, token(ws, user)).connect(transport="polling")


def test_broadcast_reaches_every_member_exactly_once_on_both_nodes(stack: Stack) -> None:
    ch, other = chan(), chan()
    n_msgs = 30

    async def scenario() -> None:
        members = [
            *[await peer(stack.a.url, "w1", f"a{i}") for i in range(3)],
            *[await peer(stack.b.url, "w1", f"b{i}") for i in range(3)],
            await polling_peer(stack.a.url, "w1", "pa"),
            await polling_peer(stack.b.url, "w1", "pb"),
        ]
        outsiders = [
            await peer(stack.a.url, "w1", "other-a"),  # same workspace, another channel
            await peer(stack.b.url, "w2", "w2-b"),  # same channel name, another workspace
        ]
        for p in members:
            assert (await p.call("join", {"channel": ch}))["ok"] is True
        assert (await outsiders[0].call("join", {"channel": other}))["ok"] is True
        assert (await outsiders[1].call("join", {"channel": ch}))["ok"] is True

        # Senders on both nodes, concurrently; bodies need JSON escaping, and the larger ones
        # need the 16-bit WebSocket length field.
        senders = [members[0], members[3], members[6], members[7]]
        acks = await asyncio.gather(
            *[
                senders[i % len(senders)].call("send", send(ch, f'm{i} "q" é \\ {"x" * (i * 130)}'))
                for i in range(n_msgs)
            ]
        )
        assert all(a["ok"] for a in acks)
        assert sorted(a["seq"] for a in acks) == list(range(1, n_msgs + 1))

        log = (await members[0].call("sync", {"channel": ch, "after_seq": 0}))["messages"]
        assert len(log) == n_msgs
        for p in members:
            got = await p.wait_messages(n_msgs, timeout=10)
            await asyncio.sleep(0.3)  # a duplicate would arrive by now
            assert sorted(got, key=lambda m: m["seq"]) == log, p.url
        for p in outsiders:
            assert p.messages == []
        for p in members + outsiders:
            await p.close()

    run(scenario(), timeout=60)


def test_no_push_after_the_leave_ack(stack: Stack) -> None:
    """Pushes and acks of a connection share one ordered buffer: once the leave ack is read,
    no push of that channel may follow (guarantee 5), even under a stream of sends."""
    ch = chan()

    async def scenario() -> None:
        leaver = await peer(stack.a.url, "w1", "leaver")
        sender_a = await peer(stack.a.url, "w1", "sa")
        sender_b = await peer(stack.b.url, "w1", "sb")
        for p in (leaver, sender_a, sender_b):
            assert (await p.call("join", {"channel": ch}))["ok"] is True

        stop = asyncio.Event()

        async def pump(p: Peer) -> None:
            i = 0
            while not stop.is_set():
                await p.call("send", send(ch, f"{p.url} {i}"))
                i += 1

        pumps = [asyncio.ensure_future(pump(p)) for p in (sender_a, sender_b)]
        await leaver.wait_messages(20)
        seen_at_ack: list[int] = []
        acked = asyncio.Event()

        def on_leave_ack(reply: Any) -> None:  # runs as the ack packet is read, in order
            assert reply == {"ok": True}
            seen_at_ack.append(len(leaver.messages))
            acked.set()

        await leaver.sio.emit("leave", {"channel": ch}, callback=on_leave_ack)
        await asyncio.wait_for(acked.wait(), 5)
        await asyncio.sleep(0.5)  # the pumps keep sending meanwhile
        stop.set()
        await asyncio.gather(*pumps)
        assert len(leaver.messages) == seen_at_ack[0]
        seqs = [m["seq"] for m in leaver.messages]
        assert len(seqs) == len(set(seqs))  # no duplicate (two nodes may interleave)
        for p in (leaver, sender_a, sender_b):
            await p.close()

    run(scenario(), timeout=60)


def test_pushes_from_one_node_arrive_in_commit_order(stack: Stack) -> None:
    """With one node the pushes follow the commits: no gaps or reordering to repair."""
    ch = chan()

    async def scenario() -> None:
        reader = await peer(stack.a.url, "w1", "r")
        writers = [await peer(stack.a.url, "w1", f"w{i}") for i in range(5)]
        for p in (reader, *writers):
            assert (await p.call("join", {"channel": ch}))["ok"] is True
        await asyncio.gather(*[writers[i % 5].call("send", send(ch, f"{i}")) for i in range(60)])
        got = await reader.wait_messages(60)
        assert [m["seq"] for m in got] == list(range(1, 61))
        for p in (reader, *writers):
            await p.close()

    run(scenario(), timeout=60)
