"""bad-pigeon: a tiny in-memory server of protocol.md that misbehaves on purpose.

Written for the tests of the read-back and of the adversary (issue 8). It speaks the
Pigeon protocol (JWT ``sub``/``ws`` in ``auth.token``, ``join``/``leave``/``send``/``sync``
with acks, ``message`` pushes, rooms per workspace and channel, dedupe of retries); live
pushes are always right. ``--mode`` picks what goes wrong:

    good          nothing
    stuck-pages   a history read ignores ``after_seq``: always the first page, ``more: true``
    no-seq        messages of history reads come without ``seq``
    silent-sync   ``sync`` is never answered (and a join with ``after_seq`` neither)
    slow-leave    ``leave`` waits ``LEAVE_DELAY_S`` before it leaves the room and answers,
                  and logs ``leave requested <workspace>/<channel> at <wall ns>``

    python -m tests.apps.bad_pigeon --port 8000 --secret S --mode stuck-pages
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

import jwt
import socketio
import uvicorn

MODES = ("good", "stuck-pages", "no-seq", "silent-sync", "slow-leave")
LEAVE_DELAY_S = 1.5
PAGE = 500
MAX_BODY = 4096  # protocol.md's default


def build(secret: str, mode: str = "good") -> Any:
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    who: dict[str, tuple[str, str]] = {}  # sid -> (workspace, user)
    logs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}

    def room(ws: str, ch: str) -> str:
        return f"{ws}/{ch}"

    def page(ws: str, ch: str, after: int, limit: int) -> dict[str, Any]:
        log = logs.get((ws, ch), [])
        start = 0 if mode == "stuck-pages" else max(0, after)
        msgs = log[start : start + limit]
        more = mode == "stuck-pages" or start + limit < len(log)
        if mode == "no-seq":
            msgs = [{k: v for k, v in m.items() if k != "seq"} for m in msgs]
        return {"head_seq": len(log), "messages": msgs, "more": more, "truncated": False}

    def refuse(code: str) -> dict[str, Any]:
        return {"ok": False, "error": {"code": code, "message": code}}

    @sio.on("connect")
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            claims = jwt.decode(token or "", secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "unauthorized", "message": str(exc)}
            ) from exc
        who[sid] = (str(claims["ws"]), str(claims["sub"]))

    @sio.on("disconnect")
    async def disconnect(sid: str, *args: Any) -> None:
        who.pop(sid, None)

    @sio.on("join")
    async def join(sid: str, data: Any) -> dict[str, Any]:
        ws, _ = who[sid]
        ch = str(data.get("channel"))
        await sio.enter_room(sid, room(ws, ch))
        after = data.get("after_seq")
        if after is None:
            head = len(logs.get((ws, ch), []))
            return {"ok": True, "channel": ch, "head_seq": head, "messages": [], "more": False,
                    "truncated": False, "node": "bad-pigeon"}  # fmt: skip
        if mode == "silent-sync":
            await asyncio.sleep(3600)
        p = page(ws, ch, int(after), int(data.get("limit") or PAGE))
        return {"ok": True, "channel": ch, "node": "bad-pigeon", **p}

    @sio.on("leave")
    async def leave(sid: str, data: Any) -> dict[str, Any]:
        ws, _ = who[sid]
        ch = str(data.get("channel"))
        if mode == "slow-leave":
            print(f"leave requested {ws}/{ch} at {time.time_ns()}", file=sys.stderr, flush=True)
            await asyncio.sleep(LEAVE_DELAY_S)  # still a member: pushes go on meanwhile
        await sio.leave_room(sid, room(ws, ch))
        return {"ok": True}

    @sio.on("send")
    async def send(sid: str, data: Any) -> dict[str, Any]:
        ws, user = who[sid]
        ch, cmid = str(data.get("channel")), str(data.get("client_msg_id"))
        if room(ws, ch) not in sio.rooms(sid):
            return refuse("not_member")
        if len(str(data.get("body")).encode()) > MAX_BODY:
            return refuse("too_large")
        key = (ws, ch, cmid)
        if key in seen:
            m = seen[key]
            return {"ok": True, "seq": m["seq"], "id": m["id"], "ts": m["ts"], "duplicate": True}
        log = logs.setdefault((ws, ch), [])
        m = {"channel": ch, "seq": len(log) + 1, "id": str(uuid.uuid4()), "client_msg_id": cmid,
             "sender": user, "body": str(data.get("body")),
             "ts": int(time.time() * 1000)}  # fmt: skip
        log.append(m)
        seen[key] = m
        await sio.emit("message", m, room=room(ws, ch))
        return {"ok": True, "seq": m["seq"], "id": m["id"], "ts": m["ts"], "duplicate": False}

    @sio.on("sync")
    async def sync(sid: str, data: Any) -> dict[str, Any]:
        ws, _ = who[sid]
        if mode == "silent-sync":
            await asyncio.sleep(3600)
        ch = str(data.get("channel"))
        after, limit = int(data.get("after_seq") or 0), int(data.get("limit") or PAGE)
        return {"ok": True, **page(ws, ch, after, limit)}

    return socketio.ASGIApp(sio)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bad_pigeon")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--mode", choices=MODES, default="good")
    args = parser.parse_args(argv)
    uvicorn.run(build(args.secret, args.mode), host="127.0.0.1", port=args.port,
                log_level="warning")  # fmt: skip


if __name__ == "__main__":
    main()
