"""A hostile client against live nodes: a forged replay of another user's client_msg_id,
an expired token on a live socket, a refresh with someone else's token, and the internal
error text a refusal must not carry."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pigeon_lab.tokens import mint_token
from tests.integration.backend_harness import (
    SECRET,
    Lab,
    Peer,
    Proc,
    http_get,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
    token,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def chan() -> str:
    return "h-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def nodes(lab: Lab) -> Iterator[dict[str, Proc]]:
    """One node per durability mode: `fast` on its own Redis, `replicated` with a replica."""
    fast_redis = lab.redis("redis-fast")
    primary = lab.redis("redis-primary")
    lab.redis("redis-replica", replica_of=primary.port)
    yield {
        "fast": lab.backend(fast_redis.port, name="node-fast"),
        "replicated": lab.backend(primary.port, "--durability", "replicated", name="node-repl"),
    }


def _send(ch: str, cmid: str, body: str) -> dict[str, str]:
    return {"channel": ch, "client_msg_id": cmid, "body": body}


@pytest.mark.parametrize("mode", ["fast", "replicated"])
def test_another_senders_client_msg_id_is_another_message(
    nodes: dict[str, Proc], mode: str
) -> None:
    """bob replays alice's client_msg_id with his own body: his own message, never a
    duplicate of hers, and no member ever sees her seq carrying his body or name."""
    url, ch, cmid = nodes[mode].url, chan(), str(uuid.uuid4())

    async def scenario() -> None:
        alice, bob, carol = [await peer(url, "w1", u) for u in ("alice", "bob", "carol")]
        for p in (alice, bob, carol):
            assert (await p.call("join", {"channel": ch}))["ok"] is True
        first = await alice.call("send", _send(ch, cmid, "alice's words"))
        assert first["ok"] is True and first["duplicate"] is False
        forged = await bob.call("send", _send(ch, cmid, "bob's words"))
        assert forged["ok"] is True, forged
        assert forged["duplicate"] is False and forged["seq"] != first["seq"], forged
        assert forged["id"] != first["id"]
        # alice's own retry is a duplicate of hers; her retry with another body too, and
        # what is pushed for it is what was stored
        retry = await alice.call("send", _send(ch, cmid, "alice, altered"))
        assert retry["ok"] and retry["duplicate"] and retry["seq"] == first["seq"], retry
        await asyncio.sleep(0.5)
        for p in (alice, bob, carol):
            for m in p.messages:
                if m["seq"] == first["seq"]:
                    assert (m["sender"], m["body"], m["id"]) == (
                        "alice",
                        "alice's words",
                        first["id"],
                    ), m
                else:
                    assert m["seq"] == forged["seq"], m
                    assert (m["sender"], m["body"]) == ("bob", "bob's words"), m
            assert {m["seq"] for m in p.messages} == {first["seq"], forged["seq"]}
        log = (await carol.call("sync", {"channel": ch, "after_seq": 0}))["messages"]
        assert [(m["seq"], m["sender"], m["body"], m["client_msg_id"]) for m in log] == [
            (first["seq"], "alice", "alice's words", cmid),
            (forged["seq"], "bob", "bob's words", cmid),
        ]
        for p in (alice, bob, carol):
            await p.close()

    run(scenario())


def test_an_expired_token_ends_the_live_socket_with_a_named_reason(
    nodes: dict[str, Proc],
) -> None:
    url, ch = nodes["fast"].url, chan()

    async def scenario() -> None:
        p = Peer(url, token("w1", "shortlived", ttl_s=3))
        closing: list[Any] = []
        gone = asyncio.Event()
        p.sio.on("closing", closing.append)
        p.sio.on("disconnect", lambda *a: gone.set())
        await p.connect()
        t0 = time.monotonic()
        assert (await p.call("join", {"channel": ch}))["ok"] is True
        await asyncio.sleep(1)
        ack = await p.call("send", _send(ch, "before-exp", "x"))
        assert ack["ok"] is True
        await asyncio.wait_for(gone.wait(), 6)
        assert time.monotonic() - t0 < 4.5  # at exp (3 s, whole seconds), not a minute later
        assert closing and closing[0]["code"] == "expired", closing

    run(scenario())
    metrics = http_get(nodes["fast"].url + "/metrics")[1]
    assert 'pigeon_server_disconnects_total{reason="expired"}' in metrics


def test_refresh_extends_a_live_socket_only_for_the_same_user_and_workspace(
    nodes: dict[str, Proc],
) -> None:
    url, ch = nodes["fast"].url, chan()

    async def scenario() -> None:
        p = Peer(url, token("w1", "dana", ttl_s=3))
        gone = asyncio.Event()
        p.sio.on("disconnect", lambda *a: gone.set())
        await p.connect()
        assert (await p.call("join", {"channel": ch}))["ok"] is True
        refusals = {
            "someone else": token("w1", "erin", ttl_s=60),
            "another workspace": token("w2", "dana", ttl_s=60),
            "expired": token("w1", "dana", ttl_s=-5),
            "forged": mint_token("not-" + SECRET, "w1", "dana", ttl_s=60),
            "garbage": "not.a.jwt",
        }
        codes = {}
        for what, tok in refusals.items():
            ack = await p.call("refresh", {"token": tok})
            codes[what] = ack.get("error", {}).get("code")
            assert "Signature" not in str(ack) and "segments" not in str(ack), ack
        assert codes == {
            "someone else": "forbidden",
            "another workspace": "forbidden",
            "expired": "expired",
            "forged": "unauthorized",
            "garbage": "unauthorized",
        }
        assert (await p.call("refresh", None))["error"]["code"] == "bad_request"
        ok = await p.call("refresh", {"token": token("w1", "dana", ttl_s=60)})
        assert ok["ok"] is True and ok["exp"] > time.time() + 50, ok
        await asyncio.sleep(4)  # past the first token's exp
        assert not gone.is_set() and p.sio.connected
        assert (await p.call("send", _send(ch, "after-refresh", "still here")))["ok"] is True
        await p.close()

    run(scenario())


def test_refusals_carry_protocol_codes_and_the_detail_goes_to_the_log(lab: Lab) -> None:
    """The JWT library's reason and Redis's error text stay in the node's log."""
    r = lab.redis("redis-errtext")
    # no shedding of clients cut off from Redis: the answers themselves are under test
    node = lab.backend(
        r.port, "--log-level", "info", "--cutoff-disconnect-s", "0", name="node-errtext"
    )
    ch = chan()

    async def scenario() -> None:
        forged = Peer(node.url, mint_token("wrong-" + SECRET, "w1", "mallory"))
        with pytest.raises(Exception):  # noqa: B017 - the client's own ConnectionError
            await forged.connect()
        refused = {"message": "bad token", "data": {"code": "unauthorized", "message": "bad token"}}
        assert forged.connect_error == refused
        junk = Peer(node.url, "abc")
        with pytest.raises(Exception):  # noqa: B017
            await junk.connect()
        assert junk.connect_error == refused

        p = await peer(node.url, "w1", "u1")
        assert (await p.call("join", {"channel": ch}))["ok"] is True
        r.signal(signal.SIGSTOP)
        try:
            ack = await p.call("send", _send(ch, "while-stopped", "x"), timeout=40)
            page = await p.call("sync", {"channel": ch, "after_seq": 0}, timeout=40)
        finally:
            r.signal(signal.SIGCONT)
        for reply in (ack, page):
            assert reply["ok"] is False and reply["error"]["code"] == "unavailable", reply
            text = reply["error"]["message"].lower()
            assert all(w not in text for w in ("timeout", "error", "redis", "127.0.0.1")), reply
        await p.close()

    run(scenario(), timeout=100)  # a read on a stopped Redis takes its retries (~20 s)
    log = node.log.read_text()
    assert "InvalidSignatureError" in log and "DecodeError" in log
    assert "TimeoutError" in log
