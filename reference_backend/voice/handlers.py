"""Voice room events of one node: join/leave, signal relay, resync, floor control, speaking.

The node keeps no room state: who is in a room, the mailboxes and the floor are in Redis
(``voice.lua``). It keeps only which of *its* sockets hold which sessions, to refresh their
leases and to leave on disconnect. Every event goes through the chat handlers' ``_answer``
(rate limits, error acks, metrics) and, per connection, through one lock: the events of one
socket are applied in the order they arrived, so a member's signals to a peer keep their order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import socketio

from reference_backend import flaws
from reference_backend.errors import ProtoError
from reference_backend.voice import payloads as vp
from reference_backend.voice.local_floor import LocalFloors
from reference_backend.voice.pushes import (
    floor_of,
    member_group,
    members_of,
    now_ms,
    push_of,
    room_group,
    session_group,
    signal_of,
)
from reference_backend.voice.settings import VoiceSettings
from reference_backend.voice.store import Reply, VoiceStore, as_list

if TYPE_CHECKING:  # pragma: no cover - typing only
    from reference_backend.handlers import Handlers
    from reference_backend.sessions import Conn

log = logging.getLogger("reference_backend.voice")

Ack = dict[str, Any]
MAX_ROOMS_PER_CONN = 16
EVENTS = (
    "vjoin",
    "vleave",
    "vsignal",
    "vsync",
    "floor_req",
    "floor_rel",
    "floor_cancel",
    "floor_grant",
    "floor_revoke",
    "speaking",
)


@dataclass(frozen=True, slots=True)
class Session:
    """One live voice session held by a socket of this node."""

    ws: str
    room: str
    member: str
    inc: int
    role: str


class VoiceHandlers:
    """The voice extension bound to a node's chat handlers (identity, limits, metrics)."""

    def __init__(self, chat: Handlers, store: VoiceStore, settings: VoiceSettings) -> None:
        self.chat = chat
        self.sio: socketio.AsyncServer = chat.sio
        self.store = store
        self.v = settings
        self.node = chat.s.node_name
        self.sessions: dict[str, dict[tuple[str, str], Session]] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        f = chat.s.flaws
        self.versioned = flaws.VOICE_UNVERSIONED_ROSTER not in f
        self.session_check = flaws.VOICE_NO_SESSION_CHECK not in f
        self.fencing = flaws.VOICE_NO_FENCING not in f
        self.local_floor = LocalFloors(self) if flaws.VOICE_NODE_FLOOR in f else None

    # ---- registration -----------------------------------------------------------------
    def register(self) -> None:
        table: dict[str, Callable[[Conn, str, tuple[Any, ...]], Awaitable[Ack]]] = {
            "vjoin": self.join,
            "vleave": self.leave,
            "vsignal": self.signal,
            "vsync": self.sync,
            "floor_req": self.floor_req,
            "floor_rel": self.floor_rel,
            "floor_cancel": self.floor_cancel,
            "floor_grant": self.floor_grant,
            "floor_revoke": self.floor_revoke,
            "speaking": self.speaking,
        }
        for event, fn in table.items():
            self.sio.on(event, self._handler(event, fn))

    def _handler(
        self, event: str, fn: Callable[[Conn, str, tuple[Any, ...]], Awaitable[Ack]]
    ) -> Callable[..., Awaitable[Ack]]:
        async def locked(conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
            lock = self.locks.get(sid)
            if lock is None:
                lock = self.locks[sid] = asyncio.Lock()
            async with lock:
                return await fn(conn, sid, args)

        async def handler(sid: str, *args: Any) -> Ack:
            return await self.chat._answer(event, sid, args, locked)

        return handler

    # ---- helpers ------------------------------------------------------------------------
    def session(self, sid: str, ws: str, room: str) -> Session:
        s = self.sessions.get(sid, {}).get((ws, room))
        if s is None:
            raise ProtoError("not_member", "join the room first (vjoin)")
        return s

    def _strip(self, ack: Ack) -> Ack:
        if not self.versioned:
            ack.pop("ver", None)
        return ack

    async def push(self, ws: str, room: str, events: list[dict[str, Any]]) -> None:
        """Push what a script changed, in ver order, to the room's sessions."""
        for event in events:
            name, body = push_of(room, event, self.versioned)
            await self.sio.emit(name, body, room=room_group(ws, room))

    def snapshot(self, reply: Reply) -> Ack:
        return {
            "ver": reply.get("ver"),
            "members": members_of(reply.get("members")),
            "floor": floor_of(reply.get("floor")),
        }

    def forget(self, sid: str, s: Session) -> None:
        mine = self.sessions.get(sid)
        if mine is not None and mine.get((s.ws, s.room)) == s:
            del mine[(s.ws, s.room)]
            if not mine:
                del self.sessions[sid]

    async def leave_groups(self, sid: str, s: Session, *, member_too: bool = True) -> None:
        await self.sio.leave_room(sid, room_group(s.ws, s.room))
        await self.sio.leave_room(sid, session_group(s.ws, s.room, s.member, s.inc))
        if member_too:
            await self.sio.leave_room(sid, member_group(s.ws, s.room, s.member))

    # ---- events -------------------------------------------------------------------------
    async def join(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_join(args)
        ws, member = conn.identity.workspace, conn.identity.user
        mine = self.sessions.get(sid, {})
        old = mine.get((ws, req.room))
        if old is None and len(mine) >= MAX_ROOMS_PER_CONN:
            raise ProtoError("forbidden", f"at most {MAX_ROOMS_PER_CONN} rooms per connection")
        group = room_group(ws, req.room)
        await self.sio.enter_room(sid, group)  # before the script: no push is missed
        try:
            reply = await self.store.run(
                "join",
                ws,
                req.room,
                member,
                req.role,
                self.node,
                sid,
                self.v.lease_ms,
                self.v.max_talk_ms,
                req.resume_inc,
                req.after_mseq,
                self.v.sync_limit,
            )
        except ProtoError:
            if old is None:
                await self.sio.leave_room(sid, group)
            raise
        inc = int(reply["inc"])
        s = Session(ws, req.room, member, inc, str(reply.get("role") or req.role))
        if old is not None and old.inc != inc:
            await self.sio.leave_room(sid, session_group(ws, req.room, member, old.inc))
        await self.sio.enter_room(sid, session_group(ws, req.room, member, inc))
        await self.sio.enter_room(sid, member_group(ws, req.room, member))
        self.sessions.setdefault(sid, {})[(ws, req.room)] = s
        kick, kick_sid = reply.get("kick"), reply.get("kick_sid")
        if isinstance(kick, int):
            await self._kick(ws, req.room, member, kick, kick_sid, "superseded", exclude=sid)
        await self.push(ws, req.room, reply.events)
        ack: Ack = {
            "ok": True,
            "room": req.room,
            "inc": inc,
            "resumed": bool(reply.get("resumed")),
            "role": s.role,
            **self.snapshot(reply),
            "signals": [signal_of(req.room, x) for x in as_list(reply.get("signals"))],
            "more": bool(reply.get("more")),
            "mseq": reply.get("mseq", 0),
            "lease_s": self.v.lease_s,
            "reap_s": self.v.reap_s,
            "max_talk_s": self.v.max_talk_s,
            "node": self.node,
        }
        return self._strip(ack)

    async def _kick(
        self, ws: str, room: str, member: str, inc: int, sid: Any, why: str, exclude: str = ""
    ) -> None:
        """Tell a replaced session it is over and take its socket out of the room's groups
        (through the adapter when the socket is on another node)."""
        old_group = session_group(ws, room, member, inc)
        await self.sio.emit("vkicked", {"room": room, "inc": inc, "reason": why}, room=old_group)
        if isinstance(sid, str) and sid and sid != exclude:
            await self.sio.manager.leave_room(sid, "/", room_group(ws, room))
            await self.sio.manager.leave_room(sid, "/", old_group)
            if self.session_check:  # the flaw keeps relaying to every socket of the member
                await self.sio.manager.leave_room(sid, "/", member_group(ws, room, member))

    async def leave(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        room = vp.parse_room(args)
        s = self.session(sid, conn.identity.workspace, room)
        reply = await self.store.run(
            "leave", s.ws, room, s.member, s.inc, "leave", self.v.max_talk_ms
        )
        self.forget(sid, s)
        await self.leave_groups(sid, s)
        if self.local_floor is not None:
            await self.local_floor.gone(s)
        await self.push(s.ws, room, reply.events)
        return self._strip({"ok": True, "ver": reply.get("ver")})

    async def signal(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_signal(args)
        s = self.session(sid, conn.identity.workspace, req.room)
        reply = await self.store.run(
            "signal",
            s.ws,
            req.room,
            s.member,
            s.inc,
            req.to,
            req.to_inc,
            req.sig_id,
            req.pc,
            req.neg,
            req.kind,
            req.payload,
            self.v.dedupe_ttl_s,
            self.v.mailbox_len,
            "1" if self.session_check else "0",
        )
        mseq, to_inc = int(reply["mseq"]), int(reply.get("to_inc") or req.to_inc)
        push = {
            "room": req.room,
            "from": s.member,
            "from_inc": s.inc,
            "to": req.to,
            "to_inc": to_inc,
            "sig_id": req.sig_id,
            "pc": req.pc,
            "neg": req.neg,
            "kind": req.kind,
            "payload": req.payload,
            "mseq": mseq,
            "ts": reply.get("ts") or now_ms(),
        }
        # a duplicate is pushed again: its first push may have died with a node (the
        # addressee drops what it already has, by mseq)
        if self.session_check:
            target = session_group(s.ws, req.room, req.to, to_inc)
        else:
            target = member_group(s.ws, req.room, req.to)
        await self.sio.emit("vsignal", push, room=target)
        return {"ok": True, "mseq": mseq, "duplicate": bool(reply.get("duplicate"))}

    async def sync(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_sync(args)
        s = self.session(sid, conn.identity.workspace, req.room)
        reply = await self.store.run(
            "sync", s.ws, req.room, s.member, s.inc, req.after_mseq, self.v.sync_limit
        )
        ack: Ack = {
            "ok": True,
            **self.snapshot(reply),
            "signals": [signal_of(req.room, x) for x in as_list(reply.get("signals"))],
            "more": bool(reply.get("more")),
            "mseq": reply.get("mseq", 0),
        }
        return self._strip(ack)

    async def floor_req(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_req(args)
        s = self.session(sid, conn.identity.workspace, req.room)
        if self.local_floor is not None:
            return await self.local_floor.request(s, req.req_id)
        reply = await self.store.run(
            "floor_req", s.ws, s.room, s.member, s.inc, req.req_id, self.v.max_talk_ms
        )
        await self.push(s.ws, s.room, reply.events)
        ack: Ack = {"ok": True, "status": reply["status"]}
        if reply.get("token") is not None:
            ack["token"] = reply["token"]
        if reply.get("pos") is not None:
            ack["pos"] = reply["pos"]
        return ack

    async def floor_rel(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_token(args)
        s = self.session(sid, conn.identity.workspace, req.room)
        if self.local_floor is not None:
            return await self.local_floor.release(s, req.token)
        reply = await self.store.run(
            "floor_rel", s.ws, s.room, s.member, s.inc, req.token, self.v.max_talk_ms
        )
        await self.push(s.ws, s.room, reply.events)
        return {"ok": True}

    async def floor_cancel(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_req(args)
        s = self.session(sid, conn.identity.workspace, req.room)
        if self.local_floor is not None:
            return await self.local_floor.cancel(s, req.req_id)
        reply = await self.store.run("floor_cancel", s.ws, s.room, s.member, s.inc, req.req_id)
        await self.push(s.ws, s.room, reply.events)
        return {"ok": True, "cancelled": bool(reply.get("cancelled"))}

    async def floor_grant(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_grant(args)
        s = self.session(sid, conn.identity.workspace, req.room)
        reply = await self.store.run(
            "floor_grant", s.ws, s.room, s.member, s.inc, req.member, self.v.max_talk_ms
        )
        await self.push(s.ws, s.room, reply.events)
        return {"ok": True, "token": reply.get("token")}

    async def floor_revoke(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        room = vp.parse_room(args)
        s = self.session(sid, conn.identity.workspace, room)
        reply = await self.store.run(
            "floor_revoke", s.ws, room, s.member, s.inc, self.v.max_talk_ms
        )
        await self.push(s.ws, room, reply.events)
        return {"ok": True, "revoked": bool(reply.get("revoked"))}

    async def speaking(self, conn: Conn, sid: str, args: tuple[Any, ...]) -> Ack:
        req = vp.parse_speaking(args)
        s = self.session(sid, conn.identity.workspace, req.room)
        if self.local_floor is not None:
            self.local_floor.check_speaking(s, req.token, self.fencing)
        else:
            await self.store.run(
                "speaking", s.ws, s.room, s.member, s.inc, req.token, "1" if self.fencing else "0"
            )
        body = {
            "room": s.room,
            "member": s.member,
            "inc": s.inc,
            "token": req.token,
            "on": req.on,
            "ts": now_ms(),
        }
        await self.sio.emit("vspeaking", body, room=room_group(s.ws, s.room))
        return {"ok": True}

    # ---- connection end -----------------------------------------------------------------
    async def disconnected(self, sid: str) -> None:
        """The socket is gone: leave each of its sessions (only that incarnation: a member
        who already joined again elsewhere keeps the newer session)."""
        self.locks.pop(sid, None)
        for s in list(self.sessions.pop(sid, {}).values()):
            try:
                reply = await self.store.run(
                    "leave", s.ws, s.room, s.member, s.inc, "leave", self.v.max_talk_ms
                )
                if self.local_floor is not None:
                    await self.local_floor.gone(s)
                await self.push(s.ws, s.room, reply.events)
            except ProtoError as exc:  # Redis down: the lease runs out and a reaper removes it
                log.warning(
                    "leave of %s@%d in %s/%s failed: %s", s.member, s.inc, s.ws, s.room, exc
                )


__all__ = ["EVENTS", "MAX_ROOMS_PER_CONN", "Session", "VoiceHandlers"]
