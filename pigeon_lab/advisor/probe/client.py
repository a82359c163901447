"""A Socket.IO connection of the probe: python-socketio's client spoken through the codec,
counted against the probe's budget and paced, with the pushes it received.

Reconnection is off (a check decides when to reconnect); every operation waits for its
ack up to the probe's timeout; ``describe_*`` give the evidence lines.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import socketio
from socketio.exceptions import ConnectionError as SocketIOConnectionError
from socketio.exceptions import SocketIOError
from socketio.exceptions import TimeoutError as SocketIOTimeout

from pigeon_lab.advisor.probe.context import ProbeContext
from pigeon_lab.advisor.probe.tokens import show_token
from pigeon_lab.protocol.codec import (
    JoinAck,
    Message,
    Op,
    SendAck,
    SyncAck,
    connect_options,
    join_payload,
    leave_payload,
    namespace_of,
    refusal_code,
    send_payload,
    sync_payload,
)

SHOWN = 220
GENERIC_ERROR = "Connection error"
"""What python-socketio reports to ``connect_error`` when the transport itself failed."""


def shown(value: Any, limit: int = SHOWN) -> str:
    """A value as compact JSON, cut at ``limit`` characters."""
    try:
        text = json.dumps(value, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Refused(Exception):
    """The server answered the CONNECT with an error (``code``: its code or words)."""

    def __init__(self, code: str, data: Any) -> None:
        self.code = code
        self.data = data
        super().__init__(f"connect refused: {code}")


class NoConnection(Exception):
    """The connection could not be opened at all (transport error, timeout)."""


class NoAck(Exception):
    """An operation was not acknowledged within the timeout."""


class ProbeClient:
    """One connection (see the module docstring)."""

    def __init__(
        self,
        ctx: ProbeContext,
        *,
        token: str | None,
        url: str | None = None,
        transports: tuple[str, ...] = ("websocket",),
        name: str = "client",
    ) -> None:
        self.ctx = ctx
        self.codec = ctx.target.codec
        self.url = url or ctx.target.url
        self.token = token
        self.transports = transports
        self.name = name
        self.sio = socketio.Client(reconnection=False)
        self.pushes: list[Message] = []
        self.disconnect_reason: str | None = None
        self.disconnected = threading.Event()
        self._arrived = threading.Condition()
        self._refusals: list[Any] = []
        self._counted = False
        ns = self.codec.namespace
        self.sio.on(self.codec.message_event, self._on_push, namespace=ns)
        self.sio.on("connect_error", self._refusals.append, namespace=ns)
        self.sio.on("disconnect", self._on_disconnect, namespace=ns)

    # ----- events ---------------------------------------------------------------------
    def _on_push(self, *args: Any) -> None:
        msg = self.codec.decode_push(args[0] if args else None)
        if msg is not None:
            with self._arrived:
                self.pushes.append(msg)
                self._arrived.notify_all()

    def _on_disconnect(self, *args: Any) -> None:
        self.disconnect_reason = str(args[0]) if args else "disconnected"
        self.disconnected.set()
        with self._arrived:
            self._arrived.notify_all()

    # ----- connection -----------------------------------------------------------------
    def auth_shown(self) -> str:
        return "no auth" if self.token is None else f"auth {show_token(self.token)}"

    def connect(self) -> None:
        """Connect (CONNECT with the token, or with no auth when there is none)."""
        self.ctx.pace.take()
        self.ctx.budget.opening()
        self._counted = True
        try:
            self.sio.connect(
                self.url,
                auth=self.codec.auth(self.token) if self.token is not None else None,
                transports=list(self.transports),
                wait_timeout=self.ctx.limits.timeout_s,
                retry=False,
                **connect_options(self.codec),
            )
        except SocketIOConnectionError as exc:
            self.close()
            data = self._refusals[0] if self._refusals else None
            if data is not None and data != GENERIC_ERROR:  # a CONNECT_ERROR from the server
                raise Refused(refusal_code(data), data) from exc
            raise NoConnection(str(exc) or "connection failed") from exc

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected) and not self.disconnected.is_set()

    def close(self) -> None:
        try:
            if self.sio.connected:
                self.sio.disconnect()
        except (SocketIOError, OSError, RuntimeError):
            pass
        if self._counted:
            self._counted = False
            self.ctx.budget.closed()

    def __enter__(self) -> ProbeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- operations -----------------------------------------------------------------
    def call(self, op: Op, payload: Message, extra: dict[str, Any] | None = None) -> Any:
        """The raw ack of ``op`` (``extra`` keys are added to the wire payload)."""
        wire = self.codec.encode(op, payload)
        if extra and isinstance(wire, dict):
            wire = {**wire, **extra}
        self.ctx.pace.take()
        try:
            return self.sio.call(
                self.codec.event(op),
                wire,
                namespace=namespace_of(self.codec) or "/",
                timeout=self.ctx.limits.timeout_s,
            )
        except SocketIOTimeout as exc:
            raise NoAck(f"{op} not acknowledged within {self.ctx.limits.timeout_s:g} s") from exc
        except SocketIOError as exc:
            raise NoAck(f"{op} failed: {exc}") from exc

    def describe(self, op: Op, payload: Message, extra: dict[str, Any] | None = None) -> str:
        wire = self.codec.encode(op, payload)
        if extra and isinstance(wire, dict):
            wire = {**wire, **extra}
        return f"{self.name}: emit {self.codec.event(op)!r} {shown(wire)}"

    def join(self, channel: str, after_seq: int | None = None) -> tuple[JoinAck, Any]:
        raw = self.call("join", join_payload(channel, after_seq))
        return self.codec.decode_join(raw), raw

    def leave(self, channel: str) -> Any:
        return self.call("leave", leave_payload(channel))

    def sync(self, channel: str, after_seq: int) -> tuple[SyncAck, Any]:
        raw = self.call("sync", sync_payload(channel, after_seq))
        return self.codec.decode_sync(raw), raw

    def send(
        self,
        channel: str,
        body: str,
        client_msg_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[SendAck, Any]:
        cmid = client_msg_id or str(uuid.uuid4())
        raw = self.call("send", send_payload(channel, cmid, body), extra)
        return self.codec.decode_send(raw), raw

    def emit_nowait(self, op: Op, payload: Message, callback: Callable[..., None]) -> None:
        """Emit without waiting (the rate-limit burst: not paced, bounded by the caller)."""
        self.sio.emit(
            self.codec.event(op),
            self.codec.encode(op, payload),
            namespace=namespace_of(self.codec) or "/",
            callback=callback,
        )

    # ----- pushes ---------------------------------------------------------------------
    def wait_for(self, done: Callable[[list[Message]], bool], timeout_s: float) -> bool:
        """Wait until ``done(pushes)`` (or a disconnect, or the timeout)."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while not done(self.pushes):
                left = deadline - time.monotonic()
                if left <= 0 or self.disconnected.is_set():
                    return done(self.pushes)
                self._arrived.wait(left)
            return True

    def bodies(self, channel: str | None = None) -> list[str]:
        return [
            str(m.get("body"))
            for m in list(self.pushes)
            if channel is None or m.get("channel") == channel
        ]


def connected(ctx: ProbeContext, token: str, name: str, url: str | None = None) -> ProbeClient:
    """A connected client (the caller closes it); raises Refused / NoConnection."""
    client = ProbeClient(ctx, token=token, url=url, name=name)
    client.connect()
    return client


__all__ = ["NoAck", "NoConnection", "ProbeClient", "Refused", "connected", "shown"]
