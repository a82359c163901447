"""The reference backend against protocol.md, on two real set-ups: two nodes sharing one
plain Redis, and the session's full cluster (3 nodes, Redis primary + replica behind
3 Sentinels), where `a` is HAProxy and `b` is node-2 directly."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import pytest

from pigeon_lab.cluster import Cluster
from pigeon_lab.tokens import mint_token
from tests.integration.backend_harness import (
    SECRET,
    Peer,
    http_get,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
    start_two_nodes,
    token,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@dataclass(frozen=True)
class Endpoint:
    url: str
    names: frozenset[str]  # the node names a `join` ack may report for this endpoint


@dataclass(frozen=True)
class Endpoints:
    """The two places clients connect to."""

    a: Endpoint
    b: Endpoint


@pytest.fixture(scope="module", params=["two-nodes", "cluster-via-haproxy"], name="stack")
def stack_fixture(request: pytest.FixtureRequest) -> Endpoints:
    if request.param == "two-nodes":
        two = start_two_nodes(request.getfixturevalue("lab"))
        return Endpoints(
            Endpoint(two.a.url, frozenset({"node-a"})), Endpoint(two.b.url, frozenset({"node-b"}))
        )
    cluster: Cluster = request.getfixturevalue("cluster")
    info = cluster.info
    return Endpoints(
        Endpoint(info.lb_url, frozenset(info.node_urls)),
        Endpoint(info.node_urls["node-2"], frozenset({"node-2"})),
    )


def chan() -> str:
    """A fresh channel per test: the module shares one Redis."""
    return "c-" + uuid.uuid4().hex[:12]


def send(ch: str, body: str = "hi", cmid: str | None = None) -> dict[str, str]:
    return {"channel": ch, "client_msg_id": cmid or uuid.uuid4().hex, "body": body}


def test_join_send_sync_leave_happy_path(stack: Endpoints) -> None:
    ch = chan()

    async def scenario() -> None:
        alice = await peer(stack.a.url, "w1", "alice")
        joined = await alice.call("join", {"channel": ch})
        assert joined == {
            "ok": True,
            "channel": ch,
            "head_seq": 0,
            "messages": [],
            "more": False,
            "truncated": False,
            "node": joined["node"],
        }
        assert joined["node"] in stack.a.names
        ack = await alice.call("send", send(ch, "hello", "m-1"))
        assert ack["ok"] is True and ack["seq"] == 1 and ack["duplicate"] is False
        assert isinstance(ack["id"], str) and isinstance(ack["ts"], int)
        pushed = await alice.wait_messages(1)
        assert pushed == [
            {
                "channel": ch,
                "seq": 1,
                "id": ack["id"],
                "client_msg_id": "m-1",
                "sender": "alice",
                "body": "hello",
                "ts": ack["ts"],
                "workspace": "w1",  # the reference backend's extension (protocol.md)
            }
        ]
        synced = await alice.call("sync", {"channel": ch, "after_seq": 0})
        assert synced == {
            "ok": True,
            "head_seq": 1,
            "messages": pushed,
            "more": False,
            "truncated": False,
        }
        assert await alice.call("leave", {"channel": ch}) == {"ok": True}
        after_leave = await alice.call("send", send(ch))
        assert after_leave["error"]["code"] == "not_member"
        await alice.close()

    run(scenario())


def test_send_requires_membership(stack: Endpoints) -> None:
    async def scenario() -> None:
        p = await peer(stack.a.url)
        ack = await p.call("send", send(chan()))
        assert ack["ok"] is False and ack["error"]["code"] == "not_member"
        await p.close()

    run(scenario())


def test_message_through_node_a_reaches_member_on_node_b(stack: Endpoints) -> None:
    ch = chan()

    async def scenario() -> None:
        a = await peer(stack.a.url, "w1", "alice")
        b = await peer(stack.b.url, "w1", "bob")
        await a.call("join", {"channel": ch})
        assert (await b.call("join", {"channel": ch}))["node"] in stack.b.names
        ack = await a.call("send", send(ch, "cross-node"))
        got = await b.wait_messages(1)
        assert [(m["seq"], m["body"], m["sender"]) for m in got] == [
            (ack["seq"], "cross-node", "alice")
        ]
        await a.close()
        await b.close()

    run(scenario())


def test_fifty_concurrent_senders_get_seqs_without_holes(stack: Endpoints) -> None:
    ch = chan()

    async def scenario() -> None:
        peers = await asyncio.gather(
            *(peer(stack.a.url if i % 2 else stack.b.url, "w1", f"u{i}") for i in range(50))
        )
        await asyncio.gather(*(p.call("join", {"channel": ch}) for p in peers))
        acks = await asyncio.gather(
            *(p.call("send", send(ch, f"b{i}")) for i, p in enumerate(peers) for _ in range(4))
        )
        assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
        assert sorted(a["seq"] for a in acks) == list(range(1, 201))
        page = await peers[0].call("sync", {"channel": ch, "after_seq": 0})
        assert [m["seq"] for m in page["messages"]] == list(range(1, 201))
        assert {m["id"] for m in page["messages"]} == {a["id"] for a in acks}
        await asyncio.gather(*(p.close() for p in peers))

    run(scenario())


def test_retried_client_msg_id_is_stored_once(stack: Endpoints) -> None:
    ch = chan()

    async def scenario() -> None:
        a = await peer(stack.a.url)
        b = await peer(stack.b.url)
        await a.call("join", {"channel": ch})
        await b.call("join", {"channel": ch})
        first = await a.call("send", send(ch, "once", "retry-me"))
        again = await b.call("send", send(ch, "once", "retry-me"))  # a retry via another node
        assert first["duplicate"] is False and again["duplicate"] is True
        assert (again["seq"], again["id"], again["ts"]) == (first["seq"], first["id"], first["ts"])
        page = await a.call("sync", {"channel": ch, "after_seq": 0})
        assert [m["client_msg_id"] for m in page["messages"]] == ["retry-me"]
        await asyncio.sleep(0.2)
        assert [m["seq"] for m in a.messages] == [first["seq"]]  # not pushed twice
        await a.close()
        await b.close()

    run(scenario())


def test_join_after_seq_returns_missed_messages_with_paging(stack: Endpoints) -> None:
    ch = chan()

    async def scenario() -> None:
        a = await peer(stack.a.url)
        await a.call("join", {"channel": ch})
        for i in range(7):
            assert (await a.call("send", send(ch, f"m{i}")))["seq"] == i + 1
        late = await peer(stack.b.url, "w1", "late")
        page1 = await late.call("join", {"channel": ch, "after_seq": 2, "limit": 3})
        assert [m["seq"] for m in page1["messages"]] == [3, 4, 5]
        assert page1["more"] is True and page1["head_seq"] == 7 and page1["truncated"] is False
        page2 = await late.call("join", {"channel": ch, "after_seq": 5, "limit": 3})
        assert [m["seq"] for m in page2["messages"]] == [6, 7] and page2["more"] is False
        sync = await late.call("sync", {"channel": ch, "after_seq": 6, "limit": 1})
        assert [m["body"] for m in sync["messages"]] == ["m6"] and sync["more"] is False
        head = await late.call("sync", {"channel": ch, "after_seq": 7})
        assert head["messages"] == [] and head["head_seq"] == 7
        await a.close()
        await late.close()

    run(scenario())


def test_workspaces_are_isolated(stack: Endpoints) -> None:
    async def scenario() -> None:
        wa = await peer(stack.a.url, "wsA", "alice")
        wb = await peer(stack.a.url, "wsB", "bob")  # same node, same channel name
        wb2 = await peer(stack.b.url, "wsB", "carol")
        for p in (wa, wb, wb2):
            await p.call("join", {"channel": "general"})
        ack = await wa.call("send", send("general", "secret of A"))
        assert ack["ok"]
        await wa.wait_messages(1)
        await asyncio.sleep(0.3)
        assert wb.messages == [] and wb2.messages == []
        page = await wb.call("sync", {"channel": "general", "after_seq": 0})
        assert page["head_seq"] == 0 and page["messages"] == []
        b_ack = await wb.call("send", send("general", "B's own"))
        assert b_ack["seq"] == 1  # B's general has its own sequence
        await asyncio.sleep(0.2)
        assert [m["body"] for m in wa.messages] == ["secret of A"]
        for p in (wa, wb, wb2):
            await p.close()

    run(scenario())


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ({"token": mint_token("wrong-secret-0123456789-abcdefghij", "w1", "u1")}, "unauthorized"),
        ({"token": mint_token(SECRET, "w1", "u1", ttl_s=-60)}, "expired"),
        ({}, "unauthorized"),
        ({"token": "not.a.jwt"}, "unauthorized"),
        ({"token": 12345}, "unauthorized"),
        ({"token": mint_token(SECRET, "bad ws!", "u1")}, "unauthorized"),
        ({"token": mint_token(SECRET, "w1", "x" * 65)}, "unauthorized"),
    ],
    ids=["forged", "expired", "missing", "malformed", "not-a-string", "bad-ws", "long-sub"],
)
def test_bad_tokens_are_refused_with_code(
    stack: Endpoints, auth: dict[str, object], code: str
) -> None:
    async def scenario() -> None:
        p = Peer(stack.a.url, None, auth=auth)
        with pytest.raises(Exception, match="failed to connect"):
            await p.connect()
        assert isinstance(p.connect_error, dict)
        assert p.connect_error["data"]["code"] == code

    run(scenario())


def test_client_cannot_spoof_sender(stack: Endpoints) -> None:
    ch = chan()

    async def scenario() -> None:
        a = await peer(stack.a.url, "w1", "alice")
        await a.call("join", {"channel": ch})
        ack = await a.call("send", {**send(ch, "it was bob"), "sender": "bob"})
        assert ack["ok"]
        (pushed,) = await a.wait_messages(1)
        page = await a.call("sync", {"channel": ch, "after_seq": 0})
        assert pushed["sender"] == "alice" and page["messages"][0]["sender"] == "alice"
        await a.close()

    run(scenario())


def test_long_polling_transport_works(stack: Endpoints) -> None:
    ch = chan()

    async def scenario() -> None:
        p = await Peer(stack.b.url, token()).connect(transport="polling")
        await p.call("join", {"channel": ch})
        ack = await p.call("send", send(ch, "over polling"))
        assert ack["ok"] and (await p.wait_messages(1))[0]["seq"] == ack["seq"]
        await p.close()

    run(scenario())


def test_health_ready_and_metrics_endpoints(stack: Endpoints) -> None:
    """On a node's own port (`b`; HAProxy does not forward them, test_cluster_security)."""
    assert http_get(stack.b.url + "/healthz") == (200, "ok\n")
    assert http_get(stack.b.url + "/readyz") == (200, "ready\n")
    status, text = http_get(stack.b.url + "/metrics")
    assert status == 200
    for needle in (
        "pigeon_connections ",
        'pigeon_events_total{event="send"}',
        'pigeon_acks_total{event="join",result="ok"}',
        'pigeon_ack_latency_seconds_bucket{event="send",le="0.005"}',
    ):
        assert needle in text, needle
    assert any(f'pigeon_node_info{{node="{name}"}} 1.0' in text for name in stack.b.names)
    assert http_get(stack.a.url + "/nope")[0] == 404
