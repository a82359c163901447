"""`pigeon-lab scenario list|show`: the catalogue and resolved scenarios.

Errors in a scenario file exit with code 2 and one message naming file, field
and reason.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pigeon_lab.cli.kinds_cmd import kinds
from pigeon_lab.cli.run_cmd import run
from pigeon_lab.errors import ConfigError, PigeonLabError
from pigeon_lab.faults import FAULT_KINDS
from pigeon_lab.scenario import (
    Scenario,
    catalogue,
    dump_scenario,
    load_scenario,
    parse_overrides,
    scenario_json,
)

app = typer.Typer(help="List, inspect and run scenarios.", no_args_is_help=True)


def fail(exc: PigeonLabError) -> NoReturn:
    """Print one clear error line on stderr and exit with the error's code (2)."""
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(exc.exit_code)


def _faults_cell(scenario: Scenario) -> str:
    if not scenario.faults:
        return "-"
    parts = []
    for fault in scenario.faults:
        note = "" if FAULT_KINDS[fault.kind].available else " (needs fault proxy)"
        parts.append(escape(fault.describe() + note))
    return "\n".join(parts)


@app.command("list")
def list_scenarios() -> None:
    """List the scenario catalogue: what each exercises, its size and its faults."""
    table = Table(title="scenarios", show_lines=False)
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("what it exercises", ratio=3)
    for column in ("duration", "nodes", "users"):
        table.add_column(column, no_wrap=True, justify="right")
    table.add_column("faults", ratio=2)
    entries = catalogue()
    for entry in entries:
        try:
            s = load_scenario(entry.path)
        except ConfigError as exc:
            table.add_row(entry.name, f"[red]invalid:[/] {escape(str(exc))}", "", "", "", "")
            continue
        target_nodes = str(s.topology.nodes) if s.target.kind == "bundled" else "external"
        table.add_row(
            s.name,
            escape(s.summary),
            f"{s.workload.duration_s:g} s",
            target_nodes,
            str(s.workload.total_users()),
            _faults_cell(s),
        )
    if not entries:
        typer.echo("no scenarios found (looked in ./scenarios and the catalogue)")
        return
    Console(soft_wrap=False).print(table)


@app.command("show")
def show(
    name_or_file: Annotated[str, typer.Argument(help="a catalogue name or a YAML file")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of YAML")] = False,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a field, e.g. --set workload.users=10 (repeatable)"),
    ] = None,
) -> None:
    """Print a scenario as it would run: every default filled in (YAML, or JSON)."""
    try:
        scenario = load_scenario(name_or_file, overrides=parse_overrides(set_ or []), seed=seed)
    except PigeonLabError as exc:
        fail(exc)
    typer.echo(scenario_json(scenario) if as_json else dump_scenario(scenario).rstrip("\n"))


app.command("run")(run)
app.command("kinds")(kinds)
