"""The ``slo`` verdict's metrics as types: what the slo checker builds and readers read.

``Verdict.metrics`` (and report.json) carry ``SloMetrics.to_dict()``; a reader calls
``SloMetrics.from_verdict(verdict)`` and uses attributes. The field names are the
JSON keys and the gate's metric paths (``ack_latency_ms.p99``, ``timeline.3.errors``,
``per_workspace.*.ack_p99``, ``faults.0.time_to_recovery_s``, ``faults.*.acked_lost``,
``per_group.clients.delivery_p99``). Times (``t_s``,
``start_s``) are seconds from the history's first row; None: nothing to measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pigeon_lab.checkers.metrics import Metrics


@dataclass(frozen=True)
class LatencySummary(Metrics):
    """Exact summary of a series (ms): count, percentiles, max and mean."""

    n: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class TimelineBucket(Metrics):
    """One ``bucket_s`` wide slice of the run; percentiles from a 1% log histogram."""

    t_s: float = 0.0
    sends: int = 0
    acks: int = 0
    deliveries: int = 0
    errors: int = 0
    reconnects: int = 0
    availability: float | None = None
    ack_p50: float | None = None
    ack_p99: float | None = None
    delivery_p50: float | None = None
    delivery_p99: float | None = None


@dataclass(frozen=True)
class WorkspaceFigures(Metrics):
    """One tenant's sends, deliveries and latency percentiles (1% log histogram)."""

    sends: int = 0
    deliveries: int = 0
    ack_p50: float | None = None
    ack_p99: float | None = None
    delivery_p50: float | None = None
    delivery_p99: float | None = None


@dataclass(frozen=True)
class FaultFigures(Metrics):
    """One fault's window and how clients felt it (``slo_faults.py`` defines each figure):
    the first error after its start, recovery after its heal (every affected client acked
    again), reconnect times, availability and acked writes lost inside the window."""

    kind: str = ""
    target: str = ""
    start_s: float = 0.0
    end_s: float | None = None
    time_to_first_error_s: float | None = None
    time_to_recovery_s: float | None = None
    label: str = ""
    affected_clients: int = 0
    recovered_clients: int = 0
    reconnects: int = 0
    reconnect_p50_ms: float | None = None
    reconnect_p99_ms: float | None = None
    max_reconnects_per_s: int = 0
    max_connect_attempts_per_s: int = 0
    sends: int = 0
    availability: float | None = None
    acked_lost: int | None = None


@dataclass(frozen=True)
class GroupFigures(Metrics):
    """One client group's users, acks, deliveries, latency and reconnects (exact)."""

    users: int = 0
    acks: int = 0
    deliveries: int = 0
    ack_p50: float | None = None
    ack_p99: float | None = None
    delivery_p50: float | None = None
    delivery_p99: float | None = None
    reconnects: int = 0
    reconnect_p99: float | None = None


@dataclass(frozen=True)
class SloMetrics(Metrics):
    """Liveness and latency figures of one run (invariant 7)."""

    ack_latency_ms: LatencySummary = field(default_factory=LatencySummary)
    delivery_latency_ms: LatencySummary = field(default_factory=LatencySummary)
    reconnect_ms: LatencySummary = field(default_factory=LatencySummary)
    availability: float | None = None
    """Sends acked within the ack timeout / sends (once per ``client_msg_id``)."""
    timeline: list[TimelineBucket] = field(default_factory=list)
    per_workspace: dict[str, WorkspaceFigures] = field(default_factory=dict)
    faults: list[FaultFigures] = field(default_factory=list)
    per_group: dict[str, GroupFigures] = field(default_factory=dict)
    node_rss_max_mb: float | None = None
    """The largest resident memory any backend node had (None: not sampled)."""
    node_rss_growth_mb: float | None = None
    """The most any node grew from its first sample to its largest (None: not sampled)."""
    """Per client group (``topology.client_groups``; the rest, or everyone, are ``clients``)."""

    def overall(self) -> dict[str, Any]:
        """The run-wide figures (everything but the timeline, tenants and faults), JSON-ready."""
        return {
            "ack_latency_ms": self.ack_latency_ms.to_dict(),
            "delivery_latency_ms": self.delivery_latency_ms.to_dict(),
            "reconnect_ms": self.reconnect_ms.to_dict(),
            "availability": self.availability,
        }
