"""The Pigeon protocol as one object: event names, payloads, acks and pushes.

Every client of pigeon-lab (the load users, the adversary, the read-back, the
preflight) speaks to a target through a ``Codec``. The client algorithm works in
*canonical* terms: the operations of protocol.md (``join``, ``leave``, ``send``,
``sync``), their payloads as protocol.md spells them (built by the ``*_payload``
functions here), typed acks (``JoinAck``, ``SyncAck``, ``SendAck``, ``LeaveAck``) and
push messages as dicts with protocol.md's keys (``channel, seq, id, client_msg_id,
sender, body, ts``). A codec maps those onto the wire: ``PigeonCodec`` is the
identity; a target profile (another team's event names and shapes) is another codec.

Decoding never raises: a malformed ack is ``ok=False`` with ``bad_request`` (the
operation surely was not done as asked), a malformed push is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Op = Literal["join", "leave", "send", "sync"]
OPS: tuple[Op, ...] = ("join", "leave", "send", "sync")
"""The client-to-server operations of protocol.md."""

Message = dict[str, Any]
"""A message as protocol.md's ``message`` push spells it."""

MESSAGE_KEYS: tuple[str, ...] = ("channel", "seq", "id", "client_msg_id", "sender", "body", "ts")


@dataclass(frozen=True, slots=True)
class AckError:
    """The ``error`` of a refused operation."""

    code: str
    message: str = ""


MALFORMED = AckError("bad_request", "malformed ack")


@dataclass(frozen=True, slots=True)
class JoinAck:
    ok: bool
    error: AckError | None = None
    head_seq: int = 0
    messages: list[Message] = field(default_factory=list)
    more: bool = False
    truncated: bool = False
    node: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class SyncAck:
    ok: bool
    error: AckError | None = None
    head_seq: int | None = None
    messages: list[Message] = field(default_factory=list)
    more: bool = False
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class SendAck:
    ok: bool
    error: AckError | None = None
    seq: int | None = None
    msg_id: str | None = None
    ts: int | None = None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class LeaveAck:
    ok: bool
    error: AckError | None = None


Ack = JoinAck | SyncAck | SendAck | LeaveAck


# ----- canonical payloads (protocol.md) -----
def join_payload(channel: str, after_seq: int | None = None, limit: int | None = None) -> Message:
    p: Message = {"channel": channel}
    if after_seq is not None:
        p["after_seq"] = after_seq
    if limit is not None:
        p["limit"] = limit
    return p


def sync_payload(channel: str, after_seq: int, limit: int | None = None) -> Message:
    p: Message = {"channel": channel, "after_seq": after_seq}
    if limit is not None:
        p["limit"] = limit
    return p


def send_payload(channel: str, client_msg_id: str, body: str) -> Message:
    return {"channel": channel, "client_msg_id": client_msg_id, "body": body}


def leave_payload(channel: str) -> Message:
    return {"channel": channel}


def error_of(raw: Any) -> AckError:
    """The ``error`` of a refusal ack (``{ok: false, error: {code, message}}``)."""
    err = raw.get("error") if isinstance(raw, dict) else None
    if isinstance(err, dict):
        return AckError(str(err.get("code") or "unknown"), str(err.get("message") or ""))
    return AckError("unknown", "")


def refusal_code(data: Any) -> str:
    """The code of a ``connect_error`` payload (``{data: {code}}`` or ``{code}``), else its text."""
    if isinstance(data, dict):
        inner = data.get("data")
        if isinstance(inner, dict) and inner.get("code"):
            return str(inner["code"])
        if data.get("code"):
            return str(data["code"])
        return str(data.get("message") or data)[:200]
    return str(data)[:200]


