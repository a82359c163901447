"""`pigeon-lab scenario run`: one scenario end to end, with Rich progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pigeon_lab.cli.run_view import RichRunView, progress_bar

console = Console(stderr=True)


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
    max_users: Annotated[
        int | None,
        typer.Option(min=1, help="refuse the scenario if it runs more simulated users"),
    ] = None,
    max_rate: Annotated[
        float | None,
        typer.Option(min=0, help="refuse the scenario if its sends/s over all users is higher"),
    ] = None,
) -> None:
    """Run SCENARIO: cluster up, load + faults, read-back, checkers, reports, gate.

    Exit code 0 when the gate passes, 1 when an invariant or threshold fails,
    2 for usage or environment errors.
    """
    from pigeon_lab.run import Distributed, Guards, run_scenario

    distributed = Distributed(master, expect_workers) if master else None

    with progress_bar(console) as progress:
        result = run_scenario(
            scenario,
            out=out,
            seed=seed,
            duration=duration,
            distributed=distributed,
            listeners=[RichRunView(progress)],
            guards=Guards(max_users, max_rate),
        )
    gate = result.report.gate
    verdict = "[bold green]PASS[/]" if result.exit_code == 0 else "[bold red]FAIL[/]"
    console.print(f"gate: {verdict}")
    for check in gate.checks:
        if not check.passed:
            console.print(f"  [red]✗[/] {check.name}: {check.message}")
    typer.echo(f"report: {(result.run_dir / 'report.html').resolve()}")
    raise typer.Exit(result.exit_code)
