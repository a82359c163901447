"""Each flaw of reference_backend/flaw_hooks.py breaks, at the protocol level, the guarantee it
is named after; the correct node does not (a failed first join leaves no membership behind)."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from reference_backend import flaw_hooks
from tests.integration.backend_harness import (
    Lab,
    Peer,
    Proc,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
    wait_ready,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def redis_port(lab: Lab) -> int:
    return lab.redis().port


def node(lab: Lab, redis_port: int, flaw: str) -> Proc:
    return lab.backend(redis_port, "--flaw", flaw, name=f"node-{flaw}")


def msg(ch: str, cmid: str, body: str = "x") -> dict[str, str]:
    return {"channel": ch, "client_msg_id": cmid, "body": body}


async def send_n(p: Peer, ch: str, n: int, prefix: str = "m") -> list[dict[str, object]]:
    return [await p.call("send", msg(ch, f"{prefix}{i}", f"{prefix}{i}-body")) for i in range(n)]


def test_phantom_message_stores_and_pushes_a_message_nobody_sent(lab: Lab, redis_port: int) -> None:
    n = node(lab, redis_port, "phantom-message")

    async def scenario() -> None:
        p = await peer(n.url, "w1", "alice")
        await p.call("join", {"channel": "ph"})
        acks = await send_n(p, "ph", flaw_hooks.PHANTOM_EVERY)
        page = await p.call("sync", {"channel": "ph", "after_seq": 0})
        sent = {f"m{i}" for i in range(len(acks))}
        alien = [m for m in page["messages"] if m["client_msg_id"] not in sent]
        assert len(alien) == 1 and alien[0]["sender"] == flaw_hooks.PHANTOM_SENDER
        assert alien[0]["seq"] == flaw_hooks.PHANTOM_EVERY + 1  # the next seq
        pushed = await p.wait_messages(len(acks) + 1)
        assert alien[0]["id"] in {m["id"] for m in pushed}
        await p.close()

    run(scenario())


def test_forged_push_differs_from_the_stored_body(lab: Lab, redis_port: int) -> None:
    n = node(lab, redis_port, "forged-push")

    async def scenario() -> None:
        p = await peer(n.url)
        await p.call("join", {"channel": "fp"})
        await send_n(p, "fp", flaw_hooks.FORGE_EVERY)
        pushed = {m["seq"]: m["body"] for m in await p.wait_messages(flaw_hooks.FORGE_EVERY)}
        page = await p.call("sync", {"channel": "fp", "after_seq": 0})
        stored = {m["seq"]: m["body"] for m in page["messages"]}
        assert [s for s in stored if stored[s] != pushed[s]] == [flaw_hooks.FORGE_EVERY]
        await p.close()

    run(scenario())


def test_drop_tail_push_stops_pushing_a_room(lab: Lab, redis_port: int) -> None:
    n = node(lab, redis_port, "drop-tail-push")

    async def scenario() -> None:
        p = await peer(n.url)
        await p.call("join", {"channel": "dt"})
        await p.call("send", msg("dt", "early"))
        await p.wait_messages(1)
        await asyncio.sleep(flaw_hooks.TAIL_AFTER_S + 0.2)
        late = await p.call("send", msg("dt", "late"))
        assert late["ok"] and late["seq"] == 2
        await asyncio.sleep(0.5)
        assert [m["client_msg_id"] for m in p.messages] == ["early"]  # stored, never pushed
        page = await p.call("sync", {"channel": "dt", "after_seq": 0})
        assert [m["client_msg_id"] for m in page["messages"]] == ["early", "late"]
        await p.close()

    run(scenario())


def test_stale_sync_answers_as_a_lagging_replica(lab: Lab, redis_port: int) -> None:
    n = node(lab, redis_port, "stale-sync")

    async def scenario() -> None:
        p = await peer(n.url)
        await p.call("join", {"channel": "ss"})
        ack = await p.call("send", msg("ss", "fresh"))
        page = await p.call("sync", {"channel": "ss", "after_seq": 0})
        assert ack["seq"] == 1 and page["messages"] == [] and page["head_seq"] == 0
        q = await peer(n.url)
        joined = await q.call("join", {"channel": "ss", "after_seq": 0})
        assert joined["messages"] == [] and joined["head_seq"] == 0
        fresh = await q.call("join", {"channel": "ss2"})  # a head-only join is not a read
        assert fresh["ok"]
        await p.close()
        await q.close()

    run(scenario())


def test_leak_one_push_reaches_another_workspace(lab: Lab, redis_port: int) -> None:
    n = node(lab, redis_port, "leak-one-push")

    async def scenario() -> None:
        a, b = await peer(n.url, "wsA", "alice"), await peer(n.url, "wsB", "bob")
        await a.call("join", {"channel": "general"})
        await b.call("join", {"channel": "general"})
        await send_n(a, "general", flaw_hooks.LEAK_EVERY)
        leaked = await b.wait_messages(1, timeout=3)
        assert len(leaked) == 1 and leaked[0]["workspace"] == "wsA"  # it says whose it is
        await a.close()
        await b.close()

    run(scenario())


def test_ghost_member_keeps_getting_pushes_after_leave(lab: Lab, redis_port: int) -> None:
    n = node(lab, redis_port, "ghost-member")

    async def scenario() -> None:
        a, b = await peer(n.url, "w1", "a"), await peer(n.url, "w1", "b")
        await a.call("join", {"channel": "gm"})
        await b.call("join", {"channel": "gm"})
        assert (await b.call("leave", {"channel": "gm"})) == {"ok": True}
        await a.call("send", msg("gm", "after-leave"))
        got = await b.wait_messages(1, timeout=3)
        assert [m["client_msg_id"] for m in got] == ["after-leave"]
        assert (await b.call("send", msg("gm", "b")))["error"]["code"] == "not_member"
        await a.close()
        await b.close()

    run(scenario())


def test_lost_on_reconnect_skips_the_first_message_owed(lab: Lab, redis_port: int) -> None:
    n = node(lab, redis_port, "lost-on-reconnect")

    async def scenario() -> None:
        p = await peer(n.url)
        await p.call("join", {"channel": "lr"})
        await send_n(p, "lr", 4)
        q = await peer(n.url)  # a client back after a reconnect, having had seq 1
        joined = await q.call("join", {"channel": "lr", "after_seq": 1})
        assert [m["seq"] for m in joined["messages"]] == [3, 4] and joined["truncated"] is True
        page = await q.call("sync", {"channel": "lr", "after_seq": 1})
        assert [m["seq"] for m in page["messages"]] == [2, 3, 4]  # seq 2 is still stored
        full = await q.call("join", {"channel": "lr2", "after_seq": 0})
        assert full["ok"] and full["truncated"] is False
        await p.close()
        await q.close()

    run(scenario())


def test_a_failed_first_join_leaves_no_membership(lab: Lab) -> None:
    """The node enters the room before the read that can fail; when it fails, it leaves it
    again, so that no push follows a failed join (the checkers read it so)."""
    r = lab.redis(name="redis-join")
    n = lab.backend(r.port, name="node-join")

    async def scenario() -> None:
        a, b = await peer(n.url, "w1", "a"), await peer(n.url, "w1", "b")
        assert (await a.call("join", {"channel": "jf"}))["ok"]
        r.signal(signal.SIGSTOP)
        try:
            failed = await b.call("join", {"channel": "jf"}, timeout=20)
        finally:
            r.signal(signal.SIGCONT)
        assert failed["ok"] is False and failed["error"]["code"] == "unavailable", failed
        wait_ready(n)
        deadline = time.monotonic() + 10
        while not (await a.call("send", msg("jf", f"s{time.monotonic()}")))["ok"]:
            assert time.monotonic() < deadline, "the store did not come back"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        assert b.messages == []  # not in the room
        assert (await b.call("send", msg("jf", "b")))["error"]["code"] == "not_member"
        assert (await b.call("join", {"channel": "jf"}))["ok"]  # a later join works
        await a.call("send", msg("jf", "now"))
        assert [m["client_msg_id"] for m in await b.wait_messages(1)] == ["now"]
        await a.close()
        await b.close()

    run(scenario(), timeout=60)
