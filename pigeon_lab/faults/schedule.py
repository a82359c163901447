"""Run a scenario's fault schedule beside the load, against the supervised cluster.

A fault is a package (style.md): inject, heal, its window. Every fault that was
injected is healed at the end, whatever happens, and each window is recorded on
the history's clock (``time.monotonic_ns()``) for the checkers and the report.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


class FaultTarget(Protocol):
    """The part of the supervisor that faults drive (pigeon_lab.cluster.Cluster)."""

    def kill(self, name: str) -> None: ...
    def pause(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def restart(self, name: str) -> None: ...
    def drain(self, name: str) -> int | None: ...
    def failover(self) -> str: ...


INSTANT_KINDS = frozenset({"restart", "redis-failover"})
"""Faults that are over once injected: their window is the injection itself."""


@dataclass
class FaultRecord:
    """One fault as it ran: what, where, and when on the monotonic ns clock."""

    kind: str
    target: str
    start_t: int
    end_t: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class PlannedFault:
    """A fault of the scenario: at `at_s` after load start, for `duration_s` (None: instant)."""

    kind: str
    target: str
    at_s: float
    duration_s: float | None


def _inject(cluster: FaultTarget, fault: PlannedFault) -> Callable[[], None]:
    """Inject one fault; return its heal action (a no-op for faults that heal themselves)."""
    kind, target = fault.kind, fault.target
    if kind == "kill":
        cluster.kill(target)
        return lambda: cluster.restart(target)
    if kind == "pause":
        cluster.pause(target)
        return lambda: cluster.resume(target)
    if kind == "restart":
        cluster.restart(target)
        return lambda: None
    if kind == "drain":
        cluster.drain(target)
        return lambda: cluster.restart(target)
    if kind == "redis-failover":
        cluster.failover()
        return lambda: None
    raise ValueError(f"fault kind {kind!r} cannot be injected by the supervisor")


class FaultScheduler(threading.Thread):
    """Injects planned faults at their times relative to `start_t`, heals each after its
    duration, and heals everything still open on `stop()`."""

    def __init__(self, cluster: FaultTarget, plan: Sequence[PlannedFault]) -> None:
        super().__init__(name="fault-scheduler", daemon=True)
        self._cluster = cluster
        self._plan = sorted(plan, key=lambda f: f.at_s)
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._open: list[tuple[float, FaultRecord, Callable[[], None]]] = []
        self.records: list[FaultRecord] = []
        self.start_t = time.monotonic_ns()

    def begin(self) -> None:
        """Start the clock and the thread (load starts now)."""
        self.start_t = time.monotonic_ns()
        self.start()

    def _elapsed_s(self) -> float:
        return (time.monotonic_ns() - self.start_t) / 1e9

    def _heal(self, record: FaultRecord, heal: Callable[[], None]) -> None:
        try:
            heal()
        except Exception as exc:  # recorded, and the next heals still run
            record.error = f"heal failed: {exc}"
        record.end_t = time.monotonic_ns()

    def run(self) -> None:
        pending = list(self._plan)
        while not self._stop_event.is_set():
            now = self._elapsed_s()
            while pending and pending[0].at_s <= now:
                fault = pending.pop(0)
                record = FaultRecord(fault.kind, fault.target, time.monotonic_ns())
                with self._lock:
                    self.records.append(record)
                try:
                    heal = _inject(self._cluster, fault)
                except Exception as exc:  # recorded in faults.json and the report
                    record.error = f"inject failed: {exc}"
                    record.end_t = time.monotonic_ns()
                    continue
                if fault.kind in INSTANT_KINDS:
                    record.end_t = time.monotonic_ns()
                    continue
                # A window fault without a duration stays until the load ends (healed by stop()).
                until = math.inf if fault.duration_s is None else fault.at_s + fault.duration_s
                with self._lock:
                    self._open.append((until, record, heal))
            with self._lock:
                due = [o for o in self._open if o[0] <= now]
                self._open = [o for o in self._open if o[0] > now]
            for _, record, heal in due:
                self._heal(record, heal)
            self._stop_event.wait(0.05)

    def stop(self) -> list[FaultRecord]:
        """Stop scheduling and heal every fault still open; return the records."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=60)
        with self._lock:
            still_open, self._open = self._open, []
        for _, record, heal in still_open:
            self._heal(record, heal)
        return list(self.records)


def write_faults(path: Path, records: Sequence[FaultRecord]) -> None:
    """faults.json: a list of {kind, target, start_t, end_t, error} (ns, monotonic clock)."""
    path.write_text(json.dumps([asdict(r) for r in records], indent=2))
