"""The typed acks and pushes of voice rooms, v1 (``pigeon_lab.protocol.voice`` decodes them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pigeon_lab.protocol.codec import AckError


@dataclass(frozen=True, slots=True)
class Member:
    member: str
    inc: int
    role: str = "speaker"
    node: str | None = None


@dataclass(frozen=True, slots=True)
class FloorState:
    state: str = "idle"
    holder: str | None = None
    holder_inc: int | None = None
    token: int | None = None
    deadline: int | None = None
    queue: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A room at one version: its members and its floor (``ver`` None: the server sent none)."""

    ver: int | None
    members: tuple[Member, ...] = ()
    floor: FloorState = field(default_factory=FloorState)


@dataclass(frozen=True, slots=True)
class Signal:
    room: str
    sender: str
    sender_inc: int
    to: str
    to_inc: int
    sig_id: str
    pc: str
    neg: int
    kind: str
    payload: str
    mseq: int
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class JoinAck:
    ok: bool
    error: AckError | None = None
    inc: int = 0
    resumed: bool = False
    role: str = "speaker"
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(None))
    signals: tuple[Signal, ...] = ()
    more: bool = False
    mseq: int = 0
    lease_s: float | None = None
    max_talk_s: float | None = None
    node: str | None = None
    reap_s: float | None = None


@dataclass(frozen=True, slots=True)
class SyncAck:
    ok: bool
    error: AckError | None = None
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(None))
    signals: tuple[Signal, ...] = ()
    more: bool = False
    mseq: int = 0


@dataclass(frozen=True, slots=True)
class SignalAck:
    ok: bool
    error: AckError | None = None
    mseq: int | None = None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class FloorAck:
    """floor_req (status, token, pos), floor_rel, floor_cancel (cancelled), floor_grant
    (token), floor_revoke (revoked), speaking, vleave (ver)."""

    ok: bool
    error: AckError | None = None
    status: str | None = None
    token: int | None = None
    pos: int | None = None
    done: bool = False
    ver: int | None = None


@dataclass(frozen=True, slots=True)
class RosterPush:
    room: str
    ver: int | None
    op: str
    member: Member
    replaced: int | None = None
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class FloorPush:
    room: str
    ver: int | None
    floor: FloorState
    reason: str
    prev_holder: str | None = None
    prev_inc: int | None = None
    prev_token: int | None = None
    prev_why: str | None = None
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class SpeakingPush:
    room: str
    member: str
    inc: int
    token: int
    on: bool
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class KickPush:
    room: str
    inc: int
    reason: str


__all__ = [
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
]
