"""The client algorithm for targets that cannot give order or history: deliver on receipt.

A target without per-channel sequence numbers, or without a history read, cannot be
resumed or repaired: there is nothing to ask for after a gap. Its clients (like most
real chat clients of such systems) hand each pushed message to the application when it
arrives, once: a message already delivered (same id, else same client_msg_id, else
same body) is a wire duplicate and dropped. Joins never carry ``after_seq``; nothing is
synced. Without acks on send (``acked=False``) a send is emitted once and its outcome
is unknown (``info``, error ``no_ack``). The checkers judge such a run by set semantics
(see docs/invariants.md); this algorithm is what those semantics assume of a client.
"""

from __future__ import annotations

import random

from pigeon_lab.load.client_algorithm import ClientAlgorithm
from pigeon_lab.load.client_types import (
    Action,
    ChannelState,
    Deliver,
    Emit,
    Message,
    Policy,
    SendState,
    Synced,
)
from pigeon_lab.protocol.codec import PIGEON, Codec, JoinAck, SyncAck, join_payload


def message_key(m: Message) -> str:
    """What identifies a message without a seq: its id, else client_msg_id, else body."""
    for key in ("id", "client_msg_id", "body"):
        value = m.get(key)
        if value:
            return f"{key}:{value}"
    return f"repr:{sorted(m.items())!r}"


class DirectAlgorithm(ClientAlgorithm):
    """``ClientAlgorithm`` without order or history (see the module docstring)."""

    def __init__(
        self, policy: Policy, rng: random.Random, codec: Codec = PIGEON, acked: bool = True
    ) -> None:
        super().__init__(policy, rng, codec)
        self.acked = acked
        self.seen: dict[str, set[str]] = {}

    def _deliver_new(self, ch: ChannelState, m: Message, out: list[Action]) -> None:
        seen = self.seen.setdefault(ch.name, set())
        key = message_key(m)
        if key not in seen:
            seen.add(key)
            out.append(Deliver(ch.name, m))

    def on_message(self, msg: Message, now: float) -> list[Action]:
        ch = self.channels.get(msg.get("channel") or "")
        if ch is None:
            return []
        out: list[Action] = []
        self._deliver_new(ch, msg, out)
        return out

    def _emit_join(self, ch: ChannelState, now: float) -> Emit:
        ch.joined = False
        ch.join_started = now
        op = self._op("join", ch.name, now)
        return Emit(op, "join", join_payload(ch.name))

    def _apply_batch(self, ch: ChannelState, ack: JoinAck | SyncAck, now: float) -> list[Action]:
        out: list[Action] = []
        for m in ack.messages:
            out.append(Synced(ch.name, m))
            self._deliver_new(ch, m, out)
        return out

    def sync_all(self, now: float) -> list[Action]:
        return []  # nothing to catch up from

    def _arm_gap(self, ch: ChannelState, now: float) -> None:
        ch.gap_deadline = None  # no gap can be repaired

    def _emit_send(self, s: SendState, now: float) -> Emit:
        emit = super()._emit_send(s, now)
        if not self.acked:  # nothing will answer: the outcome is unknown at once
            self.ops.pop(emit.op, None)
            s.op = None
        return emit

    def _unanswered(self, out: list[Action], now: float) -> list[Action]:
        """Without acks, every send just emitted ends ``info`` (``no_ack``) at once."""
        if self.acked:
            return out
        for a in list(out):
            if isinstance(a, Emit) and a.event == "send":
                s = self.sends.get(str(a.payload["client_msg_id"]))
                if s is not None:
                    out.append(self._resolve(s, "info", now, error="no_ack"))
        return out

    def send(self, channel: str, client_msg_id: str, body: str, now: float) -> list[Action]:
        return self._unanswered(super().send(channel, client_msg_id, body, now), now)

    def tick(self, now: float) -> list[Action]:
        return self._unanswered(super().tick(now), now)


def make_algorithm(
    policy: Policy,
    rng: random.Random,
    codec: Codec = PIGEON,
    *,
    seqs: bool = True,
    history: bool = True,
    acks: bool = True,
) -> ClientAlgorithm:
    """The reference algorithm when the target has seqs and history, else the direct one."""
    if seqs and history and acks:
        return ClientAlgorithm(policy, rng, codec)
    return DirectAlgorithm(policy, rng, codec, acked=acks)


__all__ = ["DirectAlgorithm", "make_algorithm", "message_key"]
