"""The shapes of voice acks and pushes (docs/protocol.md "Voice rooms, v1") from script replies.

Socket.IO rooms of the extension (node-local groups of sockets, joined through the adapter):
``vr:<ws>:<room>`` every live session of a room (roster, floor and speaking pushes),
``vs:<ws>:<room>:<member>:<inc>`` one session (its signals, its kick), and
``vm:<ws>:<room>:<member>`` every socket of a member (used only by the
``voice-no-session-check`` flaw).
"""

from __future__ import annotations

import time
from typing import Any

from reference_backend.voice.store import as_list


def room_group(ws: str, room: str) -> str:
    return f"vr:{ws}:{room}"


def session_group(ws: str, room: str, member: str, inc: int) -> str:
    return f"vs:{ws}:{room}:{member}:{inc}"


def member_group(ws: str, room: str, member: str) -> str:
    return f"vm:{ws}:{room}:{member}"


def now_ms() -> int:
    return int(time.time() * 1000)


def members_of(raw: Any) -> list[dict[str, Any]]:
    """Script members ``[member, inc, role, node]`` as ``{member, inc, role, node}``."""
    return [
        {"member": m[0], "inc": m[1], "role": m[2], "node": m[3]}
        for m in as_list(raw)
        if isinstance(m, list) and len(m) == 4
    ]


def floor_of(raw: Any) -> dict[str, Any]:
    """The floor as acks and pushes carry it: state, holder, holder_inc, token, deadline, queue."""
    f = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {
        "state": f.get("state", "idle"),
        "holder": f.get("holder"),
        "holder_inc": f.get("hinc"),
        "token": f.get("token"),
        "deadline": f.get("deadline"),
        "queue": [q[0] for q in as_list(f.get("queue")) if isinstance(q, list) and q],
    }
    return out


def signal_of(room: str, s: dict[str, Any]) -> dict[str, Any]:
    """A stored signal (script reply) as the ``vsignal`` push spells it."""
    return {
        "room": room,
        "from": s.get("from"),
        "from_inc": s.get("from_inc"),
        "to": s.get("to"),
        "to_inc": s.get("to_inc"),
        "sig_id": s.get("sig_id"),
        "pc": s.get("pc"),
        "neg": s.get("neg"),
        "kind": s.get("kind"),
        "payload": s.get("payload", ""),
        "mseq": s.get("mseq"),
        "ts": s.get("ts"),
    }


def push_of(room: str, event: dict[str, Any], versioned: bool = True) -> tuple[str, dict[str, Any]]:
    """(event name, payload) of one script event: ``vroster`` or ``vfloor``."""
    ts = now_ms()
    if event.get("type") == "roster":
        m = as_list(event.get("member"))
        body: dict[str, Any] = {
            "room": room,
            "ver": event.get("ver"),
            "op": event.get("op"),
            "member": {"member": m[0], "inc": m[1], "role": m[2], "node": m[3]}
            if len(m) == 4
            else None,
            "ts": ts,
        }
        if event.get("replaced") is not None:
            body["replaced"] = event["replaced"]
        name = "vroster"
    else:
        body = {"room": room, "ver": event.get("ver"), **floor_of(event), "ts": ts}
        body["reason"] = event.get("reason")
        prev = event.get("prev")
        if isinstance(prev, dict):
            body["prev"] = {
                "holder": prev.get("holder"),
                "holder_inc": prev.get("hinc"),
                "token": prev.get("token"),
                "why": prev.get("why"),
            }
        name = "vfloor"
    if not versioned:
        body.pop("ver", None)
    return name, body


__all__ = [
    "floor_of",
    "member_group",
    "members_of",
    "now_ms",
    "push_of",
    "room_group",
    "session_group",
    "signal_of",
]
