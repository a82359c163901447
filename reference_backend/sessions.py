"""Live connections: who each is, until when its token holds, and how the node ends one.

Token expiry is enforced on live sockets, both ways: at the token's `exp` the node sends the
connection a `closing` event (`{code: "expired"}`) and disconnects it, and any event that
arrives after `exp` (before the timer ran) is refused with `expired`. A client extends a
live connection with `refresh {token}`: a valid token for the same `sub` and `ws` moves the
connection's expiry to the new token's `exp` (one timer per connection, re-armed when it
fires early).

`closing` is the one way the node names why it ends a connection: `expired`, `draining`,
`slow_consumer` (written by the output cap, see speedups/wswriter).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import socketio

from reference_backend import auth, fastjson
from reference_backend.errors import ProtoError
from reference_backend.metrics import Metrics
from reference_backend.ratelimit import TokenBucket

log = logging.getLogger("reference_backend.sessions")

CLOSING_EVENT = "closing"
CLOSE_MESSAGES = {
    "expired": "the token expired; reconnect with a fresh one",
    "draining": "the node is draining; reconnect",
    "slow_consumer": "the connection did not read its output; reconnect and resync",
}


def closing_packet(code: str) -> str:
    """The Socket.IO EVENT packet `closing {code, message}` of the default namespace."""
    body = {"code": code, "message": CLOSE_MESSAGES.get(code, code)}
    return "2" + fastjson.dumps([CLOSING_EVENT, body])


@dataclass(slots=True)
class Conn:
    """Per-connection state: identity, rate bucket, rooms, reads in flight, token expiry."""

    identity: auth.Identity
    bucket: TokenBucket
    expires_at: float  # time.monotonic() at which the token's exp passes
    user_key: str  # "<ws>/<user>": the key of the shared per-user limit
    rooms: set[str] = field(default_factory=set)
    reads: int = 0
    timer: asyncio.TimerHandle | None = None

    @property
    def workspace(self) -> str:
        return self.identity.workspace


def monotonic_deadline(exp: float) -> float:
    """A unix `exp` on the monotonic clock (the one event handling reads)."""
    return time.monotonic() + (exp - time.time())


class Sessions:
    """Opens, expires, refreshes and ends the node's connections."""

    def __init__(self, sio: socketio.AsyncServer, settings: Any, metrics: Metrics) -> None:
        self.sio = sio
        self.s = settings
        self.metrics = metrics
        self.conns: dict[str, Conn] = {}

    def open(self, sid: str, identity: auth.Identity) -> Conn:
        conn = Conn(
            identity,
            TokenBucket(self.s.conn_rate, self.s.conn_burst),
            monotonic_deadline(identity.exp),
            f"{identity.workspace}/{identity.user}",
        )
        self.conns[sid] = conn
        self._arm(sid, conn)
        return conn

    def close(self, sid: str) -> None:
        conn = self.conns.pop(sid, None)
        if conn is not None and conn.timer is not None:
            conn.timer.cancel()

    def _arm(self, sid: str, conn: Conn) -> None:
        delay = max(0.0, conn.expires_at - time.monotonic())
        conn.timer = asyncio.get_running_loop().call_later(delay, self._due, sid)

    def _due(self, sid: str) -> None:
        conn = self.conns.get(sid)
        if conn is None:
            return
        if conn.expires_at > time.monotonic():  # refreshed meanwhile
            self._arm(sid, conn)
            return
        conn.timer = None
        asyncio.get_running_loop().create_task(self.end(sid, "expired"))

    def refresh(self, conn: Conn, args: tuple[Any, ...]) -> dict[str, Any]:
        """`refresh {token}`: extend the connection to the new token's exp."""
        if len(args) != 1 or type(args[0]) is not dict:
            raise ProtoError("bad_request", "refresh takes one payload object {token}")
        identity = auth.check(args[0].get("token"), self.s.jwt_secret)
        old = conn.identity
        if identity.user != old.user or identity.workspace != old.workspace:
            raise ProtoError("forbidden", "a refresh token must name the same sub and ws")
        if identity.exp > old.exp:
            conn.identity = identity
            conn.expires_at = monotonic_deadline(identity.exp)
        return {"ok": True, "exp": int(conn.identity.exp)}

    async def end(self, sid: str, code: str) -> None:
        """Tell the connection why (`closing`), then disconnect it."""
        if sid not in self.conns:
            return
        self.metrics.cuts.labels(reason=code).inc()
        try:
            message = {"code": code, "message": CLOSE_MESSAGES.get(code, code)}
            await self.sio.emit(CLOSING_EVENT, message, to=sid, ignore_queue=True)  # local
            await self.sio.disconnect(sid, ignore_queue=True)
        except Exception:  # broad on purpose: a half-closed socket must not stop the caller
            log.debug("ending %s (%s) failed", sid, code, exc_info=True)
