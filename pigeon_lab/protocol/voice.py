"""Voice rooms, v1 (docs/protocol.md) as one codec: event names, payloads, acks, pushes.

The voice members, the read-back and the tests speak through it, in the style of
``codec.py``: canonical payload builders, typed acks, typed pushes. Decoding never
raises: a malformed ack is ``ok=False`` with ``bad_request``, a malformed push is None.
"""

from __future__ import annotations

from typing import Any

from pigeon_lab.protocol.codec import MALFORMED, AckError, error_of
from pigeon_lab.protocol.voice_types import (
    FloorAck,
    FloorPush,
    FloorState,
    JoinAck,
    KickPush,
    Member,
    RosterPush,
    Signal,
    SignalAck,
    Snapshot,
    SpeakingPush,
    SyncAck,
)

VERSION = "voice/1"
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
PUSHES = ("vroster", "vfloor", "vsignal", "vspeaking", "vkicked")
SIGNAL_KINDS = ("offer", "answer", "candidate", "eoc", "bye")
VOICE_ERRORS = ("no_such_member", "gone", "stale_token", "superseded", "floor_denied")
"""Error codes voice adds to protocol.md's (all definite: the operation was not done)."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ----- canonical payloads -----
def join_payload(room: str, role: str, resume: tuple[int, int] | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"room": room, "role": role}
    if resume is not None:
        p["resume"] = {"inc": resume[0], "after_mseq": resume[1]}
    return p


def signal_payload(
    room: str, to: str, to_inc: int, sig_id: str, pc: str, neg: int, kind: str, payload: str
) -> dict[str, Any]:
    return {
        "room": room,
        "to": to,
        "to_inc": to_inc,
        "sig_id": sig_id,
        "pc": pc,
        "neg": neg,
        "kind": kind,
        "payload": payload,
    }


# ----- decoding -----
def member_of(raw: Any) -> Member | None:
    if not isinstance(raw, dict):
        return None
    m, inc = _str(raw.get("member")), _int(raw.get("inc"))
    if m is None or inc is None:
        return None
    return Member(m, inc, _str(raw.get("role")) or "speaker", _str(raw.get("node")))


def floor_of(raw: Any) -> FloorState:
    f = raw if isinstance(raw, dict) else {}
    queue = f.get("queue")
    return FloorState(
        _str(f.get("state")) or "idle",
        _str(f.get("holder")),
        _int(f.get("holder_inc")),
        _int(f.get("token")),
        _int(f.get("deadline")),
        tuple(q for q in queue if isinstance(q, str)) if isinstance(queue, list) else (),
    )


def snapshot_of(raw: dict[str, Any]) -> Snapshot:
    members = raw.get("members")
    found = [member_of(m) for m in members] if isinstance(members, list) else []
    return Snapshot(
        _int(raw.get("ver")), tuple(m for m in found if m is not None), floor_of(raw.get("floor"))
    )


def signal_of(raw: Any) -> Signal | None:
    if not isinstance(raw, dict):
        return None
    sender, to, sig_id = _str(raw.get("from")), _str(raw.get("to")), _str(raw.get("sig_id"))
    sender_inc, to_inc, mseq = (
        _int(raw.get("from_inc")),
        _int(raw.get("to_inc")),
        _int(raw.get("mseq")),
    )
    neg, kind, room = _int(raw.get("neg")), _str(raw.get("kind")), _str(raw.get("room"))
    if (
        sender is None
        or to is None
        or sig_id is None
        or sender_inc is None
        or to_inc is None
        or mseq is None
        or neg is None
        or kind is None
        or room is None
    ):
        return None
    pc, payload = _str(raw.get("pc")) or "", _str(raw.get("payload")) or ""
    return Signal(
        room,
        sender,
        sender_inc,
        to,
        to_inc,
        sig_id,
        pc,
        neg,
        kind,
        payload,
        mseq,
        _int(raw.get("ts")),
    )


def _signals(raw: Any) -> tuple[Signal, ...]:
    found = [signal_of(s) for s in raw] if isinstance(raw, list) else []
    return tuple(s for s in found if s is not None)


def decode_join(raw: Any) -> JoinAck:
    if not isinstance(raw, dict):
        return JoinAck(False, MALFORMED)
    if not raw.get("ok"):
        return JoinAck(False, error_of(raw))
    inc = _int(raw.get("inc"))
    if inc is None:
        return JoinAck(False, MALFORMED)
    lease, talk, reap = raw.get("lease_s"), raw.get("max_talk_s"), raw.get("reap_s")
    return JoinAck(
        True,
        None,
        inc,
        bool(raw.get("resumed")),
        _str(raw.get("role")) or "speaker",
        snapshot_of(raw),
        _signals(raw.get("signals")),
        bool(raw.get("more")),
        _int(raw.get("mseq")) or 0,
        float(lease) if isinstance(lease, (int, float)) else None,
        float(talk) if isinstance(talk, (int, float)) else None,
        _str(raw.get("node")),
        float(reap) if isinstance(reap, (int, float)) else None,
    )


def decode_sync(raw: Any) -> SyncAck:
    if not isinstance(raw, dict):
        return SyncAck(False, MALFORMED)
    if not raw.get("ok"):
        return SyncAck(False, error_of(raw))
    return SyncAck(
        True,
        None,
        snapshot_of(raw),
        _signals(raw.get("signals")),
        bool(raw.get("more")),
        _int(raw.get("mseq")) or 0,
    )


def decode_signal_ack(raw: Any) -> SignalAck:
    if not isinstance(raw, dict):
        return SignalAck(False, MALFORMED)
    if not raw.get("ok"):
        return SignalAck(False, error_of(raw))
    mseq = _int(raw.get("mseq"))
    if mseq is None:
        return SignalAck(False, MALFORMED)
    return SignalAck(True, None, mseq, bool(raw.get("duplicate")))


def decode_floor(raw: Any) -> FloorAck:
    if not isinstance(raw, dict):
        return FloorAck(False, MALFORMED)
    if not raw.get("ok"):
        return FloorAck(False, error_of(raw))
    done = bool(raw.get("cancelled") or raw.get("revoked"))
    return FloorAck(
        True,
        None,
        _str(raw.get("status")),
        _int(raw.get("token")),
        _int(raw.get("pos")),
        done,
        _int(raw.get("ver")),
    )


def decode_roster(raw: Any) -> RosterPush | None:
    if not isinstance(raw, dict):
        return None
    member, room, op = member_of(raw.get("member")), _str(raw.get("room")), _str(raw.get("op"))
    if member is None or room is None or op is None:
        return None
    return RosterPush(
        room, _int(raw.get("ver")), op, member, _int(raw.get("replaced")), _int(raw.get("ts"))
    )


def decode_floor_push(raw: Any) -> FloorPush | None:
    if not isinstance(raw, dict) or _str(raw.get("room")) is None:
        return None
    got = raw.get("prev")
    prev: dict[str, Any] = got if isinstance(got, dict) else {}
    return FloorPush(
        str(raw["room"]),
        _int(raw.get("ver")),
        floor_of(raw),
        _str(raw.get("reason")) or "",
        _str(prev.get("holder")),
        _int(prev.get("holder_inc")),
        _int(prev.get("token")),
        _str(prev.get("why")),
        _int(raw.get("ts")),
    )


def decode_speaking(raw: Any) -> SpeakingPush | None:
    if not isinstance(raw, dict):
        return None
    room, member = _str(raw.get("room")), _str(raw.get("member"))
    inc, token = _int(raw.get("inc")), _int(raw.get("token"))
    if room is None or member is None or inc is None or token is None:
        return None
    return SpeakingPush(room, member, inc, token, bool(raw.get("on")), _int(raw.get("ts")))


def decode_kick(raw: Any) -> KickPush | None:
    if not isinstance(raw, dict):
        return None
    room, inc = _str(raw.get("room")), _int(raw.get("inc"))
    if room is None or inc is None:
        return None
    return KickPush(room, inc, _str(raw.get("reason")) or "")


__all__ = [
    "EVENTS",
    "PUSHES",
    "SIGNAL_KINDS",
    "VERSION",
    "VOICE_ERRORS",
    "AckError",
    "FloorAck",
    "FloorPush",
    "FloorState",
    "JoinAck",
    "KickPush",
    "Member",
    "RosterPush",
    "Signal",
    "SignalAck",
    "Snapshot",
    "SpeakingPush",
    "SyncAck",
    "decode_floor",
    "decode_floor_push",
    "decode_join",
    "decode_kick",
    "decode_roster",
    "decode_signal_ack",
    "decode_speaking",
    "decode_sync",
    "join_payload",
    "signal_payload",
]
