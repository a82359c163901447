"""The figures the voice checkers report, as types (``register(NAME, metrics=T)``).

``VoiceSloMetrics`` is the voice section of the report: latency summaries, the timeline the
charts draw (with fault windows), and the presence and floor figures; the invariant
checkers carry a few figures of their own (ghost durations, wire duplicates, glare).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pigeon_lab.checkers.metrics import Metrics


@dataclass(frozen=True)
class Summary(Metrics):
    """Percentiles of one figure (ms unless the name says otherwise); None: nothing measured."""

    n: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        a = np.asarray([v for v in values if v == v], dtype=np.float64)
        if not len(a):
            return cls()
        p50, p95, p99 = (float(x) for x in np.percentile(a, [50, 95, 99]))
        return cls(len(a), p50, p95, p99, float(a.max()), float(a.mean()))


@dataclass(frozen=True)
class VoiceBucket(Metrics):
    """One time bucket of the voice timeline (``t_s`` from the run's start)."""

    t_s: float = 0.0
    joins: int = 0
    signals: int = 0
    grants: int = 0
    errors: int = 0
    join_p99: float | None = None
    relay_p50: float | None = None
    relay_p99: float | None = None
    roster_p99: float | None = None
    members: int = 0  # sessions live at the bucket's end


@dataclass(frozen=True)
class VoiceSloMetrics(Metrics):
    """The voice figures of a run (the report's voice section)."""

    join_ms: Summary = field(default_factory=Summary)
    roster_ms: Summary = field(default_factory=Summary)  # server ts to push received
    relay_ms: Summary = field(default_factory=Summary)  # signal committed to pushed to peer
    offer_answer_ms: Summary = field(default_factory=Summary)
    connected_ms: Summary = field(default_factory=Summary)
    grant_ms: Summary = field(default_factory=Summary)  # request to grant seen by requester
    handover_ms: Summary = field(default_factory=Summary)  # release to next holder's grant
    dead_time_ms: Summary = field(default_factory=Summary)  # holder died to floor freed
    ghost_s: Summary = field(default_factory=Summary)  # death to last observer's removal
    lease_s: float | None = None
    bound_s: float | None = None
    sessions: int = 0
    resumed: int = 0  # reconnects that kept their session
    rejoined: int = 0  # reconnects that had to join afresh (gone)
    grants: int = 0
    glare: int = 0
    timeline: list[VoiceBucket] = field(default_factory=list)


@dataclass(frozen=True)
class GhostMetrics(Metrics):
    """How long dead sessions stayed listed, against the bound (lease + reap + slack)."""

    judged: int = 0
    worst_s: float | None = None
    bound_s: float | None = None
    flaps: int = 0  # live sessions removed while their node was faulted


@dataclass(frozen=True)
class SignalMetrics(Metrics):
    """Wire duplicates the clients dropped, and signals whose addressee left first."""

    wire_duplicates: int = 0
    addressee_gone: int = 0


__all__ = [
    "GhostMetrics",
    "SignalMetrics",
    "Summary",
    "VoiceBucket",
    "VoiceSloMetrics",
]
