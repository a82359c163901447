"""A model of a correct run: the real client algorithm against a simulated correct server.

Each client is a ``pigeon_lab.load.client_algorithm.ClientAlgorithm`` (the code the load
users run), fed by a discrete-event simulation: connections are FIFO links with a latency;
the server (``server.py``) is correct; a seeded fault model drops, duplicates and holds back
live pushes (a held-back push is emitted late, to the room as it is then), loses some send
acks (the client retries; the server dedupes), refuses a few oversized sends (definite
failures), breaks connections (the client reconnects and resumes with ``after_seq``) and has
clients leave channels. Rows are recorded as ``pigeon_lab.load.user`` records them (a
``deliver`` row has no body hash, ``msg_workspace`` stays null). The run ends as the load's
does: the faults heal, a quiet period, then each client syncs every channel, resolves what
is left (``abandon``) and closes its connection itself ("client disconnect").
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pigeon_lab.history.recorder import body_hash
from pigeon_lab.load.client_algorithm import (
    Action,
    ClientAlgorithm,
    Connect,
    Deliver,
    Emit,
    JoinDone,
    SendDone,
    Synced,
)
from pigeon_lab.testing.builder import HistoryBuilder
from pigeon_lab.testing.faults import DRAIN_S, POLICY, QUIET_S, FaultModel
from pigeon_lab.testing.server import MAX_BODY, Message, SimServer


@dataclass
class _Client:
    name: str
    user: str
    ws: str
    algo: ClientAlgorithm
    channels: tuple[str, ...]
    conn: int | None = None  # the live connection, if any
    wake: float | None = None  # the earliest tick scheduled


class Simulation:
    """One seeded run; ``run()`` returns the builder (history + final log) it recorded."""

    def __init__(
        self,
        seed: int,
        clients: int,
        channels: int,
        messages: int,
        workspaces: int,
        faults: FaultModel,
        retention: int | None = None,
    ) -> None:
        self.rnd = random.Random(seed)
        self.seed, self.messages, self.faults = seed, messages, faults
        self.b = HistoryBuilder(step_ns=1000)
        self.server = SimServer(self.b, retention=retention)
        self.now = 0.0
        self.events: list[tuple[float, int, Callable[[], None]]] = []
        self.n = 0
        self.next_conn = 0
        self.link: dict[int, float] = {}  # per connection direction: last arrival
        self.alive: set[int] = set()
        self.healed = False
        self.node_of: dict[int, str] = {}
        self.bodies: dict[str, str] = {}
        policy = replace(POLICY, duplicate_ratio=faults.duplicate_ratio)
        chans = [f"ch{j}" for j in range(channels)]
        self.clients = [
            _Client(
                f"c{i}",
                f"u-c{i}",
                f"w{i % workspaces}",
                ClientAlgorithm(policy=policy, rng=random.Random(seed * 1009 + i)),
                tuple(c for c in chans if self.rnd.random() < 0.8) or (chans[0],),
            )
            for i in range(clients)
        ]
        self.by_name = {c.name: c for c in self.clients}

    # ----- the event loop -----
    def at(self, t: float, fn: Callable[[], None]) -> None:
        self.n += 1
        heapq.heappush(self.events, (t, self.n, fn))

    def run_until(self, t: float) -> None:
        while self.events and self.events[0][0] <= t:
            when, _, fn = heapq.heappop(self.events)
            self.now = max(self.now, when)
            fn()
        self.now = max(self.now, t)

    def row(self, kind: str, c: _Client, **fields: Any) -> None:
        self.b.at(self.b.t0_ns + int(self.now * 1e9)).row(kind, c.name, **fields)

    def latency(self) -> float:
        return self.rnd.uniform(0.0005, 0.005)

    def send_over(self, conn: int, direction: int, fn: Callable[[], None]) -> None:
        """Deliver ``fn`` over ``conn`` in FIFO order, unless the connection breaks first."""
        key = conn * 2 + direction
        arrive = max(self.now + self.latency(), self.link.get(key, 0.0) + 1e-6)
        self.link[key] = arrive
        self.at(arrive, lambda: fn() if conn in self.alive else None)

    # ----- the client side -----
    def perform(self, c: _Client, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Deliver):
                self.row("deliver", c, **_fields(a.message))
            elif isinstance(a, Synced):
                f = _fields(a.message, body=True)
                if a.truncated:  # the first message of a sync that skipped over retention
                    f["detail"] = "truncated"
                self.row("sync_ok", c, **f)
            elif isinstance(a, Emit):
                self.emit(c, a)
            elif isinstance(a, SendDone):
                kind = {"ok": "send_ok", "fail": "send_fail", "info": "send_info"}[a.outcome]
                self.row(
                    kind,
                    c,
                    channel=a.channel,
                    client_msg_id=a.client_msg_id,
                    seq=a.seq,
                    msg_id=a.msg_id,
                    body_hash=self.hash_of(a.client_msg_id),
                    attempt=a.attempt,
                    latency_ms=a.latency,
                    error=a.error,
                    detail="duplicate" if a.duplicate else ",".join(a.errors) or None,
                )
            elif isinstance(a, JoinDone):
                if a.ok:
                    self.b.nodes[c.name] = a.node
                self.row(
                    "join_ok" if a.ok else "join_fail",
                    c,
                    channel=a.channel,
                    seq=a.head_seq,
                    error=a.error,
                    latency_ms=a.latency,
                    detail="truncated" if a.truncated else None,
                )
            elif isinstance(a, Connect):
                self.at(self.now + self.latency(), lambda: self.connect(c))
        self.schedule(c)

    def schedule(self, c: _Client) -> None:
        nd = c.algo.next_deadline()
        if nd is not None and (c.wake is None or nd < c.wake):
            # a hair late: the algorithm compares float times, and time must move on
            c.wake = max(nd, self.now) + 1e-9
            self.at(c.wake, lambda: self.tick(c))

    def tick(self, c: _Client) -> None:
        if c.wake is not None and c.wake <= self.now:
            c.wake = None
        self.perform(c, c.algo.tick(self.now))

    def emit(self, c: _Client, a: Emit) -> None:
        p = a.payload
        if a.event == "send":
            self.row(
                "send_invoke",
                c,
                channel=p["channel"],
                client_msg_id=p["client_msg_id"],
                body_hash=body_hash(p["body"]),
                attempt=a.attempt,
            )
        elif a.event == "join":
            self.row("join", c, channel=p["channel"], seq=p.get("after_seq"))
        if c.conn is None:
            return  # not connected: the ack timeout or the reconnect takes it from here
        conn = c.conn
        self.send_over(conn, 0, lambda: self.serve(c, conn, a))

    def connect(self, c: _Client) -> None:
        if c.conn is not None or c.algo.stopping:
            return
        self.next_conn += 1
        c.conn = self.next_conn
        self.alive.add(c.conn)
        self.server.connect(c.conn, c.name, c.user, c.ws)
        self.node_of[c.conn] = f"node-{self.rnd.randint(1, 3)}"
        self.b.at(self.b.t0_ns + int(self.now * 1e9))
        self.b.connect(c.name, c.user, c.ws, node=self.node_of[c.conn])
        self.perform(c, c.algo.on_connect(self.now))

    def disconnect(self, c: _Client, reason: str) -> None:
        if c.conn is None:
            return
        self.alive.discard(c.conn)
        self.server.drop(c.conn)
        c.conn = None
        self.row("disconnect", c, error=reason)
        self.b.nodes[c.name] = None
        self.perform(c, c.algo.on_disconnect(self.now))

    def on_message(self, c: _Client, msg: Message) -> None:
        self.row("recv", c, **_fields(msg, body=True))
        self.perform(c, c.algo.on_message(dict(msg), self.now))

    def on_ack(self, c: _Client, op: int, ack: dict[str, Any]) -> None:
        self.perform(c, c.algo.on_ack(op, ack, self.now))

    # ----- the server side and the network -----
    def serve(self, c: _Client, conn: int, a: Emit) -> None:
        ack, pushes = self.server.handle(conn, a.event, a.payload)
        if a.event == "join" and ack.get("ok"):
            ack["node"] = self.node_of.get(conn)
        for member, msg in pushes:
            self.push(member, msg)
        if a.event == "send" and not self.healed and self.rnd.random() < self.faults.p_ack_loss:
            return  # done, but the ack is lost: the client times out and retries
        self.send_over(conn, 1, lambda: self.on_ack(c, a.op, ack))

    def push(self, conn: int, msg: Message, held: bool = False) -> None:
        """Emit a live push to a member connection, through the fault model."""
        f, r = self.faults, self.rnd.random()
        if not held and not self.healed:
            if r < f.p_drop:
                return
            if r < f.p_drop + f.p_reorder:
                self.at(self.now + self.rnd.uniform(0.01, 0.3), lambda: self.push(conn, msg, True))
                return
        client, _user, ws = self.server.conns.get(conn, ("", "", ""))
        if conn not in self.server.members(ws, msg["channel"]):
            return  # held back past a leave or a disconnect: the room has moved on
        c = self.by_name[client]
        copies = 2 if not self.healed and self.rnd.random() < f.p_dup else 1
        for _ in range(copies):
            self.send_over(conn, 1, lambda: self.on_message(c, msg))

    # ----- the run -----
    def run(self) -> HistoryBuilder:
        for c in self.clients:
            for ch in c.channels:
                c.algo.join(ch, self.now)
            self.connect(c)
        f = self.faults
        for i in range(self.messages):
            self.run_until(self.now + self.rnd.uniform(0.001, 0.02))
            for c in self.clients:
                self.round(c, f)
            self.send_one(i)
            if self.rnd.random() < 0.05:
                c = self.rnd.choice(self.clients)
                self.row(
                    "adversarial",
                    c,
                    detail=self.rnd.choice(["forged_token", "foreign_channel"]),
                    error=self.rnd.choice(["unauthorized", "forbidden", "bad_request"]),
                )
        self.healed = True
        self.run_until(self.now + QUIET_S)
        for c in self.clients:  # the load stops: catch up, resolve, close
            c.algo.stopping = True
            self.perform(c, c.algo.sync_all(self.now))
        end = self.now + DRAIN_S
        while self.now < end and not all(c.algo.idle() or c.conn is None for c in self.clients):
            self.run_until(min(end, self.now + 0.05))
        for c in self.clients:
            self.perform(c, c.algo.abandon(self.now))
            if c.conn is not None:
                self.disconnect(c, "client disconnect")
        self.run_until(self.now + 1.0)
        for (ws, ch), top in self.server.evicted().items():
            for s in range(1, top + 1):
                self.b.drop_from_final(ws, ch, s)
            if top:
                self.b.readback(ws, ch, truncated=True)
        return self.b

    def round(self, c: _Client, f: FaultModel) -> None:
        """Per client and send round: maybe lose the connection, leave or (re)join."""
        if c.conn is not None and self.rnd.random() < f.p_disconnect:
            self.at(self.now, lambda: self.disconnect(c, "transport error"))
            return
        if c.conn is None or self.rnd.random() >= 0.02:
            return
        ch = self.rnd.choice(c.channels)
        st = c.algo.channels.get(ch)
        if st is None:
            self.perform(c, c.algo.join(ch, self.now))
        elif st.joined and self.rnd.random() < f.p_leave / 0.02 and self.idle_on(c, ch):
            conn = c.conn

            def left() -> None:
                if c.conn == conn and ch in c.algo.channels:
                    self.row("leave", c, channel=ch)
                    del c.algo.channels[ch]

            self.send_over(conn, 0, lambda: self.leave(c, conn, ch, left))

    def leave(self, c: _Client, conn: int, ch: str, done: Callable[[], None]) -> None:
        self.server.handle(conn, "leave", {"channel": ch})
        self.send_over(conn, 1, done)

    def idle_on(self, c: _Client, ch: str) -> bool:
        """Nothing of ``ch`` in flight (a leave then would strand it)."""
        busy = {op.channel for op in c.algo.ops.values()} | {
            s.channel for s in c.algo.sends.values()
        }
        return ch not in busy

    def send_one(self, i: int) -> None:
        ready = [
            (c, ch)
            for c in self.clients
            if c.conn is not None
            for ch, st in c.algo.channels.items()
            if st.joined
        ]
        if not ready:
            return
        c, ch = self.rnd.choice(ready)
        cmid = f"m{i}-{self.seed}"
        big = not self.healed and self.rnd.random() < self.faults.p_refuse
        body = f"{int(self.now * 1e9)}|{cmid}" + ("x" * MAX_BODY if big else "")
        self.bodies[cmid] = body
        self.perform(c, c.algo.send(ch, cmid, body, self.now))

    def hash_of(self, cmid: str) -> str | None:
        body = self.bodies.get(cmid)
        return body_hash(body) if body is not None else None


def _fields(m: Message, body: bool = False) -> dict[str, Any]:
    """A message's history fields, as the load's recorder takes them."""
    b = m.get("body")
    return {
        "channel": m.get("channel"),
        "seq": m.get("seq"),
        "msg_id": m.get("id"),
        "client_msg_id": m.get("client_msg_id"),
        "sender": m.get("sender"),
        "body_hash": body_hash(b) if body and isinstance(b, str) else None,
        "sent_wall": m.get("ts"),
    }


def correct_history(
    seed: int,
    clients: int = 4,
    channels: int = 2,
    messages: int = 30,
    workspaces: int = 1,
    p_drop: float = 0.1,
    p_dup: float = 0.1,
    p_reorder: float = 0.1,
    p_disconnect: float = 0.03,
    p_leave: float = 0.01,
    *,
    p_ack_loss: float = 0.05,
    p_refuse: float = 0.03,
    duplicate_ratio: float = 0.05,
    retention: int | None = None,
) -> HistoryBuilder:
    """A history of a correct backend driven by the reference client algorithm.

    Live pushes are lost, duplicated and held back at random; clients repair gaps by
    ``sync``, reconnect and resume with ``after_seq``, retry sends (same client_msg_id,
    same seq), and some leave. With ``retention`` the server keeps only the last messages
    of each channel (joins and syncs may then be truncated, and so is the read-back).
    Returns the builder so tests can inject a violation before ``build``.
    """
    faults = FaultModel(
        p_drop=p_drop,
        p_dup=p_dup,
        p_reorder=p_reorder,
        p_disconnect=p_disconnect,
        p_leave=p_leave,
        p_ack_loss=p_ack_loss,
        p_refuse=p_refuse,
        duplicate_ratio=duplicate_ratio,
    )
    sim = Simulation(seed, clients, channels, messages, workspaces, faults, retention)
    return sim.run()
