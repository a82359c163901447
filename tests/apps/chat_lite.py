"""chat-lite: a small Socket.IO chat app that does NOT speak the Pigeon protocol.

Written for the tests of target profiles: other event names (``enter``, ``post``,
``exit``; pushes are ``posted``), other payload shapes (``{room, text, nonce}``), acks
of the form ``{status: "ok", data: {id}}`` or ``{status: "error", reason}``, a namespace
(``/chat``) and an Engine.IO path (``/rt``) of its own, tokens with ``uid``/``tenant``
claims in ``auth.jwt``, and no sequence numbers and no history: pushes carry an id and
the sender's nonce only. Rooms are per tenant. ``--drop-every N`` makes it lose one push
in N (still acked ``ok``): the variant the set-semantics checks must catch.

    python -m tests.apps.chat_lite --port 8000 --secret S [--drop-every 50]
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import jwt
import socketio
import uvicorn

NAMESPACE = "/chat"


def build(secret: str, drop_every: int = 0) -> Any:
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    ids = itertools.count(1)
    users: dict[str, tuple[str, str]] = {}  # sid -> (tenant, uid)
    posts = itertools.count(1)

    def room(sid: str, name: Any) -> str | None:
        who = users.get(sid)
        if who is None or not isinstance(name, str) or not name:
            return None
        return f"{who[0]}/{name}"

    @sio.on("connect", namespace=NAMESPACE)
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        token = auth.get("jwt") if isinstance(auth, dict) else None
        try:
            claims = jwt.decode(token or "", secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from exc
        users[sid] = (str(claims["tenant"]), str(claims["uid"]))

    @sio.on("disconnect", namespace=NAMESPACE)
    async def disconnect(sid: str, *args: Any) -> None:
        users.pop(sid, None)

    @sio.on("enter", namespace=NAMESPACE)
    async def enter(sid: str, data: Any) -> dict[str, Any]:
        name = room(sid, data.get("room") if isinstance(data, dict) else None)
        if name is None:
            return {"status": "error", "reason": "bad_request"}
        await sio.enter_room(sid, name, namespace=NAMESPACE)
        return {"status": "ok"}

    @sio.on("exit", namespace=NAMESPACE)
    async def leave(sid: str, data: Any) -> dict[str, Any]:
        name = room(sid, data.get("room") if isinstance(data, dict) else None)
        if name is not None:
            await sio.leave_room(sid, name, namespace=NAMESPACE)
        return {"status": "ok"}

    @sio.on("post", namespace=NAMESPACE)
    async def post(sid: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return {"status": "error", "reason": "bad_request"}
        name = room(sid, data.get("room"))
        if name is None or name not in sio.rooms(sid, namespace=NAMESPACE):
            return {"status": "error", "reason": "not_member"}
        msg_id = next(ids)
        message = {
            "room": data["room"],
            "id": msg_id,
            "nonce": data.get("nonce"),
            "from": users[sid][1],
            "text": data["text"],
            "at": int(time.time() * 1000),
        }
        n = next(posts)
        if not (drop_every and n % drop_every == 0):
            await sio.emit("posted", message, room=name, namespace=NAMESPACE)
        return {"status": "ok", "data": {"id": msg_id}}

    return socketio.ASGIApp(sio, socketio_path="rt")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chat_lite")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--drop-every", type=int, default=0)
    args = parser.parse_args(argv)
    app = build(args.secret, args.drop_every)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
