"""Target profiles: how another team's Socket.IO backend spells the protocol's operations.

A profile says, for each operation of the client (connect auth, ``join``, ``leave``,
``send``, ``sync``, the server's ``message`` push), the event name, how the payload is
built from the operation's canonical fields, and where the ack's fields are; and which
of the protocol's capabilities the target has. Everything omitted is protocol.md's own
spelling, so the reference backend's profile is the empty one (``pigeon``).

Values are Jinja2 (native types): a payload template ``{room: "{{ channel }}"}`` keeps
an int an int, and a key whose template renders to nothing (``none``) is left out. An
ack field is a path into the ack (``data.message.seq``, list indices as numbers) or a
Jinja2 expression over ``ack`` (``"{{ ack.status == 'sent' }}"``). A push's fields are
paths (or expressions over ``msg``) into the pushed message.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen, unknown
from pigeon_lab.protocol.codec import MESSAGE_KEYS, OPS
from pigeon_lab.protocol.templates import TemplateError, compile_getter, compile_template

PROTOCOL_EVENTS: tuple[str, ...] = (*OPS, "message")
"""Events a profile may rename: the four operations and the server's push."""

ACK_FIELDS: dict[str, tuple[str, ...]] = {
    "join": (
        "ok", "error_code", "error_message", "head_seq", "messages", "more", "truncated",
        "node", "channel",
    ),
    "sync": (
        "ok", "error_code", "error_message", "head_seq", "messages", "more", "truncated",
    ),
    "send": ("ok", "error_code", "error_message", "seq", "id", "ts", "duplicate"),
    "leave": ("ok", "error_code", "error_message"),
}  # fmt: skip
"""The canonical fields of each operation's ack (``pigeon_lab.protocol.codec``)."""

DEFAULT_ACK: dict[str, str] = {
    "ok": "ok",
    "error_code": "error.code",
    "error_message": "error.message",
    "head_seq": "head_seq",
    "messages": "messages",
    "more": "more",
    "truncated": "truncated",
    "node": "node",
    "channel": "channel",
    "seq": "seq",
    "id": "id",
    "ts": "ts",
    "duplicate": "duplicate",
}

Capability = Literal["acks", "seqs", "history", "client_ids", "server_sender", "token_refresh"]
CAPABILITIES: tuple[Capability, ...] = (
    "acks", "seqs", "history", "client_ids", "server_sender", "token_refresh"
)  # fmt: skip


class Capabilities(Frozen):
    """What the target can show; a checker that needs what it lacks says ``unknown``."""

    acks: bool = Field(default=True, description="send is acknowledged (with an ok flag)")
    seqs: bool = Field(default=True, description="per-channel sequence numbers, 1, 2, 3, ...")
    history: bool = Field(default=True, description="a history/sync read of a channel's log")
    client_ids: bool = Field(
        default=True, description="client message ids, echoed in pushes and deduplicated"
    )
    server_sender: bool = Field(
        default=True, description="the server stamps each message's sender from the token"
    )
    token_refresh: bool = Field(
        default=False,
        description="`refresh {token}` extends a live connection (protocol.md's extension of "
        "the reference backend); without it a client reconnects with a fresh token",
    )

    def missing(self, needed: tuple[str, ...]) -> list[str]:
        return [c for c in needed if not getattr(self, c)]


class Claims(Frozen):
    """Which JWT claims carry the user and the workspace (for minted tokens)."""

    user: str = Field(default="sub", description="the claim holding the user id")
    workspace: str = Field(default="ws", description="the claim holding the workspace id")


