"""The typed events of one run: the one channel for progress (Locust's ``event.py`` is the model).

The run fires events; listeners take them: the CLI's Rich progress, the run journal
(``events.jsonl`` and the phases of ``run.json``), a test collecting what happened.
A listener that raises is reported on stderr and removed from nothing: the run goes
on, because progress must never break a run (and a broken listener must not hide
the events after it from the others).
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    """The phases of ``run_scenario``, in order."""

    CLUSTER = "cluster"
    PREFLIGHT = "preflight"
    LOAD = "load"
    HEAL = "heal"
    QUIESCE = "quiesce"
    READBACK = "readback"
    CHECK = "check"
    REPORT = "report"
    TEARDOWN = "teardown"


@dataclass(frozen=True)
class Event:
    """Base of every run event; ``t`` is ``time.monotonic_ns()`` (the history's clock)."""

    t: int = field(default_factory=time.monotonic_ns, kw_only=True)

    @property
    def name(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, **asdict(self)}


@dataclass(frozen=True)
class Note(Event):
    """Something a person running the tool wants to know (``cluster up: URL``)."""

    message: str


@dataclass(frozen=True)
class RunStarted(Event):
    """A run folder exists and the scenario is resolved."""

    run_id: str
    scenario: str
    seed: int
    started: str  # ISO 8601, UTC


@dataclass(frozen=True)
class TargetReady(Event):
    """The system under test is up: its URL, and the bundled cluster's info (no secret)."""

    url: str
    kind: str
    cluster: dict[str, Any] | None = None


@dataclass(frozen=True)
class LoadStarted(Event):
    users: int


@dataclass(frozen=True)
class LoadFinished(Event):
    """The load process ended; ``summary`` is its final line (``LoadSummary``)."""

    summary: dict[str, Any]


@dataclass(frozen=True)
class RunComplete(Event):
    """Everything the checkers need is in the run folder (the history was not cut short)."""


@dataclass(frozen=True)
class PhaseStarted(Event):
    phase: Phase
    detail: str = ""


@dataclass(frozen=True)
class PhaseEnded(Event):
    phase: Phase
    elapsed_s: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class LoadProgress(Event):
    """One progress line of the load process (about one a second)."""

    elapsed_s: float
    duration_s: float
    users: int
    sends_per_s: float
    acks: int
    errors: int
    recv: int
    deliver: int | None = None
    delivery_p99_ms: float | None = None
    pid: int | None = None
    cpu_s: float | None = None

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> LoadProgress:
        """From the load process's JSON progress line (unknown keys are ignored)."""

        def num(key: str, default: float = 0.0) -> float:
            v = line.get(key)
            return float(v) if isinstance(v, (int, float)) else default

        def opt(key: str) -> float | None:
            v = line.get(key)
            return float(v) if isinstance(v, (int, float)) else None

        deliver, pid = line.get("deliver"), line.get("pid")
        return cls(
            elapsed_s=num("elapsed_s"),
            duration_s=num("duration_s"),
            users=int(num("users")),
            sends_per_s=num("sends_per_s"),
            acks=int(num("acks")),
            errors=int(num("errors")),
            recv=int(num("recv")),
            deliver=deliver if isinstance(deliver, int) else None,
            delivery_p99_ms=opt("delivery_p99_ms"),
            pid=pid if isinstance(pid, int) else None,
            cpu_s=opt("cpu_s"),
        )


@dataclass(frozen=True)
class FaultInjected(Event):
    index: int
    kind: str
    target: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultHealed(Event):
    index: int
    kind: str
    target: str
    label: str


@dataclass(frozen=True)
class FaultFailed(Event):
    """A fault that could not be injected or healed; the run goes on and the report says so."""

    index: int
    kind: str
    target: str
    label: str
    stage: str  # "inject" or "heal"
    error: str


@dataclass(frozen=True)
class ReadbackProgress(Event):
    done: int
    total: int
    what: str = "channels"


Listener = Callable[[Event], None]


def describe(event: Event) -> str | None:
    """One line for a person about ``event`` (None: nothing worth a line of its own)."""
    if isinstance(event, Note):
        return event.message
    if isinstance(event, PhaseStarted):
        return f"{event.phase}" + (f": {event.detail}" if event.detail else "")
    if isinstance(event, PhaseEnded) and event.error:
        return f"{event.phase} failed after {event.elapsed_s:.1f} s: {event.error}"
    if isinstance(event, TargetReady):
        return f"target up: {event.url}"
    if isinstance(event, FaultInjected):
        return f"fault injected: {event.label}"
    if isinstance(event, FaultHealed):
        return f"fault healed: {event.label}"
    if isinstance(event, FaultFailed):
        return f"fault {event.stage} failed: {event.label}: {event.error}"
    return None


class PhaseHandle:
    """A phase begun with ``RunEvents.begin``; ``end`` fires its PhaseEnded once."""

    def __init__(self, events: RunEvents, phase: Phase) -> None:
        self.events, self.phase = events, phase
        self._t0 = time.monotonic()
        self.ended = False

    def end(self, error: BaseException | str | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        self.events.fire(PhaseEnded(self.phase, time.monotonic() - self._t0, error))


class RunEvents:
    """Listeners of one run; ``fire`` calls each in order and never raises."""

    def __init__(self, *listeners: Listener) -> None:
        self._listeners: list[Listener] = list(listeners)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def fire(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener must not break the run (Locust's rule)
                print(
                    f"pigeon-lab: event listener {getattr(listener, '__name__', listener)!r} "
                    f"failed on {event.name}:\n{traceback.format_exc(limit=3)}",
                    file=sys.stderr,
                )

    def note(self, message: str) -> None:
        self.fire(Note(message))

    def begin(self, phase: Phase, detail: str = "") -> PhaseHandle:
        """Fire PhaseStarted; the handle's ``end`` fires PhaseEnded."""
        self.fire(PhaseStarted(phase, detail))
        return PhaseHandle(self, phase)

    @contextmanager
    def phase(self, phase: Phase, detail: str = "") -> Iterator[None]:
        """Fire PhaseStarted, then PhaseEnded (with the error, if the block raised)."""
        handle = self.begin(phase, detail)
        try:
            yield
        except BaseException as exc:
            handle.end(exc)
            raise
        handle.end()


__all__ = [
    "Event",
    "FaultFailed",
    "FaultHealed",
    "FaultInjected",
    "Listener",
    "LoadFinished",
    "LoadProgress",
    "LoadStarted",
    "Note",
    "Phase",
    "PhaseEnded",
    "PhaseHandle",
    "PhaseStarted",
    "ReadbackProgress",
    "RunComplete",
    "RunEvents",
    "RunStarted",
    "TargetReady",
    "describe",
]
