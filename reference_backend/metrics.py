"""Prometheus metrics of one node, in a private registry (no global state between apps)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS_S = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)
KNOWN_EVENTS = ("join", "leave", "send", "sync")

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

disable_created_metrics()  # *_created series only add scrape noise here


class Metrics:
    """The node's counters; label children are pre-bound for the hot path."""

    def __init__(self, node: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.info = Gauge("pigeon_node_info", "Node identity", ["node"], registry=r)
        self.info.labels(node=node).set(1)
        self.connections = Gauge("pigeon_connections", "Open Socket.IO connections", registry=r)
        self.connects = Counter(
            "pigeon_connects_total", "Connection attempts by result", ["result"], registry=r
        )
        self.events = Counter("pigeon_events_total", "Events received", ["event"], registry=r)
        self.acks = Counter(
            "pigeon_acks_total", "Acks sent by event and result (ok or error code)",
            ["event", "result"], registry=r,
        )
        self.errors = Counter("pigeon_errors_total", "Error acks by code", ["code"], registry=r)
        self.latency = Histogram(
            "pigeon_ack_latency_seconds", "Time from event receipt to ack", ["event"],
            buckets=LATENCY_BUCKETS_S, registry=r,
        )
        self.internal = Counter(
            "pigeon_internal_errors_total", "Unexpected handler exceptions", registry=r
        )
        self.broadcasts = Counter(
            "pigeon_broadcasts_total", "message events emitted to rooms", registry=r
        )
        self.publish_failures = Counter(
            "pigeon_adapter_publish_failures_total",
            "Adapter publishes given up (other nodes missed a broadcast)", registry=r,
        )
        self.ready = Gauge("pigeon_ready", "1 when /readyz answers 200", registry=r)
        self.flaw_drops = Counter(
            "pigeon_flaw_dropped_writes_total", "Writes dropped by ack-before-persist", registry=r
        )
        self._ev = {e: self.events.labels(event=e) for e in (*KNOWN_EVENTS, "unknown")}
        self._lat = {e: self.latency.labels(event=e) for e in (*KNOWN_EVENTS, "unknown")}
        self._ok = {e: self.acks.labels(event=e, result="ok") for e in (*KNOWN_EVENTS, "unknown")}

    def observe(self, event: str, seconds: float, code: str | None) -> None:
        """Count one answered event: `code` None means ok."""
        self._ev[event].inc()
        self._lat[event].observe(seconds)
        if code is None:
            self._ok[event].inc()
        else:
            self.acks.labels(event=event, result=code).inc()
            self.errors.labels(code=code).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
