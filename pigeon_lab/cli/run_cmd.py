"""`pigeon-lab scenario run`: one scenario end to end, with Rich progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
PHASE_MARK = "\u203a"  # a single right-pointing angle quote before each phase


def register(scenario_app: typer.Typer) -> None:
    """Attach `run` to the `scenario` group."""
    scenario_app.command("run")(run)


def run(
    scenario: Annotated[
        str, typer.Argument(help="a catalogue name (see `scenario list`) or a YAML file")
    ],
    out: Annotated[Path, typer.Option("--out", help="folder for the run folder")] = Path("reports"),
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    duration: Annotated[float | None, typer.Option(help="override workload.duration_s (s)")] = None,
    master: Annotated[
        str | None,
        typer.Option(
            "--master",
            help="distributed load: bind a Locust master here (HOST:PORT, e.g. 0.0.0.0:5557) "
            "and let `pigeon-lab worker --master-host` processes run the users",
        ),
    ] = None,
    expect_workers: Annotated[
        int, typer.Option(min=1, help="with --master: workers to wait for before starting")
    ] = 1,
) -> None:
    """Run SCENARIO: cluster up, load + faults, read-back, checkers, reports, gate.

    Exit code 0 when the gate passes, 1 when an invariant or threshold fails,
    2 for usage or environment errors.
    """
    from pigeon_lab.run import Distributed, run_scenario

    distributed = Distributed(master, expect_workers) if master else None

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("starting", total=None, detail="")

        def on_phase(message: str) -> None:
            progress.console.print(f"[cyan]{PHASE_MARK}[/] {message}")
            progress.update(task, description=message)

        def on_progress(p: dict[str, Any]) -> None:
            total = float(p.get("duration_s") or 0) or None
            detail = (
                f"users {p.get('users', 0)}  sends/s {p.get('sends_per_s', 0):.0f}  "
                f"acks {p.get('acks', 0)}  recv {p.get('recv', 0)}  errors {p.get('errors', 0)}"
            )
            progress.update(
                task, total=total, completed=float(p.get("elapsed_s", 0)), detail=detail
            )

        result = run_scenario(
            scenario,
            out=out,
            seed=seed,
            duration=duration,
            on_progress=on_progress,
            on_phase=on_phase,
            distributed=distributed,
        )
    gate = result.report.gate
    verdict = "[bold green]PASS[/]" if result.exit_code == 0 else "[bold red]FAIL[/]"
    console.print(f"gate: {verdict}")
    for check in gate.checks:
        if not check.passed:
            console.print(f"  [red]✗[/] {check.name}: {check.message}")
    typer.echo(f"report: {(result.run_dir / 'report.html').resolve()}")
    raise typer.Exit(result.exit_code)
