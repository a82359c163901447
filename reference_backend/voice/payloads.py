"""Voice payload validation: every voice event is checked here before it touches Redis.

The chat rules hold (one object argument, small scalar extras tolerated, anything else
``bad_request``); room names follow the channel rule, member ids the token ``sub`` rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reference_backend.errors import ProtoError, bad_request
from reference_backend.validation import _check_extras, payload_of

ROOM_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MEMBER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
ROLES = ("speaker", "listener", "chair")
SIGNAL_KINDS = ("offer", "answer", "candidate", "eoc", "bye")
MAX_PAYLOAD = 16 * 1024  # an SDP with many codecs fits; a candidate is ~200 bytes
MAX_INT = 2**53 - 1


@dataclass(frozen=True, slots=True)
class JoinReq:
    room: str
    role: str
    resume_inc: int  # 0: a fresh join
    after_mseq: int


@dataclass(frozen=True, slots=True)
class SignalReq:
    room: str
    to: str
    to_inc: int
    sig_id: str
    pc: str
    neg: int
    kind: str
    payload: str


@dataclass(frozen=True, slots=True)
class SyncReq:
    room: str
    after_mseq: int


@dataclass(frozen=True, slots=True)
class FloorReq:
    """floor_req / floor_cancel (``req_id``), floor_rel / speaking (``token``), floor_grant
    (``member``); ``on`` for speaking."""

    room: str
    req_id: str = ""
    token: int = 0
    member: str = ""
    on: bool = False


def room_of(p: dict[str, Any]) -> str:
    room = p.get("room")
    if type(room) is not str or not ROOM_RE.fullmatch(room):
        raise bad_request("room must match ^[a-z0-9][a-z0-9_-]{0,63}$")
    return room


def _int(p: dict[str, Any], name: str, *, required: bool, low: int = 0) -> int:
    value = p.get(name)
    if value is None and not required:
        return 0
    if type(value) is not int or not low <= value <= MAX_INT:
        raise bad_request(f"{name} must be an integer in {low}..2^53-1")
    return value


def _id(p: dict[str, Any], name: str, pattern: re.Pattern[str] = ID_RE) -> str:
    value = p.get(name)
    if type(value) is not str or not pattern.fullmatch(value):
        raise bad_request(f"{name} must be 1..64 characters of [A-Za-z0-9_.:-]")
    return value


def _parse(args: tuple[Any, ...], known: frozenset[str]) -> dict[str, Any]:
    p = payload_of(args)
    _check_extras(p, known)
    return p


_JOIN = frozenset({"room", "role", "resume"})
_ROOM = frozenset({"room"})
_SIGNAL = frozenset({"room", "to", "to_inc", "sig_id", "pc", "neg", "kind", "payload", "from"})
_SYNC = frozenset({"room", "after_mseq"})
_REQ = frozenset({"room", "req_id"})
_TOKEN = frozenset({"room", "token"})
_GRANT = frozenset({"room", "member"})
_SPEAK = frozenset({"room", "token", "on"})


def parse_join(args: tuple[Any, ...]) -> JoinReq:
    p = _parse(args, _JOIN)
    role = p.get("role", "speaker")
    if role not in ROLES:
        raise bad_request(f"role must be one of {', '.join(ROLES)}")
    resume = p.get("resume")
    if resume is None:
        return JoinReq(room_of(p), role, 0, 0)
    if type(resume) is not dict or set(resume) - {"inc", "after_mseq"}:
        raise bad_request("resume must be {inc, after_mseq}")
    return JoinReq(
        room_of(p),
        role,
        _int(resume, "inc", required=True, low=1),
        _int(resume, "after_mseq", required=False),
    )


def parse_room(args: tuple[Any, ...]) -> str:
    return room_of(_parse(args, _ROOM))


def parse_signal(args: tuple[Any, ...]) -> SignalReq:
    p = _parse(args, _SIGNAL)
    kind = p.get("kind")
    if kind not in SIGNAL_KINDS:
        raise bad_request(f"kind must be one of {', '.join(SIGNAL_KINDS)}")
    payload = p.get("payload", "")
    if type(payload) is not str:
        raise bad_request("payload must be a string (an SDP or a candidate line)")
    if len(payload) > MAX_PAYLOAD:
        raise ProtoError("too_large", f"payload over {MAX_PAYLOAD} characters")
    return SignalReq(
        room_of(p),
        _id(p, "to", MEMBER_RE),
        _int(p, "to_inc", required=True, low=1),
        _id(p, "sig_id"),
        _pc(p),
        _int(p, "neg", required=True),
        str(kind),
        payload,
    )


def _pc(p: dict[str, Any]) -> str:
    value = p.get("pc")
    if type(value) is not str or not 1 <= len(value) <= 200 or not value.isascii():
        raise bad_request("pc must be an ASCII string of 1..200 characters")
    return value


def parse_sync(args: tuple[Any, ...]) -> SyncReq:
    p = _parse(args, _SYNC)
    return SyncReq(room_of(p), _int(p, "after_mseq", required=False))


def parse_req(args: tuple[Any, ...]) -> FloorReq:
    p = _parse(args, _REQ)
    return FloorReq(room_of(p), req_id=_id(p, "req_id"))


def parse_token(args: tuple[Any, ...]) -> FloorReq:
    p = _parse(args, _TOKEN)
    return FloorReq(room_of(p), token=_int(p, "token", required=True, low=1))


def parse_grant(args: tuple[Any, ...]) -> FloorReq:
    p = _parse(args, _GRANT)
    return FloorReq(room_of(p), member=_id(p, "member", MEMBER_RE))


def parse_speaking(args: tuple[Any, ...]) -> FloorReq:
    p = _parse(args, _SPEAK)
    on = p.get("on")
    if type(on) is not bool:
        raise bad_request("on must be true or false")
    return FloorReq(room_of(p), token=_int(p, "token", required=True, low=1), on=on)


__all__ = [
    "ROLES",
    "ROOM_RE",
    "SIGNAL_KINDS",
    "FloorReq",
    "JoinReq",
    "SignalReq",
    "SyncReq",
    "parse_grant",
    "parse_join",
    "parse_req",
    "parse_room",
    "parse_signal",
    "parse_speaking",
    "parse_sync",
    "parse_token",
]
