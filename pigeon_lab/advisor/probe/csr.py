"""Socket.IO connection state recovery (socket.io 4.6+), seen from a raw websocket.

With recovery on, the server's CONNECT answer carries a private session id (``pid``) and
every event an offset as its last argument. A client whose transport dropped (no close
packet) reconnects with ``{..auth, pid, offset}`` in its CONNECT and gets the events it
missed replayed. python-socketio's client does not implement it, so this is done by
hand; a server without recovery answers the CONNECT without a ``pid``.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

import websocket

from pigeon_lab.advisor.probe.client import ProbeClient
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.eio import Polling, connect_packet, event_packet
from pigeon_lab.protocol.codec import join_payload

WAIT_S = 2.0


def parse_event(packet: str) -> tuple[int | None, list[Any]] | None:
    """``42[/ns,][id][...]`` or ``43[/ns,]id[...]`` -> (ack id, arguments), else None."""
    if not packet.startswith(("42", "43")):
        return None
    rest = packet[2:]
    if rest.startswith("/"):
        comma = rest.find(",")
        rest = rest[comma + 1 :] if comma >= 0 else ""
    digits = len(rest) - len(rest.lstrip("0123456789"))
    ack_id = int(rest[:digits]) if digits else None
    try:
        args = json.loads(rest[digits:])
    except ValueError:
        return None
    return (ack_id, args) if isinstance(args, list) else None


class RawSocket:
    """One raw Engine.IO websocket: open, CONNECT, events, and an abrupt drop."""

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.url = "ws" + Polling(ctx).url[4:] + "?EIO=4&transport=websocket"
        ctx.pace.take()
        ctx.budget.opening()
        self.ws = websocket.create_connection(self.url, timeout=WAIT_S)
        self.ws.recv()  # the open packet
        self.events: list[list[Any]] = []

    def recv_until(self, want: str, deadline: float) -> str | None:
        """Packets until one starts with ``want`` (events on the way are kept)."""
        while time.monotonic() < deadline:
            try:
                packet = str(self.ws.recv())
            except (websocket.WebSocketTimeoutException, TimeoutError):
                return None
            if packet == "2":
                self.ws.send("3")
                continue
            parsed = parse_event(packet) if packet.startswith("42") else None
            if parsed is not None:
                self.events.append(parsed[1])
            if packet.startswith(want):
                return packet
        return None

    def connect(self, auth: dict[str, Any]) -> str | None:
        self.ws.send(connect_packet(self.ctx.target.codec.namespace, auth))
        return self.recv_until("4", time.monotonic() + WAIT_S)

    def call(self, ack_id: int, event: str, data: Any) -> str | None:
        self.ws.send(event_packet(self.ctx.target.codec.namespace, ack_id, event, data))
        return self.recv_until("43", time.monotonic() + WAIT_S)

    def drop(self) -> None:
        """Lose the transport without a close packet (what recovery is for)."""
        raw = self.ws.sock  # the TCP socket: no close frame, no close packet
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.close()
        self.ctx.budget.closed()

    def close(self) -> None:
        try:
            self.ws.send("1")
            self.ws.close()
        except (websocket.WebSocketException, OSError):
            pass
        self.ctx.budget.closed()


def _connect_data(packet: str | None) -> dict[str, Any]:
    if not packet or not packet.startswith("40"):
        return {}
    body = packet[2:]
    if body.startswith("/"):
        body = body[body.find(",") + 1 :]
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _bodies(ctx: ProbeContext, events: list[list[Any]]) -> set[str]:
    codec = ctx.target.codec
    out: set[str] = set()
    for args in events:
        if len(args) >= 2 and args[0] == codec.message_event:
            msg = codec.decode_push(args[1])
            if msg is not None:
                out.add(str(msg.get("body")))
    return out


def recovery_replays(
    ctx: ProbeContext, c: CheckRecorder, sender: ProbeClient, channel: str
) -> bool:
    """Whether connection state recovery replays what a dropped client missed (evidence
    goes into ``c``)."""
    codec = ctx.target.codec
    auth = codec.auth(ctx.token(0, 2))
    try:
        first = RawSocket(ctx)
    except (websocket.WebSocketException, OSError) as exc:
        c.saw("raw websocket (connection state recovery)", f"no connection: {exc}")
        return False
    answer = first.connect(auth)
    pid = _connect_data(answer).get("pid")
    c.saw("raw websocket: CONNECT", (answer or "no answer")[:160])
    if not isinstance(pid, str):
        first.close()
        c.saw("connection state recovery", "off (the CONNECT answer has no pid)")
        return False
    first.call(1, codec.event("join"), codec.encode("join", join_payload(channel)))
    marker = f"probe-csr-{uuid.uuid4().hex[:6]}"
    sender.send(channel, marker)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and marker not in _bodies(ctx, first.events):
        first.recv_until("42", deadline)
    offsets = [a[-1] for a in first.events if len(a) >= 3 and isinstance(a[-1], str)]
    first.drop()
    missed = [f"probe-csr-missed-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
    for body in missed:
        sender.send(channel, body)
    second = RawSocket(ctx)
    try:
        recovered = {**auth, "pid": pid, "offset": offsets[-1] if offsets else None}
        answer = second.connect(recovered)
        c.saw("raw websocket: CONNECT with pid and offset", (answer or "no answer")[:160])
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and not set(missed) <= _bodies(ctx, second.events):
            second.recv_until("42", deadline)
        got = set(missed) & _bodies(ctx, second.events)
        c.saw("events replayed after the reconnect", f"{len(got)} of {len(missed)} missed")
        return got == set(missed)
    finally:
        second.close()


__all__ = ["RawSocket", "parse_event", "recovery_replays"]
