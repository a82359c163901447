"""Voice rooms, v1 on real processes: Redis and two backend nodes (short leases), and the
session cluster (HAProxy, 3 nodes, Sentinel) for a failover.

Every voice event with its acks and error codes, bad input refused with a code while the
node keeps serving, a signal from node B reaching its addressee on node A (sender stamped,
another workspace unreachable), floor control with fencing tokens, supersede, resume, a
killed node's members reaped within the lease bound, and one holder after a failover.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio

from pigeon_lab.cluster import Cluster
from pigeon_lab.cluster.nodes import backend_node
from pigeon_lab.cluster.ports import free_port
from tests.conftest import require_cluster_binaries
from tests.integration.backend_harness import SECRET, Lab, Proc, lab_fixture, run, token, wait_ready

pytestmark = pytest.mark.integration
lab = lab_fixture
LEASE = {"lease_s": "1.5", "refresh_s": "0.3", "reap_s": "0.2", "max_talk_s": "2"}
BOUND_S = 1.5 + 0.2 + 1.0  # lease + one reaping round + slack (the checkers' bound)
PUSHES = ("vroster", "vfloor", "vsignal", "vspeaking", "vkicked")


def voice_node(lab: Lab, redis_port: int, name: str) -> Proc:
    env = {f"PIGEON_BACKEND_VOICE_{k.upper()}": v for k, v in LEASE.items()}
    process = backend_node(
        name,
        free_port(),
        run_dir=lab.workdir,
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        jwt_secret=SECRET,
        args=["--log-level", "warning"],
        extra_env=env,
    )
    proc = lab._start(process)
    wait_ready(proc)
    return proc


@pytest.fixture(scope="module")
def nodes(lab: Lab) -> Iterator[tuple[Proc, Proc, int]]:
    require_cluster_binaries()
    r = lab.redis()
    yield voice_node(lab, r.port, "node-a"), voice_node(lab, r.port, "node-b"), r.port


class Member:
    """An async Socket.IO client that keeps every voice push."""

    def __init__(self, url: str, ws: str, user: str) -> None:
        self.url, self.ws, self.user = url, ws, user
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pushes: list[tuple[str, dict[str, Any]]] = []
        for ev in PUSHES:
            self.sio.on(ev, self._keeper(ev))

    def _keeper(self, ev: str) -> Callable[[dict[str, Any]], Any]:
        async def keep(data: dict[str, Any]) -> None:
            self.pushes.append((ev, data))

        return keep

    async def connect(self) -> Member:
        auth = {"token": token(self.ws, self.user)}
        await self.sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=5)
        return self

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, timeout=5)

    async def join(self, room: str, role: str = "speaker", **kw: Any) -> dict[str, Any]:
        ack = await self.call("vjoin", {"room": room, "role": role, **kw})
        assert ack["ok"], ack
        return dict(ack)

    async def wait(
        self, pred: Callable[[str, dict[str, Any]], bool], timeout: float = 5.0
    ) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev, d in self.pushes:
                if pred(ev, d):
                    return ev, d
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.user}: no such push in {timeout} s: {self.pushes[-5:]}")

    async def close(self) -> None:
        await self.sio.disconnect()


async def settled(m: Member, event: str, payload: dict[str, Any], timeout: float = 15) -> Any:
    """Call until the answer is no longer "not now" (a failover under way)."""
    deadline = time.monotonic() + timeout
    while True:
        ack = await m.call(event, payload)
        transient = not ack.get("ok") and ack["error"]["code"] in ("unavailable", "not_durable")
        if not transient or time.monotonic() > deadline:
            return ack
        await asyncio.sleep(0.3)


def code(ack: Any) -> str:
    assert isinstance(ack, dict) and ack.get("ok") is False, ack
    return str(ack["error"]["code"])


def sig(
    room: str, to: str, to_inc: int, sig_id: str, kind: str = "offer", neg: int = 0
) -> dict[str, Any]:
    return {
        "room": room,
        "to": to,
        "to_inc": to_inc,
        "sig_id": sig_id,
        "pc": "p",
        "neg": neg,
        "kind": kind,
        "payload": "v=0",
    }


def test_join_signal_sync_and_leave_across_nodes(nodes: tuple[Proc, Proc, int]) -> None:
    a_node, b_node, _ = nodes

    async def scenario() -> None:
        alice = await Member(a_node.url, "w1", "alice").connect()
        bob = await Member(b_node.url, "w1", "bob").connect()
        try:
            ja = await alice.join("r1", "chair")
            assert ja["inc"] >= 1 and ja["node"] == "node-a" and ja["lease_s"] == 1.5
            assert [m["member"] for m in ja["members"]] == ["alice"]
            jb = await bob.join("r1")
            assert {m["member"] for m in jb["members"]} == {"alice", "bob"}
            assert jb["ver"] == ja["ver"] + 1
            _, push = await alice.wait(
                lambda e, d: e == "vroster" and d["member"]["member"] == "bob"
            )
            assert push["ver"] == jb["ver"] and push["op"] == "join"
            # bob on node B signals alice on node A; a forged `from` is ignored
            ack = await bob.call("vsignal", {**sig("r1", "alice", ja["inc"], "s1"), "from": "eve"})
            assert ack == {"ok": True, "mseq": 1, "duplicate": False}
            again = await bob.call("vsignal", sig("r1", "alice", ja["inc"], "s1"))
            assert again["mseq"] == 1 and again["duplicate"] is True
            _, got = await alice.wait(lambda e, d: e == "vsignal")
            assert got["from"] == "bob" and got["from_inc"] == jb["inc"] and got["mseq"] == 1
            ack = await bob.call("vsignal", sig("r1", "alice", ja["inc"], "s2", "candidate"))
            assert ack["mseq"] == 2
            synced = await alice.call("vsync", {"room": "r1", "after_mseq": 1})
            assert [s["sig_id"] for s in synced["signals"]] == ["s2"] and synced["mseq"] == 2
            left = await bob.call("vleave", {"room": "r1"})
            assert left["ok"] and left["ver"] > jb["ver"]
            await alice.wait(lambda e, d: e == "vroster" and d["op"] == "leave")
            assert code(await bob.call("vleave", {"room": "r1"})) == "not_member"
            assert code(await bob.call("vsignal", sig("r1", "alice", 1, "s3"))) == "not_member"
        finally:
            await alice.close()
            await bob.close()

    run(scenario())


def test_bad_input_is_refused_with_a_code_and_the_node_keeps_serving(
    nodes: tuple[Proc, Proc, int],
) -> None:
    a_node, _, _ = nodes

    async def scenario() -> None:
        m = await Member(a_node.url, "w1", "mallory").connect()
        other = await Member(a_node.url, "w2", "trent").connect()
        try:
            j = await m.join("r2")
            await other.join("r2")  # the same room name in another workspace
            cases: list[tuple[str, Any, str]] = [
                ("vjoin", {"room": "Not A Room!"}, "bad_request"),
                ("vjoin", {"room": "r2", "role": "king"}, "bad_request"),
                ("vjoin", ["not", "an", "object"], "bad_request"),
                ("vjoin", {"room": "r2", "resume": {"inc": 0}}, "bad_request"),
                ("vsignal", {"room": "r2"}, "bad_request"),
                ("vsignal", {**sig("r2", "trent", 1, "x"), "kind": "nonsense"}, "bad_request"),
                (
                    "vsignal",
                    {**sig("r2", "trent", 1, "x"), "payload": {"nested": 1}},
                    "bad_request",
                ),
                ("vsignal", {**sig("r2", "trent", 1, "x"), "payload": "x" * 20000}, "too_large"),
                ("vsignal", sig("r2", "trent", 1, "x"), "no_such_member"),  # other workspace
                ("floor_rel", {"room": "r2", "token": 1}, "stale_token"),  # a past grant
                ("speaking", {"room": "r2", "token": 1, "on": True}, "stale_token"),
                ("speaking", {"room": "r2", "token": 1, "on": "yes"}, "bad_request"),
                ("floor_revoke", {"room": "r2"}, "forbidden"),  # not a chair
                ("floor_grant", {"room": "r2", "member": "trent"}, "forbidden"),
                ("floor_req", {"room": "r9", "req_id": "q"}, "not_member"),
                ("vsync", {"room": "r2", "after_mseq": -1}, "bad_request"),
            ]
            for event, payload, want in cases:
                assert code(await m.call(event, payload)) == want, (event, payload)
            assert (await m.call("vsync", {"room": "r2", "after_mseq": 0}))["ok"]  # still serving
            assert {x["member"] for x in (await m.call("vsync", {"room": "r2"}))["members"]} == {
                "mallory"
            }  # trent's r2 is another room
            assert j["inc"] >= 1
        finally:
            await m.close()
            await other.close()

    run(scenario())


def test_floor_tokens_queue_and_talk_time(nodes: tuple[Proc, Proc, int]) -> None:
    a_node, b_node, _ = nodes

    async def scenario() -> None:
        c = await Member(a_node.url, "w1", "carol").connect()
        d = await Member(b_node.url, "w1", "dave").connect()
        e = await Member(b_node.url, "w1", "erin").connect()
        try:
            await c.join("r3", "chair")
            await d.join("r3")
            await e.join("r3", "listener")
            g1 = await d.call("floor_req", {"room": "r3", "req_id": "q1"})
            assert g1["status"] == "granted"
            assert code(await e.call("floor_req", {"room": "r3", "req_id": "q2"})) == "floor_denied"
            q = await c.call("floor_req", {"room": "r3", "req_id": "q3"})
            assert q == {"ok": True, "status": "queued", "pos": 1}
            assert (await d.call("speaking", {"room": "r3", "token": g1["token"], "on": True}))[
                "ok"
            ]
            assert (
                code(await c.call("speaking", {"room": "r3", "token": g1["token"], "on": True}))
                == "stale_token"
            )
            assert (await d.call("floor_rel", {"room": "r3", "token": g1["token"]}))["ok"]
            _, handed = await e.wait(lambda ev, x: ev == "vfloor" and x["holder"] == "carol")
            assert handed["token"] > g1["token"] and handed["prev"]["token"] == g1["token"]
            assert (
                code(await d.call("floor_rel", {"room": "r3", "token": g1["token"]}))
                == "stale_token"
            )
            assert (
                code(await d.call("speaking", {"room": "r3", "token": g1["token"], "on": True}))
                == "stale_token"
            )
            g3 = await c.call("floor_grant", {"room": "r3", "member": "dave"})  # chair grant
            assert g3["token"] > handed["token"]
            _, expired = await e.wait(
                lambda ev, x: ev == "vfloor" and x.get("reason") == "expired", timeout=4
            )
            assert expired["state"] == "idle" and expired["prev"]["token"] == g3["token"]
        finally:
            for m in (c, d, e):
                await m.close()

    run(scenario())


def test_a_rejoin_supersedes_the_old_session(nodes: tuple[Proc, Proc, int]) -> None:
    a_node, b_node, _ = nodes

    async def scenario() -> None:
        f1 = await Member(a_node.url, "w1", "frank").connect()
        g = await Member(b_node.url, "w1", "grace").connect()
        try:
            old = await f1.join("r4")
            await g.join("r4")
            f2 = await Member(b_node.url, "w1", "frank").connect()
            new = await f2.join("r4")  # another device: supersedes the first
            assert new["inc"] == old["inc"] + 1
            _, kick = await f1.wait(lambda e, d: e == "vkicked")
            assert kick == {"room": "r4", "inc": old["inc"], "reason": "superseded"}
            assert code(await g.call("vsignal", sig("r4", "frank", old["inc"], "t1"))) == "gone"
            assert (await g.call("vsignal", sig("r4", "frank", new["inc"], "t2")))["ok"]
            await f2.wait(lambda e, d: e == "vsignal" and d["sig_id"] == "t2")
            await asyncio.sleep(0.3)
            assert not [d for e, d in f1.pushes if e == "vsignal"]  # the old socket gets nothing
            # the old socket's session is over: superseded (or, once its node noticed, gone)
            stale = code(await f1.call("vsignal", sig("r4", "grace", 1, "t3")))
            assert stale in ("superseded", "not_member"), stale
            await f2.close()
            await g.wait(lambda e, d: e == "vroster" and d["op"] == "leave")  # left on disconnect
            await f1.close()
        finally:
            await g.close()

    run(scenario())


def test_a_killed_nodes_members_resume_elsewhere_or_leave_within_the_lease_bound(
    lab: Lab, nodes: tuple[Proc, Proc, int]
) -> None:
    a_node, _, redis_port = nodes
    doomed = voice_node(lab, redis_port, "node-c")

    async def scenario() -> None:
        h = await Member(a_node.url, "w1", "heidi").connect()
        i = await Member(doomed.url, "w1", "ivan").connect()
        j = await Member(doomed.url, "w1", "judy").connect()
        try:
            await h.join("r5")
            await i.join("r5")
            jj = await j.join("r5")
            assert (await i.call("floor_req", {"room": "r5", "req_id": "q"}))["status"] == "granted"
            doomed.kill()  # no disconnect handler runs: only the leases can end these sessions
            t0 = time.monotonic()
            await h.call("vsignal", sig("r5", "judy", jj["inc"], "k1", "candidate"))
            j2 = await Member(a_node.url, "w1", "judy").connect()  # judy comes back at once
            back = await j2.join("r5", resume={"inc": jj["inc"], "after_mseq": 0})
            assert back["resumed"] is True and back["inc"] == jj["inc"]
            assert [x["sig_id"] for x in back["signals"]] == ["k1"]
            _, left = await h.wait(
                lambda e, d: e == "vroster" and d["op"] == "expire", timeout=BOUND_S + 2
            )
            took = time.monotonic() - t0
            assert left["member"]["member"] == "ivan" and took <= BOUND_S, took
            _, freed = await h.wait(lambda e, d: e == "vfloor" and d["state"] == "idle")
            assert freed["reason"] == "lease" and freed["prev"]["holder"] == "ivan"
            await asyncio.sleep(BOUND_S)  # judy's node refreshes her lease now: she stays
            members = (await h.call("vsync", {"room": "r5", "after_mseq": 0}))["members"]
            assert {m["member"] for m in members} == {"heidi", "judy"}
            await j2.close()
        finally:
            await h.close()

    run(scenario())


def test_after_a_redis_failover_one_member_holds_the_floor(cluster: Cluster) -> None:
    url = cluster.info.lb_url

    async def scenario() -> None:
        ms = [await Member(url, "w1", f"fo{k}").connect() for k in range(3)]
        try:
            for m in ms:
                await m.join("rf")
            first = [
                await m.call("floor_req", {"room": "rf", "req_id": f"a{k}"})
                for k, m in enumerate(ms)
            ]
            holder = next(a for a in first if a.get("status") == "granted")
            await asyncio.get_running_loop().run_in_executor(None, cluster.failover)
            snap = await settled(ms[0], "vsync", {"room": "rf", "after_mseq": 0})
            assert snap.get("ok"), snap
            holders = [m for m in ms if m.user == snap["floor"]["holder"]]
            assert len(holders) <= 1
            # every speaking with the old token but the holder's is refused; tokens rise after
            oks = [
                (
                    await m.call("speaking", {"room": "rf", "token": holder["token"], "on": True})
                ).get("ok")
                for m in ms
            ]
            assert sum(1 for ok in oks if ok) <= 1
            if snap["floor"]["holder"]:
                rel = await settled(
                    holders[0], "floor_rel", {"room": "rf", "token": snap["floor"]["token"]}
                )
                assert rel["ok"], rel
            again = await settled(ms[0], "floor_req", {"room": "rf", "req_id": "after"})
            assert again["ok"] and (again.get("token") or holder["token"] + 1) > holder["token"]
        finally:
            for m in ms:
                await m.close()

    try:
        run(scenario(), 60)
    finally:
        cluster.heal()


def test_the_voice_environment_reaches_the_node() -> None:
    from reference_backend.voice.settings import from_env, voice_env

    s = from_env({f"PIGEON_BACKEND_VOICE_{k.upper()}": v for k, v in LEASE.items()})
    assert (s.lease_s, s.refresh_s, s.reap_s, s.max_talk_s) == (1.5, 0.3, 0.2, 2.0)
    assert from_env(voice_env(s)) == s
    with pytest.raises(ValueError, match=r"refresh_s"):
        from_env({"PIGEON_BACKEND_VOICE_LEASE_S": "1", "PIGEON_BACKEND_VOICE_REFRESH_S": "2"})
