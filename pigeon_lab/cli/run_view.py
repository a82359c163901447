"""The terminal's view of a run: a listener of its events that drives a Rich progress bar
and prints phases, faults (injected, healed, failed) and notes as they happen."""

from __future__ import annotations

from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from pigeon_lab.events import Event, FaultFailed, LoadProgress, PhaseStarted, describe

PHASE_MARK = "\u203a"  # a single right-pointing angle quote before each line


def progress_bar(console: object) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,  # type: ignore[arg-type]
        transient=False,
    )


class RichRunView:
    """Listener: one line per event worth one, and the load's progress on the bar."""

    def __init__(self, progress: Progress, prefix: str = "") -> None:
        self.progress = progress
        self.prefix = prefix
        self.task: TaskID = progress.add_task("starting", total=None, detail="")

    def __call__(self, event: Event) -> None:
        if isinstance(event, LoadProgress):
            detail = (
                f"users {event.users}  sends/s {event.sends_per_s:.0f}  acks {event.acks}  "
                f"recv {event.recv}  errors {event.errors}"
            )
            self.progress.update(
                self.task,
                total=event.duration_s or None,
                completed=event.elapsed_s,
                detail=detail,
            )
            return
        line = describe(event)
        if line is None:
            return
        style = "red" if isinstance(event, FaultFailed) else "cyan"
        self.progress.console.print(f"[{style}]{PHASE_MARK}[/] {self.prefix}{escape(line)}")
        if isinstance(event, PhaseStarted):
            self.progress.update(self.task, description=str(event.phase))


__all__ = ["PHASE_MARK", "RichRunView", "progress_bar"]
