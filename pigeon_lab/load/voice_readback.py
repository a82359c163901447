"""The voice read-back: every room's final roster and floor, once everyone has left.

Plain python-socketio sync client (threads, no gevent): safe in the parent process. One
connection per workspace; per room a ``vjoin`` as a listener (the observer sees the room at
that version: everyone but itself), then ``vleave``. Written as ``voice_rooms.parquet``
(``VOICE_ROOMS_SCHEMA``): one row per room, with the members still listed, the floor holder
and token, and whether the room could be read. It never hangs: an ack timeout per call and a
deadline for the whole read; a room that could not be read says so (``complete`` false) and
the checkers that need it say ``unknown``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import socketio

from pigeon_lab.protocol import voice as vc
from pigeon_lab.workloads.base import ReadbackRequest
from pigeon_lab.workloads.voice import VoiceSettings

VOICE_ROOMS_FILE = "voice_rooms.parquet"
OBSERVER = "pigeon-voice-readback"
VOICE_ROOMS_SCHEMA = pa.schema(
    [
        pa.field("workspace", pa.string(), nullable=False),
        pa.field("room", pa.string(), nullable=False),
        pa.field("ver", pa.int64()),
        pa.field("members", pa.string()),  # "v1:3,v4:1": who is still listed, with inc
        pa.field("holder", pa.string()),
        pa.field("holder_inc", pa.int64()),
        pa.field("token", pa.int64()),
        pa.field("queue", pa.string()),
        pa.field("complete", pa.bool_(), nullable=False),
        pa.field("error", pa.string()),
    ]
)


def _room(sio: socketio.Client, ws: str, room: str, timeout: float) -> dict[str, Any]:
    row: dict[str, Any] = {"workspace": ws, "room": room, "complete": False}
    try:
        raw = sio.call("vjoin", vc.join_payload(room, "listener"), timeout=timeout)
    except socketio.exceptions.SocketIOError as exc:
        return {**row, "error": f"vjoin: {exc}"[:200]}
    ack = vc.decode_join(raw)
    if not ack.ok:
        return {**row, "error": f"vjoin: {ack.error.code if ack.error else '?'}"}
    snap = ack.snapshot
    others = [m for m in snap.members if m.member != OBSERVER]
    with contextlib.suppress(socketio.exceptions.SocketIOError):  # read; leaving changes nothing
        sio.call("vleave", {"room": room}, timeout=timeout)
    f = snap.floor
    return {
        **row,
        "ver": snap.ver,
        "members": ",".join(f"{m.member}:{m.inc}" for m in others),
        "holder": f.holder,
        "holder_inc": f.holder_inc,
        "token": f.token,
        "queue": ",".join(f.queue),
        "complete": True,
        "error": None,
    }


def read_rooms(
    url: str,
    token: Any,
    rooms: list[tuple[str, str]],
    *,
    timeout_s: float = 10.0,
    deadline_s: float = 60.0,
) -> pa.Table:
    """Every (workspace, room)'s final state (VOICE_ROOMS_SCHEMA)."""
    deadline = time.monotonic() + deadline_s
    out: list[dict[str, Any]] = []
    by_ws: dict[str, list[str]] = {}
    for ws, room in rooms:
        by_ws.setdefault(ws, []).append(room)
    for ws, names in sorted(by_ws.items()):
        sio = socketio.Client(reconnection=False)
        try:
            sio.connect(
                url,
                auth={"token": token(ws, OBSERVER)},
                transports=["websocket"],
                wait_timeout=timeout_s,
            )
        except (socketio.exceptions.ConnectionError, ValueError) as exc:
            err = f"connect: {exc}"[:200]
            out += [{"workspace": ws, "room": r, "complete": False, "error": err} for r in names]
            continue
        try:
            for room in names:
                left = deadline - time.monotonic()
                if left <= 0:
                    out.append(
                        {
                            "workspace": ws,
                            "room": room,
                            "complete": False,
                            "error": "read-back deadline passed",
                        }
                    )
                    continue
                out.append(_room(sio, ws, room, min(timeout_s, left)))
        finally:
            sio.disconnect()
    return pa.Table.from_pylist(out, schema=VOICE_ROOMS_SCHEMA)


def read_back_voice(request: ReadbackRequest) -> Mapping[str, pa.Table]:
    """The voice workload's read-back (``WorkloadKind.read_back``)."""
    settings = request.settings
    rooms = settings.rooms() if isinstance(settings, VoiceSettings) else []
    table = read_rooms(request.url, request.token, rooms, deadline_s=request.deadline_s)
    return {VOICE_ROOMS_FILE: table}


__all__ = ["OBSERVER", "VOICE_ROOMS_FILE", "VOICE_ROOMS_SCHEMA", "read_back_voice", "read_rooms"]
