"""A live connection renews its token before it expires, as a long-lived client must.

The user's token comes from the run's issuer (``LoadContext.issued``: an ``IssuedToken``
with its ``exp``). ``RefreshTimer`` (pure) says when to renew: a third of the token's life
before ``exp``, at most ``REFRESH_MARGIN_S``. ``LiveToken`` (a mixin of the chat user) then
gets a new token (``LoadContext.renewed``) and, when the target has the extension
(``capabilities.token_refresh``; the bundled reference backend has it), sends
``refresh {token}`` on the live connection; a target without it, a refused refresh or one
unanswered within the ack timeout falls back to a deliberate reconnect, which takes the
new token. Each renewal is one ``token_refresh`` row in the history: ``detail`` ``refresh``
or ``reconnect``, ``latency_ms`` for an acked refresh, ``error`` the refusal code (or
``timeout``) of a failed one. Checkers do not read these rows. No Locust import here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pigeon_lab.history.schema import Kind
from pigeon_lab.issuers import REFRESH_MARGIN_S, IssuedToken
from pigeon_lab.load.context import LoadContext
from pigeon_lab.protocol.codec import refusal_code

REFRESH_EVENT = "refresh"


@dataclass
class RefreshTimer:
    """When to renew the token of the current connection (monotonic seconds)."""

    refresh_at: float | None = None
    answer_by: float | None = None  # a refresh is on its way: its ack is due by then

    def arm(self, exp: float | None, now: float, wall: float) -> None:
        """The connection holds a token valid until ``exp`` (unix seconds; None: forever)."""
        self.answer_by = None
        if exp is None:
            self.refresh_at = None
            return
        left = exp - wall
        lead = min(REFRESH_MARGIN_S, max(0.5, left / 3))
        self.refresh_at = now + max(0.0, left - lead)

    def due(self, now: float) -> bool:
        return self.answer_by is None and self.refresh_at is not None and now >= self.refresh_at

    def overdue(self, now: float) -> bool:
        return self.answer_by is not None and now >= self.answer_by

    def next_deadline(self) -> float | None:
        return self.answer_by if self.answer_by is not None else self.refresh_at

    def clear(self) -> None:
        self.refresh_at = self.answer_by = None


class LiveToken:
    """The chat user's token renewal (see the module docstring)."""

    ctx: LoadContext
    sio: Any
    ns: str | None
    refresh: RefreshTimer
    ack_timeout_s: float
    _closing: str | None  # the reason of the node's `closing` event, for the disconnect row

    def _row(self, kind: Kind, **kw: Any) -> None:
        raise NotImplementedError  # the user's

    def _disconnect(self) -> None:
        raise NotImplementedError  # the user's

    def _on_closing(self, data: Any = None) -> None:
        """The node says why it ends the connection (expired, slow_consumer, draining)."""
        self._closing = refusal_code(data)

    def _token_connected(self, issued: IssuedToken) -> None:
        """A connection was made with ``issued``: schedule its renewal."""
        self.refresh.arm(issued.exp, time.monotonic(), time.time())

    def _tick_token(self, now: float, connected: bool, workspace: str, user: str) -> None:
        """Renew when due; fall back to a reconnect when a refresh went unanswered."""
        if not connected:
            return
        if self.refresh.overdue(now):
            self._reconnect_for_token("timeout")
        elif self.refresh.due(now):
            issued = self.ctx.renewed(workspace, user)
            if not self.ctx.token_refresh:
                self._reconnect_for_token(None)
                return
            self.refresh.answer_by = now + self.ack_timeout_s
            try:
                self.sio.emit(
                    REFRESH_EVENT,
                    {"token": issued.value},
                    namespace=self.ns,
                    callback=lambda *args: self._refreshed(issued, now, args),
                )
            except Exception:  # broad on purpose: not connected; the disconnect takes it
                self.refresh.clear()

    def _refreshed(self, issued: IssuedToken, started: float, args: tuple[Any, ...]) -> None:
        ack = args[0] if args else None
        if isinstance(ack, dict) and ack.get("ok") is True:
            latency = (time.monotonic() - started) * 1000
            self._row(Kind.TOKEN_REFRESH, latency_ms=latency, detail="refresh")
            self.refresh.arm(issued.exp, time.monotonic(), time.time())
            return
        err = ack.get("error") if isinstance(ack, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        self._reconnect_for_token(str(code or "malformed"))

    def _reconnect_for_token(self, error: str | None) -> None:
        """Reconnect on purpose: the reconnect takes the renewed token."""
        self._row(Kind.TOKEN_REFRESH, error=error, detail="reconnect")
        self.refresh.clear()
        self._disconnect()


__all__ = ["REFRESH_EVENT", "LiveToken", "RefreshTimer"]