class Profile(Frozen):
    """One target's spelling of the protocol (see the module docstring)."""

    name: str = Field(default="pigeon", description="what the profile is called")
    description: str = ""
    namespace: str = Field(default="/", description="the Socket.IO namespace")
    path: str = Field(default="socket.io", description="the Engine.IO path")
    auth: dict[str, Any] = Field(
        default_factory=lambda: {"token": "{{ token }}"},
        description="the CONNECT auth object; {{ token }} is the token",
    )
    claims: Claims = Field(default_factory=Claims, description="claims of minted tokens")
    capabilities: Capabilities = Field(default_factory=Capabilities)
    events: dict[str, str] = Field(
        default_factory=dict, description="protocol event -> the target's event name"
    )
    payloads: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="operation -> payload template"
    )
    acks: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="operation -> {ack field: path or {{ expression }}}"
    )
    message: dict[str, str] = Field(
        default_factory=dict, description="message key -> path in the target's message"
    )
    _compiled: bool = PrivateAttr(default=False)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``{send: post_message, message: new_message}``: event names only."""
        shorthand = isinstance(data, dict) and data and set(data) <= set(PROTOCOL_EVENTS)
        if shorthand and all(isinstance(v, str) for v in data.values()):
            return {"events": dict(data)}
        return data

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"a namespace starts with '/', got {value!r}")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: dict[str, str]) -> dict[str, str]:
        for event, name in value.items():
            if event not in PROTOCOL_EVENTS:
                raise FieldProblem((event,), unknown("operation", event, PROTOCOL_EVENTS))
            if not isinstance(name, str) or not name or name in ("connect", "disconnect"):
                raise FieldProblem((event,), f"not a usable event name: {name!r}")
        return value

    @model_validator(mode="after")
    def _templates_compile(self) -> Profile:
        for op, template in self.payloads.items():
            if op not in OPS:
                raise FieldProblem(("payloads", op), unknown("operation", op, OPS))
            _compile(("payloads", op), lambda t=template: compile_template(t))
        for op, fields in self.acks.items():
            if op not in ACK_FIELDS:
                raise FieldProblem(("acks", op), unknown("operation", op, tuple(ACK_FIELDS)))
            for name, spec in fields.items():
                if name not in ACK_FIELDS[op]:
                    raise FieldProblem(
                        ("acks", op, name), unknown(f"{op} ack field", name, ACK_FIELDS[op])
                    )
                _compile(("acks", op, name), lambda s=spec: compile_getter(s, "ack"))
        for key, spec in self.message.items():
            if key not in MESSAGE_KEYS:
                raise FieldProblem(("message", key), unknown("message key", key, MESSAGE_KEYS))
            _compile(("message", key), lambda s=spec: compile_getter(s, "msg"))
        _compile(("auth",), lambda: compile_template(self.auth))
        return self

    def event(self, name: str) -> str:
        return self.events.get(name, name)

    def ack_spec(self, op: str) -> dict[str, str]:
        """Every ack field of ``op``: the profile's, else protocol.md's path."""
        own = self.acks.get(op, {})
        return {f: own.get(f, DEFAULT_ACK[f]) for f in ACK_FIELDS[op]}

    def message_spec(self) -> dict[str, str]:
        return {k: self.message.get(k, k) for k in MESSAGE_KEYS}

    @property
    def is_identity(self) -> bool:
        """Whether this is protocol.md as is (the fast identity codec serves it)."""
        return (
            self.namespace == "/"
            and self.path == "socket.io"
            and self.auth == {"token": "{{ token }}"}
            and all(self.event(e) == e for e in PROTOCOL_EVENTS)
            and not self.payloads
            and all(self.ack_spec(op) == {f: DEFAULT_ACK[f] for f in ACK_FIELDS[op]} for op in OPS)
            and self.message_spec() == {k: k for k in MESSAGE_KEYS}
        )


def _compile(path: tuple[str | int, ...], make: Any) -> None:
    try:
        make()
    except TemplateError as exc:
        raise FieldProblem(path, str(exc)) from None


__all__ = [
    "ACK_FIELDS",
    "CAPABILITIES",
    "PROTOCOL_EVENTS",
    "Capabilities",
    "Capability",
    "Claims",
    "Profile",
]
