"""`pigeon-lab report render|gate|diff`: re-check, re-gate and compare run folders.

Exit codes: 0 the gate passed, 1 it failed (or, with `diff --fail-on-regression`,
B regressed), 2 a run folder or policy that cannot be read (ReportError,
ConfigError, mapped by `pigeon_lab.cli.main`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pigeon_lab.report.model import GateResult

app = typer.Typer(
    help="Re-render, re-gate and compare run folders without rerunning them.",
    no_args_is_help=True,
)
console = Console()

RunDir = Annotated[Path, typer.Argument(help="a run folder (reports/<stamp>-<scenario>/)")]
PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy", help="gate policy YAML (GatePolicy fields, or a scenario with checks.gate)"
    ),
]


@app.command()
def render(
    run_dir: RunDir,
    policy: PolicyOpt = None,
    checkers: Annotated[
        str | None,
        typer.Option("--checkers", help="comma-separated checker names (default: the scenario's)"),
    ] = None,
    from_json: Annotated[
        bool,
        typer.Option("--from-json", help="re-render report.json as it is, without re-checking"),
    ] = False,
) -> None:
    """Re-check RUN_DIR from its files and rewrite report.json, junit.xml and report.html."""
    from pigeon_lab.report.gate import evaluate_gate, exit_code, load_policy
    from pigeon_lab.report.recheck import recheck_run
    from pigeon_lab.report.render import load_report, write_reports

    gate_policy = load_policy(policy) if policy is not None else None
    if from_json:
        report = load_report(run_dir)
        if gate_policy is not None:
            from dataclasses import replace

            report = replace(
                report, gate=evaluate_gate(report.verdicts, gate_policy, report.faults)
            )
    else:
        names = [n.strip() for n in checkers.split(",") if n.strip()] if checkers else None
        report = recheck_run(run_dir, policy=gate_policy, names=names)
    paths = write_reports(run_dir, report)
    for path in paths:
        typer.echo(str(path))
    _print_verdict(report.gate)
    raise typer.Exit(exit_code(report.gate))


@app.command()
def gate(
    run_dir: RunDir,
    policy: PolicyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the GateResult as JSON")] = False,
) -> None:
    """Re-gate RUN_DIR's verdicts (from report.json) against a policy; exit 0 pass, 1 fail.

    Without --policy, the scenario's own `checks.gate` (scenario.yaml) is used.
    """
    from pigeon_lab.report.gate import (
        evaluate_gate,
        exit_code,
        gate_policy_of_scenario,
        load_policy,
    )
    from pigeon_lab.report.recheck import read_scenario
    from pigeon_lab.report.render import load_report

    report = load_report(run_dir)
    scenario_file = Path(run_dir) / "scenario.yaml"
    if policy is not None:
        gate_policy = load_policy(policy)
    elif scenario_file.exists():
        gate_policy = read_scenario(scenario_file).checks.gate
    else:  # report.json alone: the scenario it carries
        gate_policy = gate_policy_of_scenario(report.scenario, source=f"{run_dir}: report.json")
    result = evaluate_gate(report.verdicts, gate_policy, report.faults)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        console.print(gate_table(result))
        _print_verdict(result)
    raise typer.Exit(exit_code(result))


@app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(help="run folder (or report.json) before")],
    run_b: Annotated[Path, typer.Argument(help="run folder (or report.json) after")],
    as_json: Annotated[bool, typer.Option("--json", help="print the diff as JSON")] = False,
    fail_on_regression: Annotated[
        bool, typer.Option("--fail-on-regression", help="exit 1 when B regressed against A")
    ] = False,
) -> None:
    """Compare two runs: verdict changes, counts, SLO percentile deltas, gate changes."""
    from pigeon_lab.report.diff import diff_reports, render_diff
    from pigeon_lab.report.render import load_report

    result = diff_reports(load_report(run_a), load_report(run_b))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render_diff(result, console)
    raise typer.Exit(1 if fail_on_regression and result.regressions else 0)


def gate_table(result: GateResult) -> Table:
    """The gate's checks as a Rich table (✓/✗, check, condition, observed, message)."""
    table = Table(title="gate", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("check", overflow="fold")
    table.add_column("needs", no_wrap=True)
    table.add_column("observed", justify="right", no_wrap=True)
    table.add_column("message", min_width=20, ratio=1)
    for c in result.checks:
        mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
        observed = (
            "-"
            if c.observed is None
            else f"{c.observed:.4g}"
            if isinstance(c.observed, float)
            else str(c.observed)
        )
        name = escape(c.name) + ("" if c.kind == "threshold" else " [dim](invariant)[/]")
        table.add_row(mark, name, escape(c.condition), escape(observed), escape(c.message))
    return table


def _print_verdict(result: GateResult) -> None:
    word = "[bold green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
    console.print(
        f"gate: {word} (invariant failures {result.invariant_failures}"
        f"/{result.invariant_failures_max} allowed)"
    )
