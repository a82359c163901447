"""Aggregated latencies of the load process (no Locust import).

Every delivery's end-to-end latency is appended to one ``array('d')`` (8 bytes, one C
call) instead of firing one Locust ``request`` event each, which cost more than the
rest of the receive path; Locust sees a 1-in-``DELIVER_SAMPLE`` sample, named so.
Quantiles are exact (computed by sorting, off the hot path).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

DELIVER_SAMPLE = 32  # one Locust "deliver" event per this many deliveries (per process)


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


def summarize(values: Any) -> dict[str, Any]:
    """``{n, p50, p95, p99, max, mean}`` (ms, rounded; None values when empty)."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(ordered),
        "p50": round(_quantile(ordered, 0.5), 2),
        "p95": round(_quantile(ordered, 0.95), 2),
        "p99": round(_quantile(ordered, 0.99), 2),
        "max": round(ordered[-1], 2),
        "mean": round(sum(ordered) / len(ordered), 2),
    }


class LatencyLog:
    """Every latency (ms) of one kind; ``add`` is ``array.append``."""

    __slots__ = ("_mark", "add", "values")

    def __init__(self) -> None:
        self.values = array("d")
        self.add: Callable[[float], None] = self.values.append
        self._mark = 0

    def __len__(self) -> int:
        return len(self.values)

    def summary(self) -> dict[str, Any]:
        return summarize(self.values)

    def window(self) -> dict[str, Any]:
        """The summary of what was added since the last ``window()`` call."""
        end = len(self.values)
        out = summarize(self.values[self._mark : end])
        self._mark = end
        return out


__all__ = ["DELIVER_SAMPLE", "LatencyLog", "summarize"]
