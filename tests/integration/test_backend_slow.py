"""Slow consumers and busy channels against a live node: a websocket client that stops
reading is cut at the output cap with a named reason while the node's RSS stays bounded; a
long-polling client that stops polling is cut the same way; an honest long-polling client
keeps up with a busy channel because a poll drains what is queued."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.backend_harness import (
    Lab,
    Proc,
    http_get,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
    token,
)
from tests.integration.eio_raw import RawPolling, RawWebSocket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CAP = 1024 * 1024
UNLIMITED = ("--conn-rate", "100000", "--conn-burst", "100000", "--user-rate", "100000",
             "--user-burst", "100000", "--ws-rate", "100000", "--ws-burst", "100000")  # fmt: skip


@pytest.fixture(scope="module")
def node(lab: Lab) -> Iterator[Proc]:
    r = lab.redis("redis-slow")
    yield lab.backend(
        r.port, "--max-output-bytes", str(CAP), "--max-body", "65536", *UNLIMITED, name="node-slow"
    )


def rss_kib(proc: Proc) -> int:
    text = Path(f"/proc/{proc.popen.pid}/status").read_text()
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    assert m, text
    return int(m.group(1))


def cuts(proc: Proc) -> float:
    m = re.search(
        r'pigeon_server_disconnects_total\{reason="slow_consumer"\} ([0-9.]+)',
        http_get(proc.url + "/metrics")[1],
    )
    return float(m.group(1)) if m else 0.0


def chan() -> str:
    return "s-" + uuid.uuid4().hex[:10]


def test_a_websocket_consumer_that_stops_reading_is_cut_and_rss_stays_bounded(node: Proc) -> None:
    ch, body, n_msgs = chan(), "x" * 60_000, 600  # 36 MB through the channel

    async def scenario() -> None:
        slow = RawWebSocket(node.url, rcvbuf=4096)
        await slow.open(token("w1", "slow"))
        assert (await slow.call(1, "join", {"channel": ch}))["ok"] is True
        fast = await peer(node.url, "w1", "fast")
        sender = await peer(node.url, "w1", "sender")
        for p in (fast, sender):
            assert (await p.call("join", {"channel": ch}))["ok"] is True
        before = cuts(node)
        rss0, peak = rss_kib(node), 0
        resumed: asyncio.Task[list[str]] | None = None

        async def watch() -> None:
            nonlocal peak, resumed
            while True:
                peak = max(peak, rss_kib(node))
                if resumed is None and cuts(node) > before:
                    resumed = asyncio.create_task(slow.read_all(8.0))  # read the goodbye
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        for start in range(0, n_msgs, 20):
            acks = await asyncio.gather(
                *[
                    sender.call("send", {"channel": ch, "client_msg_id": f"m{i}", "body": body})
                    for i in range(start, start + 20)
                ]
            )
            assert all(a["ok"] for a in acks)
        await fast.wait_messages(n_msgs, timeout=30)
        await asyncio.sleep(0.3)
        watcher.cancel()
        assert cuts(node) == before + 1
        assert len(fast.messages) == n_msgs  # the others were served throughout
        assert resumed is not None
        texts = await resumed
        goodbye = [t for t in texts if t.startswith('42["closing"')]
        assert goodbye and '"code":"slow_consumer"' in goodbye[0], texts[-3:]
        assert slow.closed and slow.close_reason == b"slow_consumer"
        growth_mib = (peak - rss0) / 1024
        assert growth_mib < 24, f"RSS grew {growth_mib:.1f} MiB for a {CAP >> 20} MiB cap"
        slow.close()
        await fast.close()
        await sender.close()

    run(scenario(), timeout=100)


def test_a_polling_consumer_that_stops_polling_is_cut_with_a_named_reason(node: Proc) -> None:
    ch, body = chan(), "y" * 60_000

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            slow = RawPolling(node.url, session)
            await slow.open(token("w1", "slow-poller"))
            assert (await slow.call(1, "join", {"channel": ch}))["ok"] is True
            sender = await peer(node.url, "w1", "sender2")
            assert (await sender.call("join", {"channel": ch}))["ok"] is True
            before = cuts(node)
            for i in range(40):  # 2.4 MB: over the 1 MiB cap while nobody polls
                msg = {"channel": ch, "client_msg_id": f"p{i}", "body": body}
                assert (await sender.call("send", msg))["ok"] is True
            assert cuts(node) == before + 1
            packets = await slow.poll()
            assert any(p.startswith('42["closing",{"code":"slow_consumer"') for p in packets)
            assert packets[-1] == "1" and slow.closed  # Engine.IO CLOSE
            assert sum(len(p) for p in packets) < 10_000  # the backlog was dropped
            await sender.close()

    run(scenario())


def test_a_polling_client_keeps_up_with_a_busy_channel(node: Proc) -> None:
    ch, n_msgs = chan(), 2000

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            poller = RawPolling(node.url, session)
            await poller.open(token("w1", "poller"))
            assert (await poller.call(1, "join", {"channel": ch}))["ok"] is True
            sender = await peer(node.url, "w1", "busy-sender")
            assert (await sender.call("join", {"channel": ch}))["ok"] is True
            poller.polls.clear()

            async def keep_polling() -> None:
                while not poller.closed:
                    await poller.poll()

            polling = asyncio.create_task(keep_polling())
            for start in range(0, n_msgs, 50):
                acks = await asyncio.gather(
                    *[
                        sender.call("send", {"channel": ch, "client_msg_id": f"b{i}", "body": "z"})
                        for i in range(start, start + 50)
                    ]
                )
                assert all(a["ok"] for a in acks)
            async with asyncio.timeout(5):  # caught up within seconds of the last send
                while sum(1 for e in poller.events if e[0] == "message") < n_msgs:
                    await asyncio.sleep(0.05)
            polling.cancel()
            seqs = [e[1]["seq"] for e in poller.events if e[0] == "message"]
            assert seqs == list(range(1, n_msgs + 1))
            assert max(poller.polls) > 16 and len(poller.polls) < n_msgs / 16, poller.polls
            await sender.close()

    run(scenario())
