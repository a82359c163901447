"""How a voice member records what the server sent it: one history row per push.

Pure recording (``pigeon_lab.history.voice`` says what each row holds); the session decides
what to do with the push. Load process only.
"""

from __future__ import annotations

import time
from typing import Any

from pigeon_lab.history.recorder import body_hash
from pigeon_lab.history.voice import VoiceKind as K
from pigeon_lab.load.voice_link import Link
from pigeon_lab.protocol import voice as vc


def _wall_ms() -> float:
    return time.time_ns() / 1e6


def floor_detail(f: vc.FloorState) -> dict[str, Any]:
    return {
        "state": f.state,
        "holder": f.holder,
        "hinc": f.holder_inc,
        "token": f.token,
        "queue": list(f.queue),
    }


def record_push(link: Link, event: str, raw: Any) -> Any:
    """Record a push as its row and return it decoded (None when malformed)."""
    wall = _wall_ms()
    if event == "vroster":
        p = vc.decode_roster(raw)
        if p is not None:
            link.row(
                K.ROSTER,
                channel=p.room,
                seq=p.ver,
                sent_wall=p.ts,
                latency_ms=wall - p.ts if p.ts else None,
                d={
                    "op": p.op,
                    "m": p.member.member,
                    "minc": p.member.inc,
                    "role": p.member.role,
                    "node": p.member.node,
                    "replaced": p.replaced,
                },
            )
        return p
    if event == "vfloor":
        f = vc.decode_floor_push(raw)
        if f is not None:
            prev = (
                {
                    "holder": f.prev_holder,
                    "hinc": f.prev_inc,
                    "token": f.prev_token,
                    "why": f.prev_why,
                }
                if f.prev_token is not None
                else None
            )
            link.row(
                K.FLOOR,
                channel=f.room,
                seq=f.ver,
                sent_wall=f.ts,
                latency_ms=wall - f.ts if f.ts else None,
                d={**floor_detail(f.floor), "reason": f.reason, "prev": prev},
            )
        return f
    if event == "vsignal":
        s = vc.signal_of(raw)
        if s is not None:
            record_signal(link, K.SIG_RECV, s, "push", wall)
        return s
    if event == "vspeaking":
        sp = vc.decode_speaking(raw)
        if sp is not None:
            link.row(
                K.SPEAKING,
                channel=sp.room,
                seq=sp.token,
                sender=sp.member,
                sent_wall=sp.ts,
                d={"minc": sp.inc, "on": sp.on},
            )
        return sp
    k = vc.decode_kick(raw)
    if k is not None:
        link.row(K.KICKED, channel=k.room, inc=k.inc, d={"reason": k.reason})
    return k


def record_signal(link: Link, kind: K, s: vc.Signal, via: str, wall: float | None = None) -> None:
    link.row(
        kind,
        channel=s.room,
        client_msg_id=s.sig_id,
        seq=s.mseq,
        sender=s.sender,
        body_hash=body_hash(s.payload),
        sent_wall=s.ts,
        latency_ms=(wall - s.ts) if (wall and s.ts and via == "push") else None,
        d={
            "to": s.to,
            "to_inc": s.to_inc,
            "from_inc": s.sender_inc,
            "pc": s.pc,
            "neg": s.neg,
            "k": s.kind,
            "via": via,
        },
    )


__all__ = ["floor_detail", "record_push", "record_signal"]
