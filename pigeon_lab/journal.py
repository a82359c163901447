"""The run journal: a listener of the run's events that writes ``events.jsonl`` as they
happen and ``run.json`` once, at the end, whatever happened.

``run.json`` is a ``RunMeta`` built in one place from what the events said (the run's
start, its target, the load's start and end on the history's clock, its summary, each
phase and its error), so that a failed run's folder still says how far it got:
``complete`` stays false and ``error`` names the failure.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from pigeon_lab import __version__
from pigeon_lab.events import (
    Event,
    LoadFinished,
    LoadStarted,
    PhaseEnded,
    RunComplete,
    RunStarted,
    TargetReady,
)


@dataclass(frozen=True)
class PhaseRecord:
    phase: str
    elapsed_s: float
    error: str | None


@dataclass(frozen=True)
class RunMeta:
    """``run.json`` (docs/interfaces.md, "Run folder")."""

    id: str
    scenario: str
    seed: int | None
    started: str | None
    finished: str
    complete: bool
    tool_version: str = __version__
    target: str | None = None
    target_kind: str | None = None
    cluster: dict[str, Any] | None = None
    load_start_t: int | None = None
    load_end_t: int | None = None
    load_summary: dict[str, Any] | None = None
    error: str | None = None
    phases: list[PhaseRecord] = field(default_factory=list)

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(data, indent=2, default=str)


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


class RunJournal:
    """Listen to a run's events; ``with RunJournal(run_dir) as j:`` writes ``run.json`` on exit."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._events: TextIO | None = None
        self._started: RunStarted | None = None
        self._target: TargetReady | None = None
        self._load_start: int | None = None
        self._load_end: int | None = None
        self._summary: dict[str, Any] | None = None
        self._complete = False
        self._error: str | None = None
        self._phases: list[PhaseRecord] = []

    def __call__(self, event: Event) -> None:
        """The listener: remember what run.json needs, append the event to events.jsonl."""
        if isinstance(event, RunStarted):
            self._started = event
        elif isinstance(event, TargetReady):
            self._target = event
        elif isinstance(event, LoadStarted):
            self._load_start = event.t
        elif isinstance(event, LoadFinished):
            self._load_end, self._summary = event.t, event.summary
        elif isinstance(event, RunComplete):
            self._complete = True
        elif isinstance(event, PhaseEnded):
            self._phases.append(
                PhaseRecord(str(event.phase), round(event.elapsed_s, 3), event.error)
            )
            if event.error and self._error is None:
                self._error = event.error
        if self._events is not None:
            line = json.dumps(event.to_dict(), default=_jsonable)
            self._events.write(line + "\n")
            self._events.flush()

    def __enter__(self) -> RunJournal:
        self._events = (self.run_dir / "events.jsonl").open("a", encoding="utf-8")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self._error is None:
            self._error = f"{type(exc).__name__}: {exc}"
        if exc is not None and self._load_start is not None and self._load_end is None:
            self._load_end = time.monotonic_ns()
        (self.run_dir / "run.json").write_text(self.meta().to_json())
        if self._events is not None:
            self._events.close()
            self._events = None

    def meta(self) -> RunMeta:
        """What run.json says now."""
        s, t = self._started, self._target
        return RunMeta(
            id=s.run_id if s else self.run_dir.name,
            scenario=s.scenario if s else self.run_dir.name,
            seed=s.seed if s else None,
            started=s.started if s else None,
            finished=datetime.now(UTC).isoformat(),
            complete=self._complete and self._error is None,
            target=t.url if t else None,
            target_kind=t.kind if t else None,
            cluster=t.cluster if t else None,
            load_start_t=self._load_start,
            load_end_t=self._load_end,
            load_summary=self._summary,
            error=self._error,
            phases=list(self._phases),
        )


__all__ = ["PhaseRecord", "RunJournal", "RunMeta"]
