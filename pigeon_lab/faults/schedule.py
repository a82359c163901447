"""Run a scenario's fault schedule beside the load: inject on time, heal every window.

Each fault's kind (``FAULT_KINDS``) injects it and returns its heal; a window is
healed at its end, an open one (no ``duration_s``) when the load ends, and every
fault still open is healed on ``stop()`` whatever happens. A fault that cannot be
injected or healed is recorded with its error (``faults.json``, the report) and the
schedule goes on. Times are ``time.monotonic_ns()``, the history's clock. Each
injection, heal and failure is also a run event (``pigeon_lab.events``), so the
terminal shows it as it happens.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pigeon_lab.errors import ConfigError
from pigeon_lab.events import FaultFailed, FaultHealed, FaultInjected, Phase, RunEvents
from pigeon_lab.faults.base import ClusterControl, FaultEnv, Heal, PlannedFault
from pigeon_lab.faults.registry import FAULT_KINDS


@dataclass
class FaultRecord:
    """One fault as it ran: what, where, with which params, when (monotonic ns), errors."""

    kind: str
    target: str
    start_t: int
    end_t: int | None = None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""


def label_of(fault: PlannedFault) -> str:
    """How the report names the fault's window (its kind's ``label``)."""
    kind = FAULT_KINDS.get(fault.kind)
    return kind.label(fault) if kind is not None else f"{fault.kind} {fault.target}"


@dataclass
class _Open:
    until: float
    index: int
    fault: PlannedFault
    record: FaultRecord
    heal: Heal


class FaultScheduler(threading.Thread):
    """Injects planned faults at their times from ``begin()``, heals each after its
    duration, and heals everything still open on ``stop()``. Also a context manager:
    ``with FaultScheduler(env, plan) as s:`` begins on entry and stops on exit."""

    def __init__(
        self,
        env: FaultEnv | ClusterControl | None,
        plan: Sequence[PlannedFault],
        events: RunEvents | None = None,
        faults_path: Path | None = None,
        *,
        wait_for_load: bool = False,
    ) -> None:
        super().__init__(name="fault-scheduler", daemon=True)
        if env is None and plan:
            raise ConfigError(
                "faults need the bundled cluster; an external target cannot be faulted",
                field="faults",
            )
        self._env = env if isinstance(env, FaultEnv) or env is None else FaultEnv(cluster=env)
        self._plan = sorted(enumerate(plan), key=lambda item: item[1].at_s)
        self._events = events or RunEvents()
        self._faults_path = faults_path
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._open: list[_Open] = []
        self.records: list[FaultRecord] = []
        self.start_t = time.monotonic_ns()
        self._aligned = threading.Event()
        if not wait_for_load:
            self._aligned.set()

    # ----- context manager -----
    def __enter__(self) -> FaultScheduler:
        self.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._plan:
                with self._events.phase(Phase.HEAL):
                    self.stop()
            else:
                self.stop()
        finally:
            if self._faults_path is not None:
                write_faults(self._faults_path, self.records)

    def begin(self) -> None:
        """Start the clock and the thread (the load starts now, unless ``wait_for_load``:
        then the clock starts at ``align``)."""
        self.start_t = time.monotonic_ns()
        self.start()

    def align(self, load_elapsed_s: float) -> None:
        """The load reports it has run ``load_elapsed_s``: ``at_s`` counts from its start
        (the load process takes seconds to boot; its users start when it says so). The
        first call sets the clock; later ones are ignored."""
        if not self._aligned.is_set():
            self.start_t = time.monotonic_ns() - int(load_elapsed_s * 1e9)
            self._aligned.set()

    def _elapsed_s(self) -> float:
        return (time.monotonic_ns() - self.start_t) / 1e9

    def _inject(self, index: int, fault: PlannedFault) -> None:
        label = label_of(fault)
        record = FaultRecord(
            fault.kind, fault.target, time.monotonic_ns(), params=dict(fault.params), label=label
        )
        with self._lock:
            self.records.append(record)
        kind = FAULT_KINDS.get(fault.kind)
        try:
            if kind is None or kind.inject is None:
                raise ValueError(f"fault kind {fault.kind!r} cannot be injected by this version")
            assert self._env is not None  # __init__ refuses a plan without an environment
            heal = kind.inject(self._env, fault)
            # a fault that picks its target when it strikes names it on its heal
            record.target = str(getattr(heal, "target", None) or record.target)
        except Exception as exc:  # recorded in faults.json and the report
            record.error = f"inject failed: {exc}"
            record.end_t = time.monotonic_ns()
            self._events.fire(
                FaultFailed(index, fault.kind, fault.target, label, "inject", str(exc))
            )
            return
        self._events.fire(
            FaultInjected(index, fault.kind, record.target, label, dict(fault.params))
        )
        if kind.window == "none":
            record.end_t = time.monotonic_ns()
            return
        # A window fault without a duration stays until the load ends (healed by stop()).
        until = math.inf if fault.duration_s is None else fault.at_s + fault.duration_s
        with self._lock:
            self._open.append(_Open(until, index, fault, record, heal))

    def _heal(self, item: _Open) -> None:
        fault, record = item.fault, item.record
        try:
            item.heal()
        except Exception as exc:  # recorded, and the next heals still run
            record.error = f"heal failed: {exc}"
            self._events.fire(
                FaultFailed(item.index, fault.kind, fault.target, record.label, "heal", str(exc))
            )
        else:
            self._events.fire(FaultHealed(item.index, fault.kind, fault.target, record.label))
        record.end_t = time.monotonic_ns()

    def run(self) -> None:
        pending = list(self._plan)
        while not self._aligned.is_set() and not self._stop_event.is_set():
            self._stop_event.wait(0.05)
        while not self._stop_event.is_set():
            now = self._elapsed_s()
            while pending and pending[0][1].at_s <= now:
                index, fault = pending.pop(0)
                self._inject(index, fault)
            with self._lock:
                due = [o for o in self._open if o.until <= now]
                self._open = [o for o in self._open if o.until > now]
            for item in due:
                self._heal(item)
            self._stop_event.wait(0.05)

    def stop(self) -> list[FaultRecord]:
        """Stop scheduling and heal every fault still open; return the records."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=60)
        with self._lock:
            still_open, self._open = self._open, []
        for item in still_open:
            self._heal(item)
        return list(self.records)


def write_faults(path: Path, records: Sequence[FaultRecord]) -> None:
    """faults.json: a list of {kind, target, start_t, end_t, error, params, label}."""
    path.write_text(json.dumps([asdict(r) for r in records], indent=2))


__all__ = ["FaultRecord", "FaultScheduler", "PlannedFault", "label_of", "write_faults"]
