"""A ``Codec`` made from a target profile: the profile's events, payloads, acks, pushes.

Everything is compiled once (``ProfileCodec(profile)``). The identity profile gets the
fast ``PIGEON`` codec instead (``codec_for``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pigeon_lab.protocol.codec import (
    MALFORMED,
    PIGEON,
    AckError,
    Codec,
    JoinAck,
    LeaveAck,
    Message,
    Op,
    SendAck,
    SyncAck,
)
from pigeon_lab.protocol.profile import ACK_FIELDS, Profile
from pigeon_lab.protocol.templates import compile_getter, compile_template

Getter = Callable[[Any], Any]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


class ProfileCodec:
    """The codec of a target described by ``profile``."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.name = profile.name
        self.namespace = profile.namespace
        self.socketio_path = profile.path
        self.message_event = profile.event("message")
        self._events = {op: profile.event(op) for op in ACK_FIELDS}
        self._payloads = {op: compile_template(t) for op, t in profile.payloads.items()}
        self._auth = compile_template(profile.auth)
        self._acks: dict[str, dict[str, Getter]] = {
            op: {f: compile_getter(spec, "ack") for f, spec in profile.ack_spec(op).items()}
            for op in ACK_FIELDS
        }
        self._message = {k: compile_getter(s, "msg") for k, s in profile.message_spec().items()}

    def event(self, op: Op) -> str:
        return self._events[op]

    def encode(self, op: Op, payload: Message) -> Any:
        template = self._payloads.get(op)
        if template is None:
            return payload
        ctx = {"after_seq": None, "limit": None, **payload}
        return template(ctx)

    def auth(self, token: str) -> dict[str, Any]:
        out = self._auth({"token": token})
        return out if isinstance(out, dict) else {"token": token}

    # ----- acks -----
    def _fields(self, op: str, raw: Any) -> dict[str, Any]:
        return {f: get(raw) for f, get in self._acks[op].items()}

    def _refusal(self, f: dict[str, Any]) -> AckError:
        return AckError(_str(f.get("error_code")) or "unknown", _str(f.get("error_message")) or "")

    def _messages(self, value: Any) -> list[Message]:
        if not isinstance(value, list):
            return []
        out = []
        for raw in value:
            m = self.decode_push(raw)
            if m is not None:
                out.append(m)
        return out

    def decode_join(self, raw: Any) -> JoinAck:
        if raw is None:
            return JoinAck(False, MALFORMED)
        f = self._fields("join", raw)
        if not f["ok"]:
            return JoinAck(False, self._refusal(f))
        return JoinAck(
            True,
            None,
            _int(f["head_seq"]) or 0,
            self._messages(f["messages"]),
            bool(f["more"]),
            bool(f["truncated"]),
            _str(f["node"]),
            _str(f["channel"]),
        )

    def decode_sync(self, raw: Any) -> SyncAck:
        if raw is None:
            return SyncAck(False, MALFORMED)
        f = self._fields("sync", raw)
        if not f["ok"]:
            return SyncAck(False, self._refusal(f))
        return SyncAck(
            True,
            None,
            _int(f["head_seq"]),
            self._messages(f["messages"]),
            bool(f["more"]),
            bool(f["truncated"]),
        )

    def decode_send(self, raw: Any) -> SendAck:
        if raw is None:
            return SendAck(False, MALFORMED)
        f = self._fields("send", raw)
        if not f["ok"]:
            return SendAck(False, self._refusal(f))
        return SendAck(
            True, None, _int(f["seq"]), _str(f["id"]), _int(f["ts"]), bool(f["duplicate"])
        )

    def decode_leave(self, raw: Any) -> LeaveAck:
        if raw is None:
            return LeaveAck(False, MALFORMED)
        f = self._fields("leave", raw)
        return LeaveAck(True) if f["ok"] else LeaveAck(False, self._refusal(f))

    def decode_push(self, raw: Any) -> Message | None:
        if not isinstance(raw, dict):
            return None
        m: Message = {k: get(raw) for k, get in self._message.items()}
        seq = _int(m.get("seq"))
        m["seq"] = seq
        for key in ("id", "client_msg_id", "sender", "channel"):
            m[key] = _str(m.get(key))
        m["ts"] = _int(m.get("ts"))
        if not isinstance(m.get("body"), str):
            m["body"] = _str(m.get("body"))
        return m


def codec_for(profile: Profile | None) -> Codec:
    """The codec for a target: ``PIGEON`` for protocol.md as is, else a ProfileCodec."""
    if profile is None or profile.is_identity:
        return PIGEON
    return ProfileCodec(profile)


__all__ = ["ProfileCodec", "codec_for"]