class Codec(Protocol):
    """How a client speaks to one kind of target (see the module docstring)."""

    name: str
    namespace: str
    socketio_path: str
    message_event: str

    def event(self, op: Op) -> str:
        """The wire event name of an operation."""
        ...

    def encode(self, op: Op, payload: Message) -> Any:
        """The wire payload of a canonical one."""
        ...

    def auth(self, token: str) -> dict[str, Any]:
        """The Socket.IO CONNECT ``auth`` object carrying a token."""
        ...

    def decode_join(self, raw: Any) -> JoinAck: ...
    def decode_sync(self, raw: Any) -> SyncAck: ...
    def decode_send(self, raw: Any) -> SendAck: ...
    def decode_leave(self, raw: Any) -> LeaveAck: ...

    def decode_push(self, raw: Any) -> Message | None:
        """A canonical message from a push, or None when it is not one."""
        ...


def connect_options(codec: Codec) -> dict[str, Any]:
    """``socketio.Client.connect`` keyword arguments for the codec's namespace and path."""
    return {"namespaces": [codec.namespace], "socketio_path": codec.socketio_path}


def namespace_of(codec: Codec) -> str | None:
    """The namespace to pass to ``on``/``emit``/``call`` (None: the default ``/``)."""
    return None if codec.namespace == "/" else codec.namespace


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _messages(raw: Any) -> list[Message]:
    return [m for m in raw if isinstance(m, dict)] if isinstance(raw, list) else []


class PigeonCodec:
    """protocol.md as is: the identity mapping."""

    name = "pigeon"
    namespace = "/"
    socketio_path = "socket.io"
    message_event = "message"

    def event(self, op: Op) -> str:
        return op

    def encode(self, op: Op, payload: Message) -> Any:
        return payload

    def auth(self, token: str) -> dict[str, Any]:
        return {"token": token}

    def decode_join(self, raw: Any) -> JoinAck:
        if not isinstance(raw, dict):
            return JoinAck(False, MALFORMED)
        if not raw.get("ok"):
            return JoinAck(False, error_of(raw))
        node = raw.get("node")
        channel = raw.get("channel")
        return JoinAck(
            True,
            None,
            _int(raw.get("head_seq")) or 0,
            _messages(raw.get("messages")),
            bool(raw.get("more")),
            bool(raw.get("truncated")),
            node if isinstance(node, str) else None,
            channel if isinstance(channel, str) else None,
        )

    def decode_sync(self, raw: Any) -> SyncAck:
        if not isinstance(raw, dict):
            return SyncAck(False, MALFORMED)
        if not raw.get("ok"):
            return SyncAck(False, error_of(raw))
        return SyncAck(
            True,
            None,
            _int(raw.get("head_seq")),
            _messages(raw.get("messages")),
            bool(raw.get("more")),
            bool(raw.get("truncated")),
        )

    def decode_send(self, raw: Any) -> SendAck:
        if not isinstance(raw, dict):
            return SendAck(False, MALFORMED)
        if not raw.get("ok"):
            return SendAck(False, error_of(raw))
        msg_id = raw.get("id")
        return SendAck(
            True,
            None,
            _int(raw.get("seq")),
            msg_id if isinstance(msg_id, str) else None,
            _int(raw.get("ts")),
            bool(raw.get("duplicate")),
        )

    def decode_leave(self, raw: Any) -> LeaveAck:
        if not isinstance(raw, dict):
            return LeaveAck(False, MALFORMED)
        return LeaveAck(True) if raw.get("ok") else LeaveAck(False, error_of(raw))

    def decode_push(self, raw: Any) -> Message | None:
        return raw if isinstance(raw, dict) else None


PIGEON = PigeonCodec()
"""The codec of the reference backend and of any target that speaks protocol.md."""

__all__ = [
    "MALFORMED",
    "MESSAGE_KEYS",
    "OPS",
    "PIGEON",
    "Ack",
    "AckError",
    "Codec",
    "JoinAck",
    "LeaveAck",
    "Message",
    "Op",
    "PigeonCodec",
    "SendAck",
    "SyncAck",
    "connect_options",
    "error_of",
    "join_payload",
    "leave_payload",
    "namespace_of",
    "refusal_code",
    "send_payload",
    "sync_payload",
]
