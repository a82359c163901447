"""`pigeon-lab selftest`: each deliberate flaw must make its checker fail; the correct backend
must pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pigeon_lab.cli.run_view import PHASE_MARK
from pigeon_lab.events import Event, describe
from pigeon_lab.selftest import CaseResult, SelftestResult, case_names

console = Console(stderr=True)


def _table(result: SelftestResult) -> Table:
    table = Table(title=f"selftest ({result.out})")
    table.add_column("case", no_wrap=True, style="bold")
    table.add_column("flaw", no_wrap=True)
    table.add_column("expected to fail")
    table.add_column("what failed")
    table.add_column("verdict", no_wrap=True)
    for r in result.results:
        verdict = "[bold green]OK[/]" if r.ok else "[bold red]NOT OK[/]"
        failed = ", ".join(r.failed) or ("(run error)" if r.error else "nothing")
        table.add_row(
            r.case.name,
            r.case.flaw or "-",
            ", ".join(sorted(r.case.expect_fail)) or "nothing (all pass)",
            escape(failed),
            verdict,
        )
    return table


def selftest(
    case: Annotated[
        list[str] | None,
        typer.Option("--case", help=f"run only this case (repeatable): {', '.join(case_names())}"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="folder for the runs (default reports/selftest-<stamp>)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
) -> None:
    """Prove the checkers can fail: run each backend flaw and the correct backend.

    Every case is a short smoke run on the bundled cluster. Exit code 0 when every
    case behaved as expected (flaw caught by its checker, correct backend passing
    every checker), 1 otherwise, 2 for usage or environment errors.
    """
    from pigeon_lab.selftest import run_selftest

    def on_event(name: str, event: Event) -> None:
        line = describe(event)
        if line is not None and not as_json:
            console.print(f"[cyan]{PHASE_MARK}[/] {name}: {escape(line)}")

    def on_case(r: CaseResult) -> None:
        mark = "[green]OK[/]" if r.ok else "[red]NOT OK[/]"
        console.print(f"{mark} {r.case.name} ({r.elapsed_s:.0f} s): {escape(r.reason)}")

    result = run_selftest(case, out=out, on_case=on_case, on_event=on_event)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        out_console = Console()
        out_console.width = max(out_console.width, 110)  # a pipe or CI log is 80 wide
        out_console.print(_table(result))
        for r in result.results:
            out_console.print(f"{r.case.name}: {escape(r.reason)}", soft_wrap=True)
            if r.error:
                console.print(f"[red]{r.case.name}[/]: {escape(r.error)}")
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    """Add the ``selftest`` command to the top-level app."""
    app.command("selftest")(selftest)
