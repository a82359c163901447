"""A voice member's outgoing signals: numbered by the sender (``sig_id``), resent until acked.

Signals to one peer must reach it in the order they were made, so they are emitted in that
order and, after a timeout or a reconnect, *all* unacknowledged ones are emitted again in
that order (the server dedupes on ``sig_id`` and numbers them per addressee). A definite
refusal ends a signal (``sig_fail``); a session that ends, or the send deadline, leaves its
outcome unknown (``sig_info``). Pure: the member emits and records.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pigeon_lab.protocol.voice import signal_payload

DEFINITE = frozenset(
    {"no_such_member", "gone", "superseded", "not_member", "bad_request", "too_large", "forbidden"}
)
"""Refusals after which the signal surely was not relayed."""


@dataclass
class OutSignal:
    sig_id: str
    room: str
    to: str
    to_inc: int
    pc: str
    neg: int
    kind: str
    payload: str
    first: float
    attempt: int = 0
    in_flight: bool = False
    extra: dict[str, object] = field(default_factory=dict)  # a probe's forged fields

    def wire(self) -> dict[str, object]:
        p = signal_payload(
            self.room, self.to, self.to_inc, self.sig_id, self.pc, self.neg, self.kind, self.payload
        )
        return {**p, **self.extra}


@dataclass
class Outbox:
    """Unacknowledged signals of one session, in the order they were made."""

    deadline_s: float = 15.0
    pending: dict[str, OutSignal] = field(default_factory=dict)

    def new(
        self,
        room: str,
        to: str,
        to_inc: int,
        pc: str,
        neg: int,
        kind: str,
        payload: str,
        now: float,
    ) -> OutSignal:
        s = OutSignal(uuid.uuid4().hex[:16], room, to, to_inc, pc, neg, kind, payload, now)
        self.pending[s.sig_id] = s
        return s

    def acked(self, sig_id: str) -> OutSignal | None:
        return self.pending.pop(sig_id, None)

    def resend(self) -> list[OutSignal]:
        """Every pending signal, in order (each to be emitted again)."""
        return list(self.pending.values())

    def overdue(self, now: float) -> list[OutSignal]:
        """Signals past the send deadline: given up (their outcome is unknown)."""
        late = [s for s in self.pending.values() if now - s.first > self.deadline_s]
        for s in late:
            del self.pending[s.sig_id]
        return late

    def drop_peer(self, to: str, to_inc: int) -> list[OutSignal]:
        """The peer's session is over: its unacknowledged signals are given up."""
        gone = [s for s in self.pending.values() if (s.to, s.to_inc) == (to, to_inc)]
        for s in gone:
            del self.pending[s.sig_id]
        return gone

    def clear(self) -> list[OutSignal]:
        out = list(self.pending.values())
        self.pending.clear()
        return out


__all__ = ["DEFINITE", "OutSignal", "Outbox"]
