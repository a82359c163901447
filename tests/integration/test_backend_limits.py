"""The limits of the reference backend against live nodes: per-user and per-workspace rate
limits that hold across nodes and reconnects, a full Redis answering `unavailable` without
evicting a log, retention by age, and a burst of large syncs that does not starve another
tenant or take Redis's connections."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.integration.backend_harness import (
    Lab,
    Peer,
    Proc,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def chan() -> str:
    return "l-" + uuid.uuid4().hex[:10]


def code(reply: dict[str, Any]) -> str | None:
    err = reply.get("error")
    return err.get("code") if isinstance(err, dict) else None


def redis_of(proc: Proc) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=proc.port, decode_responses=True)


@pytest.fixture(scope="module")
def limited(lab: Lab) -> Iterator[tuple[Proc, Proc]]:
    """Two nodes on one Redis: 6 events per 6 s per user and per workspace, cluster-wide."""
    r = lab.redis("redis-limits")
    flags = ("--user-rate", "1", "--user-burst", "6", "--ws-rate", "1", "--ws-burst", "6")
    yield (lab.backend(r.port, *flags, name="node-la"), lab.backend(r.port, *flags, name="node-lb"))


def test_a_users_limit_holds_across_reconnects_to_another_node(limited: tuple[Proc, Proc]) -> None:
    a, b = limited
    sync = {"channel": "x", "after_seq": 0}

    async def scenario() -> None:
        greedy = await peer(a.url, "w-greedy", "greedy")
        replies = [await greedy.call("sync", sync) for _ in range(8)]
        assert [code(r) for r in replies] == [None] * 6 + ["rate_limited"] * 2, replies
        assert "user" in replies[-1]["error"]["message"]
        await greedy.close()
        await asyncio.sleep(0.5)  # node A has told Redis
        again = await peer(b.url, "w-greedy", "greedy")  # another node, a new connection
        assert code(await again.call("sync", sync)) == "rate_limited"
        calm = await peer(b.url, "w-calm", "calm")  # someone else is not limited
        assert (await calm.call("sync", sync))["ok"] is True
        for p in (again, calm):
            await p.close()

    run(scenario())


def test_a_workspaces_limit_is_cluster_wide(limited: tuple[Proc, Proc]) -> None:
    a, b = limited
    sync = {"channel": "x", "after_seq": 0}

    async def scenario() -> None:
        on_a = [await peer(a.url, "w-busy", f"a{i}") for i in range(3)]
        on_b = [await peer(b.url, "w-busy", f"b{i}") for i in range(4)]
        assert all([(await p.call("sync", sync))["ok"] for p in on_a])
        await asyncio.sleep(0.5)
        assert all([(await p.call("sync", sync))["ok"] for p in on_b[:3]])
        await asyncio.sleep(0.5)
        refused = [await p.call("sync", sync) for p in (on_b[3], on_a[0])]
        assert [code(r) for r in refused] == ["rate_limited"] * 2, refused
        assert "workspace" in refused[0]["error"]["message"]
        for p in (*on_a, *on_b):
            await p.close()

    run(scenario())


def test_a_full_redis_answers_unavailable_and_evicts_nothing(lab: Lab) -> None:
    r = lab.redis("redis-full")
    node = lab.backend(r.port, name="node-full")
    admin = redis_of(r)
    assert admin.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    ch, body = chan(), "f" * 4000

    async def scenario() -> None:
        p = await peer(node.url, "w1", "filler")
        assert (await p.call("join", {"channel": ch}))["ok"] is True
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory", str(used + 1_000_000))
        acked, refusal = 0, None
        for i in range(2000):
            ack = await p.call("send", {"channel": ch, "client_msg_id": f"f{i}", "body": body})
            if not ack["ok"]:
                refusal = ack
                break
            acked += 1
        assert refusal is not None and acked > 50, (acked, refusal)
        assert refusal["error"] == {
            "code": "unavailable",
            "message": "the message store is full; retry later",
        }
        seqs: list[int] = []
        while len(seqs) < acked:  # reads still work, and every acked message is there
            page = await p.call("sync", {"channel": ch, "after_seq": len(seqs), "limit": 1000})
            assert page["ok"] is True, page
            seqs += [m["seq"] for m in page["messages"]]
            if not page["more"]:
                break
        assert seqs == list(range(1, acked + 1))
        assert int(admin.info("stats")["evicted_keys"]) == 0
        admin.config_set("maxmemory", "512mb")
        retry = await p.call("send", refusal_msg(ch, acked, body))
        assert retry["ok"] is True and retry["seq"] == acked + 1, retry
        await p.close()

    run(scenario(), timeout=100)


def refusal_msg(ch: str, i: int, body: str) -> dict[str, str]:
    return {"channel": ch, "client_msg_id": f"f{i}", "body": body}


def test_idle_logs_and_dedupe_records_expire_by_age_but_seqs_are_never_reused(lab: Lab) -> None:
    r = lab.redis("redis-age")
    node = lab.backend(r.port, "--log-ttl-s", "2", "--dedupe-ttl-s", "2", name="node-age")
    admin = redis_of(r)
    ch = chan()

    async def scenario() -> None:
        p = await peer(node.url, "w1", "ager")
        assert (await p.call("join", {"channel": ch}))["ok"] is True
        for i in range(3):
            msg = {"channel": ch, "client_msg_id": f"a{i}", "body": "old"}
            assert (await p.call("send", msg))["ok"] is True
        assert 0 < admin.ttl(f"pg:{{w1/{ch}}}:log") <= 2
        await asyncio.sleep(3.2)
        page = await p.call("sync", {"channel": ch, "after_seq": 0})
        assert (page["head_seq"], page["messages"], page["truncated"]) == (3, [], True), page
        assert admin.ttl(f"pg:{{w1/{ch}}}:seq") == -1  # the counter stays: no seq reuse
        again = await p.call("send", {"channel": ch, "client_msg_id": "a0", "body": "new"})
        assert again["ok"] is True and again["seq"] == 4 and again["duplicate"] is False
        await p.close()

    run(scenario())


def test_a_burst_of_large_syncs_does_not_starve_another_tenant(lab: Lab) -> None:
    r = lab.redis("redis-burst")
    node = lab.backend(
        r.port,
        "--max-reads-per-conn", "4", "--max-reads-per-workspace", "8", "--max-reads", "16",
        "--redis-max-connections", "24", "--conn-rate", "100000", "--conn-burst", "100000",
        "--user-rate", "100000", "--user-burst", "100000",
        name="node-burst",
    )  # fmt: skip
    admin = redis_of(r)
    big, small, body = chan(), chan(), "b" * 4000

    async def scenario() -> None:
        filler = await peer(node.url, "w-heavy", "filler")
        assert (await filler.call("join", {"channel": big}))["ok"] is True
        for start in range(0, 1000, 50):
            acks = await asyncio.gather(*[
                filler.call("send", {"channel": big, "client_msg_id": f"b{i}", "body": body})
                for i in range(start, start + 50)
            ])  # fmt: skip
            assert all(a["ok"] for a in acks)
        heavy = [await peer(node.url, "w-heavy", f"h{i}") for i in range(6)]
        tenant = await peer(node.url, "w-light", "light")
        assert (await tenant.call("join", {"channel": small}))["ok"] is True
        codes: list[str | None] = []
        stop = time.monotonic() + 4.0

        async def hammer(p: Peer) -> None:
            while time.monotonic() < stop:
                replies = await asyncio.gather(*[
                    p.call("sync", {"channel": big, "after_seq": 0, "limit": 1000}, timeout=30)
                    for _ in range(6)
                ])  # fmt: skip
                codes.extend(code(x) for x in replies)

        latencies: list[float] = []
        clients: list[int] = []

        async def light() -> None:
            i = 0
            while time.monotonic() < stop:
                t0 = time.monotonic()
                ack = await tenant.call(
                    "send", {"channel": small, "client_msg_id": f"l{i}", "body": "hi"}
                )
                page = await tenant.call("sync", {"channel": small, "after_seq": 0})
                latencies.append(time.monotonic() - t0)
                assert ack["ok"] and page["ok"], (ack, page)
                clients.append(int(admin.info("clients")["connected_clients"]))
                i += 1
                await asyncio.sleep(0.1)

        await asyncio.gather(light(), *[hammer(p) for p in heavy])
        assert codes.count(None) > 20  # the heavy tenant was served too
        assert "rate_limited" in codes  # more than 4 in flight on a connection
        assert max(latencies) < 2.0, sorted(latencies)[-5:]  # smoke: ack p99 < 2000 ms
        assert max(clients) <= 24 + 6, clients  # the pool (24) + the adapter's and ours
        for p in (filler, *heavy, tenant):
            await p.close()

    run(scenario(), timeout=100)
