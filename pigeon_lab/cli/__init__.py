"""The `pigeon-lab` command: one Typer sub-app per command group.

Exit codes: 0 pass, 1 an invariant or gate failed, 2 usage or environment error.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from pigeon_lab.errors import PigeonLabError

app = typer.Typer(
    name="pigeon-lab",
    help="Prove that a Socket.IO messaging system keeps its promises.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register_groups() -> None:
    """Attach each command group; a group whose module is not there yet is skipped."""
    import importlib

    groups = [
        ("pigeon_lab.cli.cluster_cmd", "cluster"),
        ("pigeon_lab.cli.token_cmd", None),
        ("pigeon_lab.cli.scenario_cmd", "scenario"),
        ("pigeon_lab.cli.report_cmd", "report"),
        ("pigeon_lab.cli.worker_cmd", None),
        ("pigeon_lab.cli.selftest_cmd", None),
    ]
    for module_name, group in groups:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        if group is None:
            module.register(app)
        else:
            if group == "scenario":
                from pigeon_lab.cli import run_cmd

                run_cmd.register(module.app)
            app.add_typer(module.app, name=group)


_register_groups()


def main() -> None:
    """Console-script entry: map PigeonLabError to one clear line and exit code 2."""
    try:
        app()
    except PigeonLabError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
