"""The per-connection token bucket (per user and per workspace: shared_limits).

Lazy refill on take (no timers): a take costs a clock read and a few float ops.
"""

from __future__ import annotations

import time


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take()` says whether one was available."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        t = time.monotonic() if now is None else now
        tokens = self.tokens + (t - self.stamp) * self.rate
        self.stamp = t
        if tokens > self.burst:
            tokens = self.burst
        if tokens < 1.0:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1.0
        return True
