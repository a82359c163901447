"""Socket.IO event handlers: connect/disconnect, join/leave/send/sync/refresh and a catch-all.

Every event goes through `_answer`: expiry, rate limits (per connection; per user and
workspace cluster-wide), a ProtoError becomes its ack, anything else `internal` (logged,
never raised into python-socketio), metrics. Handlers take `*args` (a wrong arity is
`bad_request`). Reads pass the read gate (readgate); sessions hold expiry and `refresh`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from reference_backend import flaw_hooks, flaws, validation
from reference_backend.auth import verify
from reference_backend.errors import ProtoError, bad_request
from reference_backend.flaw_sends import FlawedSends
from reference_backend.ids import new_id
from reference_backend.metrics import Metrics
from reference_backend.readgate import ReadGate
from reference_backend.sessions import Conn, Sessions
from reference_backend.settings import Settings
from reference_backend.shared_limits import SharedLimits
from reference_backend.store import Store

log = logging.getLogger("reference_backend.handlers")

Ack = dict[str, Any]
MAX_ROOMS_PER_CONN = 1000
INTERNAL_ACK: Ack = {"ok": False, "error": {"code": "internal", "message": "internal error"}}
OK_ACK: Ack = {"ok": True}
_wall = time.time
PRIME_TIMEOUT_S = 0.5


# What a connection's WSGI-style environ keeps after the handshake (python-socketio holds
# it for the connection's life; the rest, ~4 KiB with the ASGI scope and the request body
# class python-engineio defines per request, is never read again).
ENVIRON_KEEP = frozenset(
    {
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "PATH_INFO",
        "QUERY_STRING",
        "REQUEST_METHOD",
        "SERVER_NAME",
        "SERVER_PORT",
        "HTTP_USER_AGENT",
    }
)


def trim_environ(environ: dict[str, Any]) -> None:
    """Drop, in place, what ENVIRON_KEEP does not name."""
    for key in [k for k in environ if k not in ENVIRON_KEEP]:
        del environ[key]


class Handlers(FlawedSends):
    """The protocol's behaviour, bound to one server, store and settings."""

    def __init__(
        self, sio: socketio.AsyncServer, store: Store, settings: Settings, metrics: Metrics
    ) -> None:
        self.sio = sio
        self.store = store
        self.s = settings
        self.metrics = metrics
        self.sessions = Sessions(sio, settings, metrics)
        self.conns: dict[str, Conn] = self.sessions.conns
        self.limits = SharedLimits(
            user_rate=settings.user_rate,
            user_burst=settings.user_burst,
            ws_rate=settings.ws_rate,
            ws_burst=settings.ws_burst,
        )
        self.reads = ReadGate(
            settings.max_reads_per_conn, settings.max_reads_per_workspace, settings.max_reads
        )
        self.draining = False
        self.cut_off = False  # cut off from Redis past the grace (app.Node sets it)
        f = settings.flaws
        self.flaw_ack_early = flaws.ACK_BEFORE_PERSIST in f
        self.flaw_local_seq = flaws.LOCAL_SEQ in f
        self.flaw_unprefixed = flaws.UNPREFIXED_ROOMS in f
        self.flaw_no_dedupe = flaws.NO_DEDUPE in f
        self.flaw_sender = flaws.SENDER_FROM_PAYLOAD in f
        self.flaw_cut_off_ready = flaws.READY_WHEN_CUT_OFF in f
        self.local_seqs: dict[tuple[str, str], int] = {}
        self.hooks = flaw_hooks.make(f, self)  # None unless a flaw of flaw_hooks.py is on
        self.pending: set[asyncio.Task[None]] = set()

    def register(self) -> None:
        on = self.sio.on
        on("connect", self.on_connect)
        on("disconnect", self.on_disconnect)
        on("join", self.on_join)
        on("leave", self.on_leave)
        on("send", self.on_send)
        on("sync", self.on_sync)
        on("refresh", self.on_refresh)
        on("*", self.on_unknown)

    # python-socketio awaits only real coroutine functions: one small method per event.
    async def on_join(self, sid: str, *args: Any) -> Ack:
        return await self._answer("join", sid, args, self.join)

    async def on_leave(self, sid: str, *args: Any) -> Ack:
        return await self._answer("leave", sid, args, self.leave)

    async def on_send(self, sid: str, *args: Any) -> Ack:
        return await self._answer("send", sid, args, self.send)

    async def on_sync(self, sid: str, *args: Any) -> Ack:
        return await self._answer("sync", sid, args, self.sync)

    async def on_refresh(self, sid: str, *args: Any) -> Ack:
        return await self._answer("refresh", sid, args, self.refresh)

    # ---- connection lifecycle ---------------------------------------------------------
    async def on_connect(self, sid: str, *args: Any) -> Any:
        if sid in self.conns:  # a client emitted an event named "connect"
            return bad_request("unknown event 'connect'").ack()
        auth = args[1] if len(args) > 1 else None
        if self.draining:
            self.metrics.connects.labels(result="draining").inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "node is draining", {"code": "unavailable", "message": "node is draining"}
            )
        if self.cut_off:
            self.metrics.connects.labels(result="cut_off").inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "node is cut off from Redis",
                {"code": "unavailable", "message": "node is cut off from Redis"},
            )
        try:
            identity = verify(auth, self.s.jwt_secret)
        except socketio.exceptions.ConnectionRefusedError as exc:
            code = exc.error_args.get("data", {}).get("code", "unauthorized")
            self.metrics.connects.labels(result=code).inc()
            raise
        await self._prime_limits(identity.workspace, f"{identity.workspace}/{identity.user}")
        self.sessions.open(sid, identity)
        if args and isinstance(args[0], dict):
            trim_environ(args[0])
        self.metrics.connects.labels(result="ok").inc()
        self.metrics.connections.set(len(self.conns))
        return True

    async def _prime_limits(self, ws: str, user_key: str) -> None:
        """Learn this user's and workspace's cluster-wide counts before the first event
        (bounded: a slow Redis delays a connect by at most PRIME_TIMEOUT_S)."""
        try:
            async with asyncio.timeout(PRIME_TIMEOUT_S):
                await self.limits.prime(self.store.redis, user_key, ws, _wall())
        except Exception as exc:  # broad on purpose: the limits then learn at the next sync
            log.debug("priming the rate limits of %s failed: %s", user_key, exc)

    async def on_disconnect(self, sid: str, *args: Any) -> Any:
        if self.sio.manager.is_connected(sid, "/"):  # an event named "disconnect", not one
            return bad_request("unknown event 'disconnect'").ack()
        self.sessions.close(sid)
        self.metrics.connections.set(len(self.conns))
        return None

    async def on_unknown(self, event: Any, sid: str, *args: Any) -> Ack:
        async def unknown(conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
            raise bad_request(f"unknown event {str(event)[:64]!r}")

        return await self._answer("unknown", sid, args, unknown)

    # ---- the one wrapper --------------------------------------------------------------
    async def _answer(
        self,
        event: str,
        sid: str,
        args: tuple[Any, ...],
        fn: Callable[[Conn, str, tuple[Any, ...]], Awaitable[Ack]],
    ) -> Ack:
        t0 = time.monotonic()
        code: str | None = None
        try:
            conn = self.conns.get(sid)
            if conn is None:
                raise ProtoError("unauthorized", "not connected")
            if t0 >= conn.expires_at:
                raise ProtoError("expired", "the token expired; reconnect with a fresh one")
            if not conn.bucket.take(t0):
                raise ProtoError("rate_limited", "too many events on this connection")
            now = _wall()
            if not self.limits.user.take(conn.user_key, now):
                raise ProtoError("rate_limited", "too many events of this user")
            if not self.limits.workspace.take(conn.identity.workspace, now):
                raise ProtoError("rate_limited", "too many events in this workspace")
            reply = await fn(conn, sid, args)
        except ProtoError as exc:
            code = exc.code
            reply = exc.ack()
        except Exception:
            code = "internal"
            reply = INTERNAL_ACK
            self.metrics.internal.inc()
            log.exception("%s handler failed", event)
        self.metrics.observe(event, time.monotonic() - t0, code)
        return reply

    def room(self, ws: str, channel: str) -> str:
        return f"ch:{channel}" if self.flaw_unprefixed else f"ws:{ws}:ch:{channel}"

    # ---- events -----------------------------------------------------------------------
    async def join(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = validation.parse_join(args)
        ws = conn.identity.workspace
        room = self.room(ws, req.channel)
        entered = room not in conn.rooms
        if entered:
            if len(conn.rooms) >= MAX_ROOMS_PER_CONN:
                raise ProtoError(
                    "forbidden", f"at most {MAX_ROOMS_PER_CONN} channels per connection"
                )
            # Enter the room before reading: a message committed after the read is pushed.
            await self.sio.enter_room(sid, room)
            conn.rooms.add(room)
        try:
            return await self._join_read(conn, ws, req)
        except Exception:
            if entered:  # a join that failed did not join: no push may follow it
                await self.sio.leave_room(sid, room)
                conn.rooms.discard(room)
            raise

    async def _join_read(self, conn: Conn, ws: str, req: validation.JoinReq) -> Ack:
        if req.after_seq is None:
            async with self.reads.slot(conn):
                head = await self.store.head(ws, req.channel)
            return {
                "ok": True,
                "channel": req.channel,
                "head_seq": head,
                "messages": [],
                "more": False,
                "truncated": False,
                "node": self.s.node_name,
            }
        async with self.reads.slot(conn):
            page = await self.store.read(ws, req.channel, req.after_seq, req.limit)
        if self.hooks:
            page = self.hooks.history(page, req.after_seq, join=True)
        return {
            "ok": True,
            "channel": req.channel,
            "head_seq": page.head_seq,
            "messages": page.messages,
            "more": page.more,
            "truncated": page.truncated,
            "node": self.s.node_name,
        }

    async def leave(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        room = self.room(conn.identity.workspace, validation.parse_leave(args))
        if room in conn.rooms:
            if not (self.hooks and self.hooks.ghost):
                await self.sio.leave_room(sid, room)
            conn.rooms.discard(room)
        return OK_ACK

    async def sync(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = validation.parse_sync(args)
        async with self.reads.slot(conn):
            page = await self.store.read(
                conn.identity.workspace, req.channel, req.after_seq, req.limit
            )
        if self.hooks:
            page = self.hooks.history(page, req.after_seq, join=False)
        return {
            "ok": True,
            "head_seq": page.head_seq,
            "messages": page.messages,
            "more": page.more,
            "truncated": page.truncated,
        }

    async def refresh(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        return self.sessions.refresh(conn, args)

    async def send(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = validation.parse_send(args, self.s.max_body)
        ws, sender = conn.identity.workspace, conn.identity.user
        room = self.room(ws, req.channel)
        if room not in conn.rooms:
            raise ProtoError("not_member", "join the channel first")
        if self.flaw_sender and req.claimed_sender:
            sender = req.claimed_sender
        msg_id = new_id()
        ts = int(time.time() * 1000)
        if self.flaw_ack_early:
            return await self._send_ack_early(req, ws, sender, room, msg_id, ts)
        try:
            c = await self.store.send(
                ws,
                req.channel,
                req.client_msg_id,
                sender,
                req.body,
                msg_id=msg_id,
                ts=ts,
                dedupe=not self.flaw_no_dedupe,
            )
        except ProtoError as exc:
            if self.flaw_cut_off_ready and exc.code == "unavailable":
                # the flaw: cut off from Redis, "ready" anyway: ack what cannot be stored
                seq = self._local_seq(ws, req.channel)
                return {"ok": True, "seq": seq, "id": msg_id, "ts": ts, "duplicate": False}
            raise
        seq = c.seq
        if self.flaw_cut_off_ready:
            self._seen_seq(ws, req.channel, seq)
        if self.flaw_local_seq and not c.duplicate:
            seq = self._local_seq(ws, req.channel)
        if not c.duplicate:
            await self._broadcast(
                room, req.channel, seq, c.id, req.client_msg_id, sender, req.body, c.ts, ws
            )
        elif c.stored is not None:
            # A duplicate was pushed by its first attempt; under `replicated` that attempt
            # may have ended not_durable (and was then not pushed), so the durable retry
            # pushes it: the stored message, never the retry's own fields.
            await self.sio.emit("message", c.stored, room=room)
            self.metrics.broadcast()
        if self.hooks:
            await self.hooks.after_send(ws, req.channel, room)
        return {"ok": True, "seq": seq, "id": c.id, "ts": c.ts, "duplicate": c.duplicate}

    async def _broadcast(
        self,
        room: str,
        channel: str,
        seq: int,
        msg_id: str,
        cmid: str,
        sender: str,
        body: str,
        ts: int,
        ws: str,
    ) -> None:
        message = {
            "channel": channel,
            "seq": seq,
            "id": msg_id,
            "client_msg_id": cmid,
            "sender": sender,
            "body": body,
            "ts": ts,
            "workspace": ws,  # an extension of protocol.md (the channel's workspace)
        }
        if self.hooks:
            for to, msg in self.hooks.pushes(room, message):
                await self.sio.emit("message", msg, room=to)
        else:
            await self.sio.emit("message", message, room=room)
        self.metrics.broadcast()

    async def disconnect_all(self) -> None:
        """Drop this node's clients (drain deadline), saying why; they reconnect elsewhere."""
        for sid in list(self.conns):
            await self.sessions.end(sid, "draining")
