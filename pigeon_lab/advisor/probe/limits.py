"""The probe's restraint: a request pace shared by every check, and a connection budget.

A probe runs against deployments people use, so it must never look like a flood: every
HTTP request, connection and event (but the one bounded rate-limit burst) waits for the
shared pace, and families reserve the connections they hold before they start.
"""

from __future__ import annotations

import threading
import time


class Pace:
    """At most ``rate`` takes per second over all threads (a token bucket of one second)."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("the probe's rate must be > 0")
        self.rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._at = time.monotonic()
        self._lock = threading.Lock()
        self.taken = 0

    def take(self) -> None:
        """Block until one more request is allowed."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self._capacity, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    self.taken += 1
                    return
                wait = (1.0 - self._tokens) / self.rate
            time.sleep(wait)


class Budget:
    """A connection budget: ``reserve(n)`` waits until ``n`` are free (all at once, so two
    families can never each hold half of what they need)."""

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError("the connection budget must be >= 1")
        self.total = total
        self._free = total
        self._cond = threading.Condition()
        self.opened = 0
        self._open = 0
        self.peak = 0

    def reserve(self, n: int) -> int:
        """Reserve ``min(n, total)`` connections; returns how many were reserved."""
        n = min(n, self.total)
        with self._cond:
            self._cond.wait_for(lambda: self._free >= n)
            self._free -= n
        return n

    def release(self, n: int) -> None:
        with self._cond:
            self._free += n
            self._cond.notify_all()

    def opening(self) -> None:
        """Count a connection as it opens (for the report and the peak)."""
        with self._cond:
            self.opened += 1
            self._open += 1
            self.peak = max(self.peak, self._open)

    def closed(self) -> None:
        with self._cond:
            self._open = max(0, self._open - 1)


__all__ = ["Budget", "Pace"]
