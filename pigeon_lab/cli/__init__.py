"""The `pigeon-lab` command: one Typer sub-app per command group.

Exit codes: 0 pass, 1 an invariant or gate failed, 2 usage or environment error.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from pigeon_lab.cli import (
    cluster_cmd,
    probe_cmd,
    proxy_cmd,
    report_cmd,
    review_cmd,
    scenario_cmd,
    selftest_cmd,
    token_cmd,
    worker_cmd,
)
from pigeon_lab.errors import PigeonLabError

app = typer.Typer(
    name="pigeon-lab",
    help="Prove that a Socket.IO messaging system keeps its promises.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(scenario_cmd.app, name="scenario")
app.add_typer(report_cmd.app, name="report")
token_cmd.register(app)
worker_cmd.register(app)
selftest_cmd.register(app)
proxy_cmd.register(app)
probe_cmd.register(app)
review_cmd.register(app)


def main() -> None:
    """Console-script entry: map PigeonLabError to one clear line and exit code 2."""
    try:
        app()
    except PigeonLabError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
