"""One clock for a distributed run: each worker's clocks rebased on the master's.

The history's ``t`` is ``time.monotonic_ns()`` and ``wall`` is ``time.time_ns()`` of the
process that recorded the row. On one machine every process shares them; a worker on
another machine has a monotonic clock that started at its own boot and a wall clock off by
whatever its NTP allows, so its rows would sort wrongly against the master's (the fault
windows, the other workers' acks) and an end-to-end latency measured from another worker's
send time would be off by the difference.

At the handshake a worker asks the master for its clocks a few times (``ping`` / ``pong``
custom messages) and keeps the sample with the shortest round trip: the master read its
clocks about halfway through it (Cristian's algorithm). The shift is what the worker adds to
its own readings to get the master's. Clocks that agree within that uncertainty are left
alone: local workers share the master's clocks. The worker then stamps body send times and
measures delivery latency on the shifted wall clock (``LoadContext.wall_ns``), and shifts
its history's ``t`` and ``wall`` before shipping them (``rebase``).

``PIGEON_LAB_CLOCK_SKEW_S`` (tests only) makes this process's clocks read that many seconds
off, as a machine with another boot time and a wrong wall clock would.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

SKEW_ENV = "PIGEON_LAB_CLOCK_SKEW_S"
SAMPLES = 5
"""Round trips a worker measures at the handshake."""


def skew_ns() -> int:
    """The artificial skew of this process's clocks (``PIGEON_LAB_CLOCK_SKEW_S``), ns."""
    raw = os.environ.get(SKEW_ENV, "").strip()
    if not raw:
        return 0
    try:
        return int(float(raw) * 1e9)
    except ValueError:
        raise ValueError(f"{SKEW_ENV}={raw!r}: expected a number of seconds") from None


@dataclass(frozen=True)
class Readings:
    """Both clocks of one process at one moment (ns)."""

    mono_ns: int
    wall_ns: int

    @classmethod
    def now(cls, skew: int = 0) -> Readings:
        return cls(time.monotonic_ns() + skew, time.time_ns() + skew)


@dataclass(frozen=True)
class Sample:
    """One round trip: the worker's clocks when it asked and when the answer came, and the
    master's when it answered."""

    sent: Readings
    master: Readings
    received: Readings

    @property
    def rtt_ns(self) -> int:
        return self.received.mono_ns - self.sent.mono_ns


@dataclass(frozen=True)
class ClockShift:
    """What a worker adds to its clock readings to read the master's (ns)."""

    mono_ns: int = 0
    wall_ns: int = 0
    uncertainty_ns: int = 0  # half the round trip of the sample it came from


def estimate(samples: list[Sample]) -> ClockShift:
    """The shift from the round trip with the shortest time: the master's reading against
    the midpoint of the worker's; zero for a clock that agrees within half that trip."""
    if not samples:
        return ClockShift()
    best = min(samples, key=lambda s: s.rtt_ns)
    half = max(0, best.rtt_ns) // 2

    def shift(sent: int, master: int, received: int) -> int:
        offset = master - (sent + received) // 2
        return 0 if abs(offset) <= half else offset

    return ClockShift(
        shift(best.sent.mono_ns, best.master.mono_ns, best.received.mono_ns),
        shift(best.sent.wall_ns, best.master.wall_ns, best.received.wall_ns),
        half,
    )


def rebase(table: pa.Table, mono_ns: int, wall_ns: int) -> pa.Table:
    """``table`` (HISTORY_SCHEMA) with ``mono_ns`` added to ``t`` and ``wall_ns`` to ``wall``."""
    if not (mono_ns or wall_ns) or table.num_rows == 0:
        return table
    for name, by in (("t", mono_ns), ("wall", wall_ns)):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pc.add(table.column(i), by))
    return table


__all__ = [
    "SAMPLES",
    "SKEW_ENV",
    "ClockShift",
    "Readings",
    "Sample",
    "estimate",
    "rebase",
    "skew_ns",
]
