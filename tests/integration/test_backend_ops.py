"""Operational behaviour: replicated durability (WAIT), rate limits, SIGTERM drain."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import cast

import pytest
import socketio

from tests.integration.backend_harness import (
    Lab,
    http_get,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_replicated_durability_answers_not_durable_without_replica(lab: Lab) -> None:
    primary = lab.redis("primary")
    replica = lab.redis("replica", replica_of=primary.port)
    node = lab.backend(
        primary.port,
        "--durability",
        "replicated",
        "--wait-replicas",
        "1",
        "--wait-timeout-ms",
        "300",
        name="node-dur",
    )

    async def scenario() -> None:
        p = await peer(node.url)
        await p.call("join", {"channel": "dur"})
        msg = {"channel": "dur", "client_msg_id": "d-1", "body": "needs a replica"}
        deadline = time.monotonic() + 10  # the replica's first sync may take a moment
        while (ok := await p.call("send", {**msg, "client_msg_id": "warmup"}))["ok"] is False:
            assert time.monotonic() < deadline, ok
            await asyncio.sleep(0.2)
        replica.signal(signal.SIGSTOP)
        try:
            nd = await p.call("send", msg)
            assert nd["ok"] is False and nd["error"]["code"] == "not_durable", nd
            again = await p.call("send", msg)  # a retry is still not durable
            assert again["error"]["code"] == "not_durable"
            await asyncio.sleep(0.3)
            assert p.messages[-1]["client_msg_id"] == "warmup"  # not pushed while not durable
        finally:
            replica.signal(signal.SIGCONT)
        retry = await p.call("send", msg)
        assert retry["ok"] is True and retry["duplicate"] is True and retry["seq"] == 2
        pushed = await p.wait_messages(2)
        assert [m["seq"] for m in pushed] == [1, 2]  # the durable retry pushed it
        page = await p.call("sync", {"channel": "dur", "after_seq": 0})
        assert [m["client_msg_id"] for m in page["messages"]] == ["warmup", "d-1"]
        await p.close()

    run(scenario())


def test_rate_limit_per_connection(lab: Lab) -> None:
    r = lab.redis("redis-rl")
    node = lab.backend(r.port, "--conn-rate", "2", "--conn-burst", "5", name="node-rl")

    async def scenario() -> None:
        p = await peer(node.url)
        other = await peer(node.url, "w1", "other")
        replies = [await p.call("sync", {"channel": "rl", "after_seq": 0}) for _ in range(12)]
        codes = [r.get("error", {}).get("code") for r in replies]
        assert codes[:5] == [None] * 5 and codes.count("rate_limited") >= 6, codes
        # The bucket is per connection: a neighbour is not limited.
        assert (await other.call("sync", {"channel": "rl", "after_seq": 0}))["ok"] is True
        await asyncio.sleep(0.6)  # refills at 2/s
        assert (await p.call("sync", {"channel": "rl", "after_seq": 0}))["ok"] is True
        await p.close()
        await other.close()

    run(scenario())
    assert (
        'pigeon_acks_total{event="sync",result="rate_limited"}'
        in http_get(node.url + "/metrics")[1]
    )


def test_rate_limit_per_workspace(lab: Lab) -> None:
    r = lab.redis("redis-wrl")
    node = lab.backend(r.port, "--ws-rate", "1", "--ws-burst", "4", name="node-wrl")

    async def scenario() -> None:
        peers = [await peer(node.url, "busy", f"u{i}") for i in range(4)]
        calm = await peer(node.url, "calm", "c")
        codes = [
            (await p.call("sync", {"channel": "x", "after_seq": 0})).get("error", {}).get("code")
            for p in peers
            for _ in range(2)
        ]
        assert codes.count(None) == 4 and codes.count("rate_limited") == 4, codes
        assert (await calm.call("sync", {"channel": "x", "after_seq": 0}))["ok"] is True
        for p in (*peers, calm):
            await p.close()

    run(scenario())


def test_sigterm_drains_then_exits_zero(lab: Lab) -> None:
    r = lab.redis("redis-drain")
    node = lab.backend(r.port, "--drain-s", "1.5", name="node-drain")

    async def scenario() -> None:
        p = await peer(node.url)
        await p.call("join", {"channel": "d"})
        disconnected = asyncio.Event()
        p.sio.on("disconnect", lambda *a: disconnected.set())
        t0 = time.monotonic()
        node.signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert http_get(node.url + "/readyz")[0] == 503
        assert node.popen.poll() is None
        with pytest.raises(socketio.exceptions.ConnectionError):  # no new sessions while draining
            await peer(node.url, "w1", "newcomer")
        # Still connected clients are served during the drain window.
        ack = await p.call("send", {"channel": "d", "client_msg_id": "late", "body": "x"})
        assert ack["ok"] is True
        await asyncio.wait_for(disconnected.wait(), 5)
        assert time.monotonic() - t0 >= 1.2  # not before the drain deadline

    run(scenario())
    assert node.popen.wait(timeout=10) == 0


def test_store_and_adapter_follow_a_sentinel_failover(lab: Lab) -> None:
    import redis as redis_py

    primary = lab.redis("sent-primary")
    replica = lab.redis("sent-replica", replica_of=primary.port)
    sentinel = lab.sentinel(primary.port)
    url = f"redis+sentinel://127.0.0.1:{sentinel.port}/0/pigeon"
    a = lab.backend(0, redis_url=url, name="node-s1")
    b = lab.backend(0, redis_url=url, name="node-s2")
    ctl = redis_py.Redis(host="127.0.0.1", port=sentinel.port, socket_timeout=2)

    def master_port() -> int:
        # redis-py annotates the reply as `(host, port) | None | bool`; here it is (host, port).
        addr = cast("tuple[bytes, int]", ctl.sentinel_get_master_addr_by_name("pigeon"))
        return int(addr[1])

    async def scenario() -> None:
        pa, pb = await peer(a.url, "w1", "a"), await peer(b.url, "w1", "b")
        await pa.call("join", {"channel": "fo"})
        await pb.call("join", {"channel": "fo"})
        assert (await pa.call("send", {"channel": "fo", "client_msg_id": "m1", "body": "before"}))[
            "seq"
        ] == 1
        deadline = time.monotonic() + 10  # the replica must be in sync before a failover
        rep = redis_py.Redis(port=replica.port)
        while rep.info("replication")["master_link_status"] != "up":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        rep.close()
        # redis-py leaves Redis.execute_command unannotated: typed here, at the boundary.
        cast("Callable[..., object]", ctl.execute_command)("SENTINEL", "FAILOVER", "pigeon")
        deadline = time.monotonic() + 15
        while master_port() != replica.port:
            assert time.monotonic() < deadline, "no failover"
            await asyncio.sleep(0.1)
        # Sends may be unavailable for a moment; retried with the same id they land once.
        msg = {"channel": "fo", "client_msg_id": "m2", "body": "after"}
        while not (ack := await pa.call("send", msg))["ok"]:
            assert ack["error"]["code"] == "unavailable", ack
            assert time.monotonic() < deadline, ack
            await asyncio.sleep(0.2)
        assert ack["seq"] == 2
        got = await pb.wait_messages(2, timeout=5)  # cross-node push still works
        assert [m["seq"] for m in got][-1] == 2
        await pa.close()
        await pb.close()

    run(scenario(), timeout=40)
    for node in (a, b):
        wait_ready_again = time.monotonic() + 10
        while http_get(node.url + "/readyz")[0] != 200:
            assert time.monotonic() < wait_ready_again
            time.sleep(0.1)
    ctl.close()


def test_redis_down_gives_unavailable_and_not_ready_then_recovers(lab: Lab) -> None:
    r = lab.redis("redis-down")
    node = lab.backend(r.port, name="node-down")

    async def scenario() -> None:
        p = await peer(node.url)
        await p.call("join", {"channel": "down"})
        assert (await p.call("send", {"channel": "down", "client_msg_id": "a", "body": "x"}))[
            "ok"
        ] is True
        r.kill()
        nack = await p.call("send", {"channel": "down", "client_msg_id": "b", "body": "x"})
        assert nack["ok"] is False and nack["error"]["code"] == "unavailable", nack
        sync = await p.call("sync", {"channel": "down", "after_seq": 0})
        assert sync["error"]["code"] == "unavailable"
        deadline = time.monotonic() + 5
        while http_get(node.url + "/readyz")[0] != 503:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert p.sio.connected  # nobody is disconnected for it
        lab.redis_on(r.port, "redis-down-again")
        deadline = time.monotonic() + 15
        while http_get(node.url + "/readyz")[0] != 200:
            assert time.monotonic() < deadline, node.log_tail()
            await asyncio.sleep(0.1)
        again = await p.call("send", {"channel": "down", "client_msg_id": "b", "body": "x"})
        assert again["ok"] is True  # a fresh Redis (no persistence): NOSCRIPT handled too
        await p.close()

    run(scenario())
    assert node.popen.poll() is None


def test_help_documents_every_contract_flag() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "reference_backend", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for flag in (
        "--host",
        "--port",
        "--node-name",
        "--redis-url",
        "--jwt-secret",
        "--durability",
        "--wait-replicas",
        "--wait-timeout-ms",
        "--retention",
        "--dedupe-ttl-s",
        "--max-body",
        "--conn-rate",
        "--conn-burst",
        "--ws-rate",
        "--ws-burst",
        "--ping-interval",
        "--ping-timeout",
        "--drain-s",
        "--flaw",
        "--log-level",
    ):
        assert flag in out, flag
    assert "PIGEON_BACKEND_" in out
