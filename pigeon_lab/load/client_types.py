"""Types of the client algorithm: the policy, backoff, the actions, and the per-channel,
per-send and per-operation state it keeps. Error codes live in ``pigeon_lab.protocol.errors``
(re-exported here)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from pigeon_lab.protocol.codec import Message, Op
from pigeon_lab.protocol.errors import ERROR_CODES, UNKNOWN_ERROR, ErrorCode, error_code


@dataclass(frozen=True)
class Policy:
    """Timeouts and backoff of the client (seconds)."""

    ack_timeout: float = 5.0
    send_deadline: float = 30.0
    retry_base: float = 0.1
    retry_max: float = 2.0
    gap_timeout: float = 0.5
    reconnect_base: float = 0.5
    reconnect_max: float = 5.0
    sync_limit: int = 500
    duplicate_ratio: float = 0.0  # share of acked sends sent once more, as if the ack was lost


def retry_delay(policy: Policy, attempt: int, rng: random.Random) -> float:
    """Backoff before attempt ``attempt + 1``: equal jitter in [b/2, b],
    b = base * 2^(attempt-1)."""
    scale: int = 2 ** max(0, attempt - 1)  # int ** int is typed Any (a negative power is a float)
    b = min(policy.retry_max, policy.retry_base * scale)
    return b / 2 + rng.random() * b / 2


def reconnect_delay(policy: Policy, failures: int, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(max, base * 2^failures)]."""
    scale: int = 2**failures  # never negative: it counts failures
    return rng.random() * min(policy.reconnect_max, policy.reconnect_base * scale)


@dataclass(frozen=True)
class Emit:
    """Emit operation ``event`` with the canonical ``payload``; the caller encodes it with
    its codec and binds the ack to ``op``."""

    op: int
    event: Op
    payload: dict[str, Any]
    attempt: int = 1


@dataclass(frozen=True)
class Deliver:
    channel: str
    message: Message


@dataclass(frozen=True)
class Synced:
    channel: str
    message: Message
    truncated: bool = False  # the first message of a sync batch that skipped over retention


@dataclass(frozen=True)
class JoinDone:
    channel: str
    ok: bool
    head_seq: int | None
    node: str | None
    error: str | None
    truncated: bool
    latency: float


@dataclass(frozen=True)
class SendDone:
    channel: str
    client_msg_id: str
    outcome: Literal["ok", "fail", "info"]
    attempt: int
    latency: float
    seq: int | None = None
    msg_id: str | None = None
    error: str | None = None
    duplicate: bool = False
    errors: tuple[str, ...] = ()  # every failed attempt's code, in order (the last included)


@dataclass(frozen=True)
class Connect:
    attempt: int


Action = Emit | Deliver | Synced | JoinDone | SendDone | Connect


# ----- the per-client state of ClientAlgorithm -----
@dataclass
class ChannelState:
    name: str
    last_seq: int | None = None  # None until the first join_ok
    joined: bool = False  # joined on the current connection
    buffer: dict[int, Message] = field(default_factory=dict)
    known_head: int = 0
    gap_deadline: float | None = None
    syncing: bool = False
    join_started: float = 0.0


@dataclass
class SendState:
    channel: str
    client_msg_id: str
    body: str
    started: float
    attempt: int = 0
    op: int | None = None
    retry_at: float | None = None
    last_error: str = "timeout"
    errors: list[str] = field(default_factory=list)  # each failed attempt's code
    replay: bool = False  # a deliberate second send of an acked message (Policy.duplicate_ratio)


@dataclass
class PendingOp:
    event: Op
    channel: str
    deadline: float
    client_msg_id: str | None = None


__all__ = [
    "ERROR_CODES",
    "UNKNOWN_ERROR",
    "Action",
    "ChannelState",
    "Connect",
    "Deliver",
    "Emit",
    "ErrorCode",
    "JoinDone",
    "Message",
    "PendingOp",
    "Policy",
    "SendDone",
    "SendState",
    "Synced",
    "error_code",
    "reconnect_delay",
    "retry_delay",
]
