"""Payload validation: every event payload is checked here before it touches Redis.

Anything off (not an object, wrong types, bad names, out-of-range numbers, extra fields that
are large or nested) raises `bad_request`; an oversized body raises `too_large`. Unknown
small scalar fields are ignored so that clients may add harmless fields (e.g. `sender`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reference_backend.errors import ProtoError, bad_request

CHANNEL_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_SEQ = 2**53 - 1  # what a JavaScript client can represent exactly
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_CLIENT_MSG_ID = 64
MAX_FIELDS = 16
MAX_EXTRA_STR = 256


@dataclass(frozen=True, slots=True)
class JoinReq:
    channel: str
    after_seq: int | None
    limit: int


@dataclass(frozen=True, slots=True)
class SyncReq:
    channel: str
    after_seq: int
    limit: int


@dataclass(frozen=True, slots=True)
class SendReq:
    channel: str
    client_msg_id: str
    body: str
    claimed_sender: str | None  # only read by the sender-from-payload flaw


def payload_of(args: tuple[Any, ...]) -> dict[str, Any]:
    """The single object argument of an event, or bad_request."""
    if len(args) != 1:
        raise bad_request(f"expected one payload object, got {len(args)} arguments")
    p = args[0]
    if type(p) is not dict:
        raise bad_request("payload must be an object")
    return p


def _check_extras(p: dict[str, Any], known: frozenset[str]) -> None:
    if len(p) > MAX_FIELDS:
        raise bad_request(f"payload has more than {MAX_FIELDS} fields")
    for key, value in p.items():
        if key in known:
            continue
        if value is None or type(value) in (bool, int, float):
            continue
        if type(value) is str and len(value) <= MAX_EXTRA_STR:
            continue
        raise bad_request(f"unexpected field {key!r} (only small scalars are tolerated)")


def channel_of(p: dict[str, Any]) -> str:
    ch = p.get("channel")
    if type(ch) is not str or not CHANNEL_RE.fullmatch(ch):
        raise bad_request("channel must match ^[a-z0-9][a-z0-9_-]{0,63}$")
    return ch


def _seq(value: Any, name: str) -> int:
    if type(value) is not int or value < 0 or value > MAX_SEQ:
        raise bad_request(f"{name} must be an integer in 0..2^53-1")
    return value


def _limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if type(value) is not int or value < 1 or value > MAX_SEQ:
        raise bad_request(f"limit must be an integer >= 1 (at most {MAX_LIMIT} are returned)")
    return min(value, MAX_LIMIT)


_JOIN = frozenset({"channel", "after_seq", "limit"})
_LEAVE = frozenset({"channel"})
_SYNC = frozenset({"channel", "after_seq", "limit"})
_SEND = frozenset({"channel", "client_msg_id", "body", "sender"})


def parse_join(args: tuple[Any, ...]) -> JoinReq:
    p = payload_of(args)
    _check_extras(p, _JOIN)
    after = p.get("after_seq")
    return JoinReq(
        channel_of(p), None if after is None else _seq(after, "after_seq"), _limit(p.get("limit"))
    )


def parse_leave(args: tuple[Any, ...]) -> str:
    p = payload_of(args)
    _check_extras(p, _LEAVE)
    return channel_of(p)


def parse_sync(args: tuple[Any, ...]) -> SyncReq:
    p = payload_of(args)
    _check_extras(p, _SYNC)
    if "after_seq" not in p:
        raise bad_request("after_seq is required")
    return SyncReq(channel_of(p), _seq(p["after_seq"], "after_seq"), _limit(p.get("limit")))


def parse_send(args: tuple[Any, ...], max_body: int) -> SendReq:
    p = payload_of(args)
    _check_extras(p, _SEND)
    channel = channel_of(p)
    cmid = p.get("client_msg_id")
    if type(cmid) is not str or not 1 <= len(cmid) <= MAX_CLIENT_MSG_ID:
        raise bad_request(f"client_msg_id must be a string of 1..{MAX_CLIENT_MSG_ID} chars")
    body = p.get("body")
    if type(body) is not str:
        raise bad_request("body must be a string")
    if not cmid.isascii():
        try:
            cmid.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request("client_msg_id is not valid Unicode text") from None
    if len(body) > max_body:  # a char is at least one UTF-8 byte: no need to encode
        raise ProtoError("too_large", f"body over {max_body} bytes")
    try:
        size = len(body.encode("utf-8"))  # ~100 ns for a chat-sized body
    except UnicodeEncodeError:
        raise bad_request("body is not valid Unicode text (lone surrogate)") from None
    if size > max_body:
        raise ProtoError("too_large", f"body over {max_body} bytes")
    sender = p.get("sender")
    claimed = sender if type(sender) is str and sender.isascii() else None
    return SendReq(channel, cmid, body, claimed)
