"""Prometheus metrics of one node, in a private registry (no global state between apps).

The per-event series (events, acks, errors, ack latency, broadcasts) are plain ints and
lists updated on the hot path and turned into metric families only when /metrics is
scraped: prometheus_client's own Counter/Histogram take a lock per update, which at tens of
thousands of updates a second was measurable. Rare series keep prometheus_client objects.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

LATENCY_BUCKETS_S = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
KNOWN_EVENTS = ("join", "leave", "send", "sync", "refresh", "unknown")

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# *_created series only add scrape noise here (prometheus_client leaves it unannotated)
cast("Callable[[], None]", disable_created_metrics)()


class _Latency:
    """One histogram child: bucket counts (non-cumulative; +Inf last), sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (le = "<=")
        self.counts[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.total += seconds


class EventStats(Collector):
    """The hot-path series as local numbers, exported on scrape."""

    def __init__(self) -> None:
        self.events = dict.fromkeys(KNOWN_EVENTS, 0)
        self.acks: dict[tuple[str, str], int] = {(e, "ok"): 0 for e in KNOWN_EVENTS}
        self.errors: dict[str, int] = {}
        self.latency = {e: _Latency() for e in KNOWN_EVENTS}
        self.broadcasts = 0

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily("pigeon_events", "Events received", labels=["event"])
        for event, n in self.events.items():
            events.add_metric([event], n)
        yield events
        acks = CounterMetricFamily(
            "pigeon_acks",
            "Acks sent by event and result (ok or error code)",
            labels=["event", "result"],
        )
        for (event, result), n in sorted(self.acks.items()):
            acks.add_metric([event, result], n)
        yield acks
        errors = CounterMetricFamily("pigeon_errors", "Error acks by code", labels=["code"])
        for code, n in sorted(self.errors.items()):
            errors.add_metric([code], n)
        yield errors
        latency = HistogramMetricFamily(
            "pigeon_ack_latency_seconds", "Time from event receipt to ack", labels=["event"]
        )
        for event, h in self.latency.items():
            buckets, cumulative = [], 0
            for bound, n in zip((*map(str, LATENCY_BUCKETS_S), "+Inf"), h.counts, strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            latency.add_metric([event], buckets, h.total)
        yield latency
        yield CounterMetricFamily(
            "pigeon_broadcasts", "message events emitted to rooms", value=self.broadcasts
        )


class Metrics:
    """The node's metrics; `observe` and `broadcast` are the hot path."""

    def __init__(self, node: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.info = Gauge("pigeon_node_info", "Node identity", ["node"], registry=r)
        self.info.labels(node=node).set(1)
        self.connections = Gauge("pigeon_connections", "Open Socket.IO connections", registry=r)
        self.connects = Counter(
            "pigeon_connects_total", "Connection attempts by result", ["result"], registry=r
        )
        self.stats = EventStats()
        r.register(self.stats)
        self.internal = Counter(
            "pigeon_internal_errors_total", "Unexpected handler exceptions", registry=r
        )
        self.publish_failures = Counter(
            "pigeon_adapter_publish_failures_total",
            "Adapter publishes given up (other nodes missed a broadcast)",
            registry=r,
        )
        self.ready = Gauge("pigeon_ready", "1 when /readyz answers 200", registry=r)
        self.flaw_drops = Counter(
            "pigeon_flaw_dropped_writes_total", "Writes dropped by ack-before-persist", registry=r
        )
        self.cuts = Counter(
            "pigeon_server_disconnects_total",
            "Connections the node ended, by reason (expired, slow_consumer, draining, abuse)",
            ["reason"],
            registry=r,
        )
        self.junk = Counter(
            "pigeon_malformed_packets_total",
            "Packets dropped as malformed, by layer (engineio, socketio, post)",
            ["layer"],
            registry=r,
        )
        self.refused_reads = Counter(
            "pigeon_read_refusals_total",
            "Reads refused by the read gate (per_connection, queue_timeout)",
            ["why"],
            registry=r,
        )

    def observe(self, event: str, seconds: float, code: str | None) -> None:
        """Count one answered event: `code` None means ok."""
        s = self.stats
        s.events[event] += 1
        s.latency[event].observe(seconds)
        key = (event, code or "ok")
        s.acks[key] = s.acks.get(key, 0) + 1
        if code is not None:
            s.errors[code] = s.errors.get(code, 0) + 1

    def broadcast(self) -> None:
        self.stats.broadcasts += 1

    def render(self) -> bytes:
        return generate_latest(self.registry)
