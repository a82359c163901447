"""One socket of a voice member: the lean client, its in-flight calls, and its rows.

A member normally has one link; during a device switch the old link lingers for a moment
beside the new one (it holds the superseded session, which must receive nothing more).
Acks and pushes arrive in the link's reader greenlet: handlers only record and hand over,
the member's loop does the rest. Imports gevent: load process only.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import socketio

from pigeon_lab.history.recorder import Recorder
from pigeon_lab.history.voice import VoiceKind, detail
from pigeon_lab.load.lean_client import LeanSocketIOClient

_mono = time.monotonic
AckFn = Callable[[Any], None]


@dataclass
class Call:
    """An operation waiting for its ack."""

    event: str
    sent: float
    deadline: float
    on_ack: AckFn
    on_lost: Callable[[str], None]  # "timeout" or "disconnect"


@dataclass(frozen=True)
class Who:
    """Whose rows a link records."""

    member: str
    workspace: str
    room: str


class Link:
    """A voice socket: connect, call with an ack timeout, record rows as its session."""

    def __init__(self, who: Who, rec: Recorder, number: int) -> None:
        self.who = who
        self.rec = rec
        self.number = number  # the member's n-th socket
        self.sio = LeanSocketIOClient()
        self.inc: int | None = None  # the session this socket holds
        self.node: str | None = None
        self.calls: dict[int, Call] = {}
        self._next = 0
        self.lingering = False  # superseded by the member's newer socket
        self.closed = False

    # ----- rows -----
    def row(self, kind: VoiceKind, inc: int | None = None, **kw: Any) -> None:
        fields = kw.pop("d", {})
        self.rec.record(
            kind,
            self.who.member,
            self.who.member,
            self.who.workspace,
            self.node,
            channel=kw.pop("channel", self.who.room),
            detail=detail(inc=self.inc if inc is None else inc, link=self.number, **fields),
            **kw,
        )

    # ----- connection -----
    def connect(self, url: str, auth: dict[str, Any], timeout_s: float) -> str | None:
        """Connect; None when connected, else the error (recorded either way)."""
        t0 = _mono()
        try:
            self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=timeout_s)
        except (socketio.exceptions.ConnectionError, ValueError, OSError) as exc:
            err = f"connection: {exc}"[:200]
            self.row(VoiceKind.CONNECT, error=err, latency_ms=(_mono() - t0) * 1000)
            return err
        self.row(VoiceKind.CONNECT, latency_ms=(_mono() - t0) * 1000)
        return None

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected) and not self.closed

    def close(self) -> None:
        self.closed = True
        if self.sio.connected:
            with contextlib.suppress(Exception):  # a broken socket closing: nothing to record
                self.sio.disconnect()

    # ----- calls -----
    def call(
        self,
        event: str,
        payload: dict[str, Any],
        on_ack: AckFn,
        on_lost: Callable[[str], None],
        timeout_s: float,
    ) -> bool:
        """Emit with an ack; False when not connected (``on_lost`` is not called then)."""
        if not self.connected:
            return False
        self._next += 1
        n = self._next
        now = _mono()
        self.calls[n] = Call(event, now, now + timeout_s, on_ack, on_lost)

        def acked(*args: Any) -> None:
            call = self.calls.pop(n, None)
            if call is not None:
                call.on_ack(args[0] if args else None)

        try:
            self.sio.emit(event, payload, callback=acked)
        except socketio.exceptions.SocketIOError:
            self.calls.pop(n, None)
            return False
        return True

    def expire(self, now: float) -> None:
        """Calls past their deadline: lost by timeout."""
        for n, call in list(self.calls.items()):
            if call.deadline <= now:
                del self.calls[n]
                call.on_lost("timeout")

    def lost(self) -> None:
        """The socket is gone: every call is lost by disconnect."""
        calls, self.calls = self.calls, {}
        for call in calls.values():
            call.on_lost("disconnect")

    def next_deadline(self) -> float | None:
        return min((c.deadline for c in self.calls.values()), default=None)


__all__ = ["Call", "Link", "Who"]
