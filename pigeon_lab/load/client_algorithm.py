"""The reference client algorithm of protocol.md as a transport-free state machine.

No sockets, no gevent, no sleeping: the caller feeds it events (``on_connect``,
``on_message``, ``on_ack``, ...) with the current monotonic time in seconds, and
it returns a list of actions for the caller to perform and record:

    Emit       emit ``event`` with ``payload`` and an ack callback bound to ``op``
    Deliver    hand a message to the application (record ``deliver``)
    Synced     a message obtained through ``join``/``sync`` (record ``sync_ok``)
    JoinDone   a join ended (``join_ok``/``join_fail``)
    SendDone   a send ended ``ok`` / ``fail`` (definite) / ``info`` (outcome unknown)
    Connect    time to (re)connect

Timers (ack timeouts, gap repair, send retries, reconnect) fire from ``tick(now)``;
``next_deadline()`` says when the caller should call it next. ``Emit`` carries a canonical
payload (``pigeon_lab.protocol.codec``) that the caller encodes with its codec; ``on_ack``
decodes the ack as it came off the wire with the same codec.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pigeon_lab.load.client_types import (
    Action,
    ChannelState,
    Connect,
    Deliver,
    Emit,
    JoinDone,
    Message,
    PendingOp,
    Policy,
    SendDone,
    SendState,
    Synced,
    error_code,
    reconnect_delay,
    retry_delay,
)
from pigeon_lab.protocol.codec import (
    PIGEON,
    Codec,
    JoinAck,
    Op,
    SendAck,
    SyncAck,
    join_payload,
    send_payload,
    sync_payload,
)

__all__ = [
    "Action",
    "ClientAlgorithm",
    "Connect",
    "Deliver",
    "Emit",
    "JoinDone",
    "Message",
    "Policy",
    "SendDone",
    "Synced",
    "error_code",
    "reconnect_delay",
    "retry_delay",
]


class ClientAlgorithm:
    """Per-client state of the reference algorithm; see the module docstring."""

    def __init__(self, policy: Policy, rng: random.Random, codec: Codec = PIGEON) -> None:
        self.policy = policy
        self.rng = rng
        self.codec = codec
        self.connected = False
        self.channels: dict[str, ChannelState] = {}
        self.sends: dict[str, SendState] = {}
        self.ops: dict[int, PendingOp] = {}
        self._next_op = 0
        self.reconnect_at: float | None = None
        self.reconnect_failures = 0
        self.connect_attempt = 0
        self.stopping = False

    # ----- connection -----
    def on_connect(self, now: float) -> list[Action]:
        """Connected: (re)join every channel, resuming from ``last_seq``."""
        self.connected = True
        self.reconnect_at = None
        self.reconnect_failures = 0
        return [self._emit_join(ch, now) for ch in self.channels.values()]

    def on_disconnect(self, now: float) -> list[Action]:
        """Connection lost: pending sends go to retry (or info), schedule a reconnect."""
        self.connected = False
        out: list[Action] = []
        for op_id, op in list(self.ops.items()):
            del self.ops[op_id]
            if op.client_msg_id is not None and op.client_msg_id in self.sends:
                out.extend(self._send_failed(self.sends[op.client_msg_id], "disconnect", now))
        for ch in self.channels.values():
            ch.joined = ch.syncing = False
            ch.gap_deadline = None
        if not self.stopping:
            self.reconnect_at = now + reconnect_delay(
                self.policy, self.reconnect_failures, self.rng
            )
        return out

    def on_connect_failed(self, now: float) -> list[Action]:
        """A connect attempt failed: back off (full jitter) and try again later."""
        self.connected = False
        self.reconnect_failures += 1
        if not self.stopping:
            self.reconnect_at = now + reconnect_delay(
                self.policy, self.reconnect_failures, self.rng
            )
        return []

    # ----- operations -----
    def join(self, channel: str, now: float) -> list[Action]:
        ch = self.channels.setdefault(channel, ChannelState(channel))
        return [self._emit_join(ch, now)] if self.connected else []

    def send(self, channel: str, client_msg_id: str, body: str, now: float) -> list[Action]:
        """Start a send; it is emitted at once when connected and joined, else when it can be."""
        s = SendState(channel, client_msg_id, body, started=now)
        self.sends[client_msg_id] = s
        ch = self.channels.get(channel)
        if self.connected and ch is not None and ch.joined:
            return [self._emit_send(s, now)]
        s.retry_at = now
        return []

    def sync_all(self, now: float) -> list[Action]:
        """Catch up every joined channel from ``last_seq`` (used when the run quiesces)."""
        out: list[Action] = []
        for ch in self.channels.values():
            if self.connected and ch.joined and not ch.syncing and ch.last_seq is not None:
                out.append(self._emit_sync(ch, now))
        return out

    def idle(self) -> bool:
        """No send unresolved, no join or sync in flight."""
        return not self.sends and not self.ops

    def abandon(self, now: float) -> list[Action]:
        """The run is over: every unresolved send becomes ``info`` (outcome unknown)."""
        out: list[Action] = []
        for s in list(self.sends.values()):
            out.append(self._resolve(s, "info", now, error="stopped"))
        self.ops.clear()
        return out

    # ----- inputs -----
    def on_message(self, msg: Message, now: float) -> list[Action]:
        """A live ``message`` push."""
        ch = self.channels.get(msg.get("channel", ""))
        if ch is None:
            return []
        seq = msg.get("seq")
        if not isinstance(seq, int):
            return []
        if ch.last_seq is None or not ch.joined:
            ch.buffer[seq] = msg  # join in flight: kept until we know where we stand
            return []
        out: list[Action] = []
        self._accept(ch, msg, now, out, live=True)
        return out

    def on_ack(self, op_id: int, ack: Any, now: float) -> list[Action]:
        """The ack of an emitted operation as it came off the wire (decoded by the codec);
        late acks of a send still unresolved count."""
        op = self.ops.pop(op_id, None)
        if op is None:
            return []
        if op.event == "send":
            s = self.sends.get(op.client_msg_id or "")
            if s is None or s.op != op_id:
                return []
            return self._send_acked(s, self.codec.decode_send(ack), now)
        ch = self.channels.get(op.channel)
        if ch is None:
            return []
        if op.event == "join":
            return self._join_acked(ch, self.codec.decode_join(ack), now)
        if op.event == "sync":
            return self._sync_acked(ch, self.codec.decode_sync(ack), now)
        return []

    def tick(self, now: float) -> list[Action]:
        """Fire every timer due at ``now``."""
        out: list[Action] = []
        for op_id, op in list(self.ops.items()):
            if op.deadline > now:
                continue
            del self.ops[op_id]
            ch = self.channels.get(op.channel)
            if op.event == "send":
                s = self.sends.get(op.client_msg_id or "")
                if s is not None and s.op == op_id:
                    out.extend(self._send_failed(s, "timeout", now))
            elif op.event == "join" and ch is not None and self.connected:
                out.append(self._emit_join(ch, now))
            elif op.event == "sync" and ch is not None:
                ch.syncing = False
                ch.gap_deadline = now
        if self.connected:
            for s in list(self.sends.values()):
                if s.op is None and s.retry_at is not None and s.retry_at <= now:
                    ch = self.channels.get(s.channel)
                    if ch is not None and ch.joined:
                        out.append(self._emit_send(s, now))
                    elif now - s.started >= self.policy.send_deadline:
                        out.append(self._resolve(s, "info", now, error=s.last_error))
            for ch in self.channels.values():
                if ch.gap_deadline is not None and ch.gap_deadline <= now and ch.joined:
                    ch.gap_deadline = None
                    if not ch.syncing and ch.last_seq is not None:
                        out.append(self._emit_sync(ch, now))
        else:
            for s in list(self.sends.values()):
                if now - s.started >= self.policy.send_deadline:
                    out.append(self._resolve(s, "info", now, error=s.last_error))
            if self.reconnect_at is not None and self.reconnect_at <= now:
                self.reconnect_at = None
                self.connect_attempt += 1
                out.append(Connect(self.connect_attempt))
        return out

    def next_deadline(self) -> float | None:
        """The earliest time ``tick`` has something to do (None: nothing pending)."""
        times: list[float] = [op.deadline for op in self.ops.values()]
        for s in self.sends.values():
            if s.op is not None:
                continue
            ch = self.channels.get(s.channel)
            if self.connected and s.retry_at is not None and ch is not None and ch.joined:
                times.append(s.retry_at)
            else:  # waiting for a connection or a join: only the deadline can fire
                times.append(s.started + self.policy.send_deadline)
        times += [
            c.gap_deadline
            for c in self.channels.values()
            if c.gap_deadline is not None and c.joined and self.connected
        ]
        if self.reconnect_at is not None:
            times.append(self.reconnect_at)
        return min(times) if times else None

    # ----- internals -----
    def _op(self, event: Op, channel: str, now: float, cmid: str | None = None) -> int:
        self._next_op += 1
        self.ops[self._next_op] = PendingOp(event, channel, now + self.policy.ack_timeout, cmid)
        return self._next_op

    def _emit_join(self, ch: ChannelState, now: float) -> Emit:
        ch.joined = False
        ch.join_started = now
        op = self._op("join", ch.name, now)
        return Emit(op, "join", join_payload(ch.name, ch.last_seq))

    def _emit_sync(self, ch: ChannelState, now: float) -> Emit:
        ch.syncing = True
        op = self._op("sync", ch.name, now)
        assert ch.last_seq is not None
        return Emit(op, "sync", sync_payload(ch.name, ch.last_seq, self.policy.sync_limit))

    def _emit_send(self, s: SendState, now: float) -> Emit:
        s.attempt += 1
        s.retry_at = None
        s.op = self._op("send", s.channel, now, s.client_msg_id)
        payload = send_payload(s.channel, s.client_msg_id, s.body)
        return Emit(s.op, "send", payload, attempt=s.attempt)

    def _resolve(
        self, s: SendState, outcome: Literal["ok", "fail", "info"], now: float, **kw: Any
    ) -> SendDone:
        self.sends.pop(s.client_msg_id, None)
        if s.op is not None:
            self.ops.pop(s.op, None)
        ms, errors = (now - s.started) * 1000.0, tuple(s.errors)
        return SendDone(s.channel, s.client_msg_id, outcome, s.attempt, ms, errors=errors, **kw)

    def _send_failed(self, s: SendState, code: str, now: float) -> list[Action]:
        s.op = None
        s.last_error = code
        s.errors.append(code)
        err = error_code(code)
        if err.definite and not err.retry:
            return [self._resolve(s, "fail", now, error=code)]
        if not err.retry:
            return [self._resolve(s, "info", now, error=code)]
        at = now + retry_delay(self.policy, s.attempt, self.rng)
        if at - s.started >= self.policy.send_deadline:
            # definite only if every attempt was refused (an earlier timeout may have stored it)
            refused = all(error_code(c).definite for c in s.errors)
            outcome: Literal["fail", "info"] = "fail" if refused else "info"
            return [self._resolve(s, outcome, now, error=code)]
        s.retry_at = at
        return []

    def _send_acked(self, s: SendState, ack: SendAck, now: float) -> list[Action]:
        if not ack.ok:
            return self._send_failed(s, ack.error.code if ack.error else "unknown", now)
        seq = ack.seq
        done = self._resolve(s, "ok", now, seq=seq, msg_id=ack.msg_id, duplicate=ack.duplicate)
        out: list[Action] = [done]
        ch = self.channels.get(s.channel)
        if ch is not None and isinstance(seq, int):
            self._note_head(ch, seq, now)
        p = self.policy.duplicate_ratio
        if p and not (s.replay or self.stopping) and self.rng.random() < p:
            # as if the ack was lost: the retry path sends it again (same id and body, attempt + 1)
            s.replay, s.started, s.op, s.retry_at = True, now, None, now
            self.sends[s.client_msg_id] = s
        return out

    def _join_acked(self, ch: ChannelState, ack: JoinAck, now: float) -> list[Action]:
        latency = (now - ch.join_started) * 1000.0
        if not ack.ok:
            code = ack.error.code if ack.error else "unknown"
            return [JoinDone(ch.name, False, None, None, code, False, latency)]
        head = ack.head_seq
        out: list[Action] = [JoinDone(ch.name, True, head, ack.node, None, ack.truncated, latency)]
        ch.joined = True
        if ch.last_seq is None:
            ch.last_seq = head  # a fresh member starts at the head
        out.extend(self._apply_batch(ch, ack, now))
        return out

    def _sync_acked(self, ch: ChannelState, ack: SyncAck, now: float) -> list[Action]:
        ch.syncing = False
        if not ack.ok:
            ch.gap_deadline = now + self.policy.gap_timeout
            return []
        return self._apply_batch(ch, ack, now)

    def _apply_batch(self, ch: ChannelState, ack: JoinAck | SyncAck, now: float) -> list[Action]:
        """Deliver the messages of a join/sync ack; follow ``more``; re-arm gap repair."""
        out: list[Action] = []
        msgs = [m for m in ack.messages if isinstance(m.get("seq"), int)]
        msgs.sort(key=lambda m: int(m["seq"]))
        assert ch.last_seq is not None
        start = ch.last_seq
        skipped = bool(ack.truncated and msgs and msgs[0]["seq"] > start + 1)
        if skipped:
            ch.last_seq = int(msgs[0]["seq"]) - 1  # fell out of retention: cannot be had
        for i, m in enumerate(msgs):  # a sync's skip marked on its first message, a join's not
            out.append(Synced(ch.name, m, skipped and i == 0 and isinstance(ack, SyncAck)))
            self._accept(ch, m, now, out, live=False)
        head = ack.head_seq
        # follow ``more`` only while pages advance: a server stuck on one page cannot spin us
        if ack.more and self.connected and ch.last_seq > start:
            out.append(self._emit_sync(ch, now))
        elif isinstance(head, int):
            self._note_head(ch, head, now)
        # whatever the join buffered while in flight
        self._drain(ch, out)
        self._arm_gap(ch, now)
        return out

    def _accept(
        self, ch: ChannelState, m: Message, now: float, out: list[Action], live: bool
    ) -> None:
        seq = m.get("seq")
        assert ch.last_seq is not None and isinstance(seq, int)
        if seq <= ch.last_seq:
            return  # duplicate
        if seq == ch.last_seq + 1:
            ch.last_seq = seq
            out.append(Deliver(ch.name, m))
            self._drain(ch, out)
        else:
            ch.buffer[seq] = m
        ch.known_head = max(ch.known_head, seq)
        if live:
            self._arm_gap(ch, now)

    def _drain(self, ch: ChannelState, out: list[Action]) -> None:
        assert ch.last_seq is not None
        for seq in [s for s in ch.buffer if s <= ch.last_seq]:
            del ch.buffer[seq]
        while ch.last_seq + 1 in ch.buffer:
            ch.last_seq += 1
            out.append(Deliver(ch.name, ch.buffer.pop(ch.last_seq)))

    def _note_head(self, ch: ChannelState, head: int, now: float) -> None:
        ch.known_head = max(ch.known_head, head)
        self._arm_gap(ch, now)

    def _arm_gap(self, ch: ChannelState, now: float) -> None:
        behind = ch.buffer or (ch.last_seq is not None and ch.known_head > ch.last_seq)
        if not behind:
            ch.gap_deadline = None
        elif ch.gap_deadline is None and not ch.syncing:
            ch.gap_deadline = now + self.policy.gap_timeout
