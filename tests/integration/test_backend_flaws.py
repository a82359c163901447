"""Each deliberate flaw observably breaks the guarantee it is named after (and only when on)."""

from __future__ import annotations

import asyncio

import pytest

from reference_backend.settings import parse_settings
from tests.integration.backend_harness import (
    Lab,
    Proc,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def redis_port(lab: Lab) -> int:
    return lab.redis().port


@pytest.fixture(scope="module")
def mixed(lab: Lab, redis_port: int) -> Proc:
    """One node with the three flaws that do not interfere with each other's tests."""
    return lab.backend(
        redis_port,
        "--flaw",
        "no-dedupe",
        "--flaw",
        "sender-from-payload",
        "--flaw",
        "unprefixed-rooms",
        name="node-flawed",
    )


def test_flawed_node_warns_loudly(mixed: Proc) -> None:
    log = mixed.log.read_text()
    assert "DELIBERATE FLAWS ON: no-dedupe, sender-from-payload, unprefixed-rooms" in log


def test_no_dedupe_stores_a_retry_again(mixed: Proc) -> None:
    async def scenario() -> None:
        p = await peer(mixed.url)
        await p.call("join", {"channel": "nd"})
        msg = {"channel": "nd", "client_msg_id": "same", "body": "x"}
        first, retry = await p.call("send", msg), await p.call("send", msg)
        assert (first["seq"], retry["seq"], retry["duplicate"]) == (1, 2, False)
        page = await p.call("sync", {"channel": "nd", "after_seq": 0})
        assert [m["client_msg_id"] for m in page["messages"]] == ["same", "same"]
        await p.close()

    run(scenario())


def test_sender_from_payload_lets_a_client_spoof(mixed: Proc) -> None:
    async def scenario() -> None:
        p = await peer(mixed.url, "w1", "mallory")
        await p.call("join", {"channel": "spoof"})
        await p.call(
            "send", {"channel": "spoof", "client_msg_id": "s", "body": "x", "sender": "ceo"}
        )
        assert (await p.wait_messages(1))[0]["sender"] == "ceo"
        await p.close()

    run(scenario())


def test_unprefixed_rooms_leak_between_workspaces(mixed: Proc) -> None:
    async def scenario() -> None:
        a = await peer(mixed.url, "wsA", "alice")
        b = await peer(mixed.url, "wsB", "bob")
        await a.call("join", {"channel": "general"})
        await b.call("join", {"channel": "general"})
        await a.call("send", {"channel": "general", "client_msg_id": "leak", "body": "A only"})
        leaked = await b.wait_messages(1, timeout=3)
        assert [m["body"] for m in leaked] == ["A only"]
        await a.close()
        await b.close()

    run(scenario())


def test_local_seq_hands_out_the_same_seq_on_two_nodes(lab: Lab, redis_port: int) -> None:
    n1 = lab.backend(redis_port, "--flaw", "local-seq", name="node-ls1")
    n2 = lab.backend(redis_port, "--flaw", "local-seq", name="node-ls2")

    async def scenario() -> None:
        a, b = await peer(n1.url, "w1", "a"), await peer(n2.url, "w1", "b")
        await a.call("join", {"channel": "ls"})
        await b.call("join", {"channel": "ls"})
        acks = [
            await a.call("send", {"channel": "ls", "client_msg_id": "x1", "body": "1"}),
            await b.call("send", {"channel": "ls", "client_msg_id": "x2", "body": "2"}),
        ]
        assert [x["seq"] for x in acks] == [1, 1]  # two messages, one seq
        await a.close()
        await b.close()

    run(scenario())


def test_ack_before_persist_loses_acked_messages(lab: Lab, redis_port: int) -> None:
    node = lab.backend(redis_port, "--flaw", "ack-before-persist", name="node-abp")
    n = 60

    async def scenario() -> None:
        p = await peer(node.url)
        await p.call("join", {"channel": "abp"})
        acks = [
            await p.call("send", {"channel": "abp", "client_msg_id": f"m{i}", "body": str(i)})
            for i in range(n)
        ]
        assert all(x["ok"] for x in acks) and [x["seq"] for x in acks] == list(range(1, n + 1))
        await asyncio.sleep(0.5)  # let the late writes land
        page = await p.call("sync", {"channel": "abp", "after_seq": 0})
        stored = {m["seq"] for m in page["messages"]}
        assert page["head_seq"] == n and len(stored) < n  # acked, yet not stored
        await p.close()

    run(scenario())


def test_flaws_are_off_by_default_and_env_is_a_fallback() -> None:
    base = ["--jwt-secret", "s"]
    assert parse_settings(base, environ={}).flaws == frozenset()
    env = {"PIGEON_BACKEND_FLAW": "no-dedupe,local-seq", "PIGEON_BACKEND_PORT": "9001"}
    s = parse_settings(base, environ=env)
    assert s.flaws == {"no-dedupe", "local-seq"} and s.port == 9001 and s.node_name == "node-9001"
    s2 = parse_settings([*base, "--port", "9002", "--flaw", "unprefixed-rooms"], environ=env)
    assert s2.port == 9002 and s2.flaws == {"unprefixed-rooms"}
    with pytest.raises(SystemExit):
        parse_settings([*base, "--flaw", "made-up"], environ={})
