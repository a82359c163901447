"""The simulated chat user: the client algorithm over a Socket.IO client, in Locust.

Imports Locust (and gevent's monkey-patching): only the load process imports this. Every
event of invariants.md goes to the Recorder; acks, joins and connects also fire Locust's
``request`` event; deliveries go to the latency histogram, and to Locust 1 in
``DELIVER_SAMPLE`` (per-event stats cost more than the rest of the receive path).

The client, by transport (``LoadConfig.client``): the lean one (``lean_client.py``) for
``websocket`` over ``http://``, python-socketio's otherwise. Users speak through the load
context's codec (events, payloads, acks, pushes), found through their class's ``slot``.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from typing import Any

import gevent
import socketio
from gevent.event import Event
from locust import task
from locust.contrib.socketio import SocketIOUser

from pigeon_lab.history.recorder import body_hash, cached_body_hash
from pigeon_lab.history.schema import Kind
from pigeon_lab.load import client_algorithm as ca
from pigeon_lab.load.client_direct import make_algorithm
from pigeon_lab.load.context import ContextSlot, LoadContext
from pigeon_lab.load.latency import DELIVER_SAMPLE
from pigeon_lab.load.lean_client import LeanSocketIOClient, use_lean_client
from pigeon_lab.load.sio_client import PigeonSocketIOClient
from pigeon_lab.load.token_refresh import LiveToken, RefreshTimer
from pigeon_lab.load.workload import (
    UserPlan,
    body_sent_wall_ns,
    make_body,
    next_send_delay,
    plan_user,
)
from pigeon_lab.protocol.codec import connect_options, namespace_of, refusal_code
from pigeon_lab.protocol.profile import Profile

_mono = time.monotonic
_time_ns = time.time_ns
_mono_ns = time.monotonic_ns
_RECV, _DELIVER, _SYNC_OK = str(Kind.RECV), str(Kind.DELIVER), str(Kind.SYNC_OK)
_DELIVER_STAT = f"deliver (1/{DELIVER_SAMPLE} sample)"
_IDLE_S = 5.0  # longest sleep of a user's loop


class ChatUser(SocketIOUser, LiveToken):
    """One chat client: connect, join, send on schedule, deliver in order, renew its token."""

    abstract = True
    slot: ContextSlot  # set by ``user_classes``
    # typed as SocketIOUser types it (an instance attribute there, so not a ClassVar here)
    options: dict[str, Any] = {"reconnection": False}  # noqa: RUF012

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)  # type: ignore[no-untyped-call]  # Locust: unannotated
        self.sio_greenlet.kill(block=False)  # the user drives its own client
        ctx = self.slot.get()
        self.ctx, self.cfg, self.rec, self.codec = ctx, ctx.config, ctx.recorder, ctx.codec
        self.work = self.cfg.workload
        self.plan: UserPlan = plan_user(self.cfg, ctx.next_index("chat"))
        self.client_id = self.plan.user
        self.rng = random.Random(self.plan.seed)
        policy = ca.Policy(
            ack_timeout=self.work.ack_timeout_ms / 1000,
            send_deadline=self.work.send_deadline_ms / 1000,
            gap_timeout=self.cfg.gap_timeout_ms / 1000,
            duplicate_ratio=self.work.duplicate_send_ratio,
        )
        can = (self.cfg.profile or Profile()).capabilities
        self.algo = make_algorithm(
            policy,
            random.Random(self.plan.seed * 7919 + 1),
            self.codec,
            seqs=can.seqs,
            history=can.history,
            acks=can.acks,
        )
        # the same surface either way (see the module docstring)
        self.sio: PigeonSocketIOClient | LeanSocketIOClient  # type: ignore[assignment]
        self._connect_options: dict[str, Any]
        if use_lean_client(self.cfg, self.plan.url):
            self.sio = LeanSocketIOClient()
            self._connect_options = {"socketio_path": self.codec.socketio_path}
        else:
            self.sio = PigeonSocketIOClient(environment.events.request, reconnection=False)
            self._connect_options = connect_options(self.codec)
        ns = self.ns = namespace_of(self.codec)
        self.sio.on(self.codec.message_event, self._on_message, namespace=ns)
        self.sio.on("disconnect", self._on_disconnect, namespace=ns)
        self.sio.on("connect_error", self._on_connect_error, namespace=ns)
        self.sio.on("closing", self._on_closing, namespace=ns)
        self.refresh, self.ack_timeout_s = RefreshTimer(), policy.ack_timeout
        self._closing: str | None = None  # why the server said it closes the connection
        self.node: str | None = None
        self.wake = Event()
        self.sleep_until = 0.0
        self.finished = False
        self._connect_error: str | None = None
        self._bodies: dict[str, tuple[str, int | None]] = {}
        self._fire = environment.events.request.fire
        ctx.users.append(self)

    # ----- recording -----
    def _row(self, kind: Kind, **kw: Any) -> None:
        self.rec.record(kind, self.client_id, self.plan.user, self.plan.workspace, self.node, **kw)

    def _stat(self, name: str, ms: float, error: str | None = None) -> None:
        self._fire(
            request_type="WS",
            name=name,
            response_time=ms,
            response_length=0,
            exception=RuntimeError(error) if error else None,
            context={},
        )

    # ----- the main loop -----
    @task
    def chat(self) -> None:
        for ch in self.plan.channels:
            self.algo.join(ch, _mono())
        self._connect()
        next_send = _mono() + next_send_delay(self.cfg, self.rng)
        drain_started: float | None = None
        while True:
            now = _mono()
            if self.ctx.stopping:
                if drain_started is None:
                    drain_started = now
                    self.algo.stopping = True
                    self._perform(self.algo.sync_all(now) if self.work.catch_up else [])
                if self.algo.idle() or not self.algo.connected:
                    break
            elif now >= next_send:
                next_send = now + next_send_delay(self.cfg, self.rng)
                if self.algo.connected:
                    self._send(now)
            self._perform(self.algo.tick(now))
            self._tick_token(now, self.algo.connected, self.plan.workspace, self.plan.user)
            # every timer is in next_deadline and a stop sets ``wake``: the cap is a safety net
            wake_at = min(self.algo.next_deadline() or now + _IDLE_S, now + _IDLE_S,
                          self.refresh.next_deadline() or now + _IDLE_S)  # fmt: skip
            if not self.ctx.stopping:
                wake_at = min(wake_at, next_send)
            self.sleep_until = wake_at
            self.wake.clear()
            self.wake.wait(timeout=max(0.0, wake_at - _mono()))
        self._perform(self.algo.abandon(_mono()))
        self._disconnect()
        self.finished = True
        while True:
            gevent.sleep(3600)

    def stop_now(self) -> None:
        """The run is stopping: wake the main loop so that it starts draining."""
        self.wake.set()

    def abandon(self) -> None:
        """Called when the drain budget is spent: unresolved sends become send_info."""
        if not self.finished:
            self._perform(self.algo.abandon(_mono()))
            self._disconnect()
            self.finished = True

    def _send(self, now: float) -> None:
        joined = [c for c in self.plan.channels if self.algo.channels[c].joined]
        if not joined:
            return
        channel = self.rng.choice(joined)
        wall = self.ctx.wall_ns()  # on the master's clock: another worker may receive it
        cmid = str(uuid.uuid4())  # unique per run, not a seeded choice
        body = make_body(self.cfg, self.rng, wall, tag=cmid[:8])
        self._bodies[cmid] = (body_hash(body), wall)
        self.ctx.counters["sends"] += 1
        self._perform(self.algo.send(channel, cmid, body, now))

    def _wake_if_due(self) -> None:
        nd = self.algo.next_deadline()
        if nd is not None and nd < self.sleep_until:
            self.wake.set()

    # ----- connection -----
    def _connect(self) -> None:
        self._connect_error = self._closing = None
        issued = self.ctx.issued(self.plan.workspace, self.plan.user)
        t0 = _mono()
        try:
            self.sio.connect(
                self.plan.url,
                auth=self.codec.auth(issued.value),
                transports=[self.work.transport],
                wait_timeout=self.cfg.connect_timeout_s,
                **self._connect_options,
            )
        except (socketio.exceptions.ConnectionError, ValueError, OSError) as exc:
            err = self._connect_error or f"connection: {exc}"[:200]
            ms = (_mono() - t0) * 1000
            self._row(
                Kind.CONNECT_ERROR, error=err, latency_ms=ms, attempt=self.algo.connect_attempt
            )
            self._stat("connect", ms, err)
            self._perform(self.algo.on_connect_failed(_mono()))
            return
        ms = (_mono() - t0) * 1000
        self._row(Kind.CONNECT, latency_ms=ms, attempt=self.algo.connect_attempt)
        self._stat("connect", ms)
        self._token_connected(issued)
        self._perform(self.algo.on_connect(_mono()))

    def _disconnect(self) -> None:
        if self.sio.connected:
            with contextlib.suppress(Exception):  # closing a broken socket; nothing to record
                self.sio.disconnect()

    def _on_connect_error(self, data: Any = None) -> None:
        self._connect_error = refusal_code(data)

    def _on_disconnect(self, reason: Any = None) -> None:
        self.refresh.clear()
        self._row(Kind.DISCONNECT, error=self._closing or (str(reason) if reason else None))
        self.node = None
        self._perform(self.algo.on_disconnect(_mono()))
        self.wake.set()

    # ----- inputs -----
    def _on_message(self, raw: Any) -> None:
        now = _mono()
        self.ctx.counters["recv"] += 1
        msg = self.codec.decode_push(raw)
        if msg is None:
            self._row(Kind.RECV, error="malformed", detail=str(raw)[:200])
            return
        channel = msg.get("channel")
        rec = self.rec
        if not rec.enabled:
            actions = self.algo.on_message(msg, now)
            if actions:
                self._perform(actions)
        else:
            t_ns, wall_ns = _mono_ns(), _time_ns()  # when it was received
            body = msg.get("body")
            h = cached_body_hash(body) if isinstance(body, str) else None
            actions = self.algo.on_message(msg, now)
            a = actions[0] if len(actions) == 1 else None
            if a is not None and a.__class__ is ca.Deliver and a.message is msg:
                # the common case, delivered at once: one entry for its recv and deliver rows
                rec.recv_deliver(
                    t_ns,
                    wall_ns,
                    self.client_id,
                    self.plan.user,
                    self.plan.workspace,
                    self.node,
                    channel,
                    msg,
                    h,
                    a.channel,
                    self._delivered(msg),
                )
            else:
                rec.message(
                    _RECV,
                    self.client_id,
                    self.plan.user,
                    self.plan.workspace,
                    self.node,
                    channel,
                    msg,
                    h,
                )
                if actions:
                    self._perform(actions)
        # only this channel's gap timer can have moved: wake the user if it is now earlier
        ch = self.algo.channels.get(channel) if isinstance(channel, str) else None
        if ch is not None and ch.gap_deadline is not None and ch.gap_deadline < self.sleep_until:
            self.wake.set()

    def _on_ack(self, op: int, args: tuple[Any, ...]) -> None:
        self._perform(self.algo.on_ack(op, args[0] if args else None, _mono()))
        if self.ctx.stopping and self.algo.idle():
            self.wake.set()  # the last answer of the drain: finish now, not at the idle cap
        else:
            self._wake_if_due()

    # ----- actions -----
    def _perform(self, actions: list[ca.Action]) -> None:
        for a in actions:
            if isinstance(a, ca.Deliver):
                self._deliver(a.channel, a.message)
            elif isinstance(a, ca.Emit):
                self._emit(a)
            elif isinstance(a, ca.Synced):
                body = a.message.get("body")
                self.rec.message(
                    _SYNC_OK,
                    self.client_id,
                    self.plan.user,
                    self.plan.workspace,
                    self.node,
                    a.channel,
                    a.message,
                    body_hash(body) if isinstance(body, str) else None,
                    detail="truncated" if a.truncated else None,
                )
            elif isinstance(a, ca.SendDone):
                self._send_done(a)
            elif isinstance(a, ca.JoinDone):
                if a.ok:
                    self.node = a.node
                self._row(
                    Kind.JOIN_OK if a.ok else Kind.JOIN_FAIL,
                    channel=a.channel,
                    seq=a.head_seq,
                    error=a.error,
                    latency_ms=a.latency,
                    detail="truncated" if a.truncated else None,
                )
                self._stat("join", a.latency, a.error)
            elif isinstance(a, ca.Connect):
                self._connect()

    def _emit(self, a: ca.Emit) -> None:
        p = a.payload
        if a.event == "send":
            h, wall = self._bodies.get(p["client_msg_id"], (None, None))
            self._row(
                Kind.SEND_INVOKE,
                channel=p["channel"],
                client_msg_id=p["client_msg_id"],
                body_hash=h,
                attempt=a.attempt,
                sent_wall=wall // 1_000_000 if wall else None,
            )
        elif a.event == "join":
            self._row(Kind.JOIN, channel=p["channel"], seq=p.get("after_seq"))
        op, codec = a.op, self.codec
        try:  # noqa: SIM105 - once per emit (every send): plain try/except is the cheaper form
            self.sio.emit(
                codec.event(a.event),
                codec.encode(a.event, p),
                namespace=self.ns,
                callback=lambda *args: self._on_ack(op, args),
            )
        except socketio.exceptions.SocketIOError:
            pass  # not connected: the ack timeout or the disconnect handler takes it from here

    def _send_done(self, a: ca.SendDone) -> None:
        kind = {"ok": Kind.SEND_OK, "fail": Kind.SEND_FAIL, "info": Kind.SEND_INFO}[a.outcome]
        keep = a.client_msg_id in self.algo.sends  # a duplicate send follows: keep its body
        h, _ = (self._bodies.get if keep else self._bodies.pop)(a.client_msg_id, (None, None))
        c = self.ctx.counters
        c["acks" if a.outcome == "ok" else f"send_{a.outcome}"] += 1
        self._row(
            kind,
            channel=a.channel,
            client_msg_id=a.client_msg_id,
            seq=a.seq,
            msg_id=a.msg_id,
            body_hash=h,
            attempt=a.attempt,
            latency_ms=a.latency,
            error=a.error,
            detail="duplicate" if a.duplicate else ",".join(a.errors) or None,  # each attempt's
        )
        if a.outcome == "ok":
            self.ctx.ack_ms.add(a.latency)
        self._stat("send", a.latency, None if a.outcome == "ok" else a.error)

    def _deliver(self, channel: str, m: dict[str, Any]) -> None:
        latency, body = self._delivered(m), m.get("body")
        h = cached_body_hash(body) if isinstance(body, str) else None  # names it without an id
        u = self.plan
        self.rec.message(
            _DELIVER, self.client_id, u.user, u.workspace, self.node, channel, m, h, latency
        )

    def _delivered(self, m: dict[str, Any]) -> float | None:
        """Count a delivery, log its end-to-end latency (ms, from the body) and return it."""
        body = m.get("body")
        sent = body_sent_wall_ns(body) if isinstance(body, str) else None
        ctx = self.ctx
        n = ctx.counters["deliver"] = ctx.counters["deliver"] + 1
        if not sent:
            return None
        latency = (ctx.wall_ns() - sent) / 1e6
        ctx.delivery_ms.add(latency)
        if n % DELIVER_SAMPLE == 0:
            self._stat(_DELIVER_STAT, latency)
        return latency


__all__ = ["ChatUser", "LoadContext", "PigeonSocketIOClient", "task"]
