"""Where the detail of a refusal goes: the node's log, at most once per interval per kind.

Clients get the protocol's codes and a fixed message; the library's text (a Redis error, the
JWT library's reason) is logged here instead. A hostile client can cause such refusals as
fast as it can send, so each kind is logged at most once per INTERVAL_S, with the number of
occurrences suppressed since the last line.
"""

from __future__ import annotations

import logging
import time

INTERVAL_S = 10.0


class Throttled:
    """`log.<level>` for each kind at most once per `interval_s` (see the module docstring)."""

    __slots__ = ("interval_s", "last", "log", "suppressed")

    def __init__(self, log: logging.Logger, interval_s: float = INTERVAL_S) -> None:
        self.log = log
        self.interval_s = interval_s
        self.last: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}

    def __call__(self, level: int, kind: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        last = self.last.get(kind)
        if last is not None and now - last < self.interval_s:
            self.suppressed[kind] = self.suppressed.get(kind, 0) + 1
            return
        if len(self.last) > 1024:  # kinds are a fixed few; never let the dict grow
            self.last.clear()
            self.suppressed.clear()
        self.last[kind] = now
        n = self.suppressed.pop(kind, 0)
        if n:
            msg += f" ({n} more like it in the last {self.interval_s:g} s)"
        self.log.log(level, msg, *args)


class QuietClientErrors(logging.Filter):
    """For uvicorn's error logger: what a client sent wrong (invalid UTF-8 in a websocket
    text frame, ...) as one throttled line without a traceback, not a traceback a frame."""

    PREFIXES = ("Invalid UTF-8", "Invalid HTTP request")

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(self.PREFIXES):
            return True
        record.exc_info = None
        record.exc_text = None
        now = time.monotonic()
        if now - self.last.get(message, -self.interval_s) < self.interval_s:
            return False
        self.last[message] = now
        return True
