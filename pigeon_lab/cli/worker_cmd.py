"""``pigeon-lab worker``: a load worker for a remote master (distributed load)."""

from __future__ import annotations

import subprocess
import sys

import typer

from pigeon_lab.errors import LoadError


def worker(
    master_host: str = typer.Option(..., "--master-host", help="host of the load master"),
    master_port: int = typer.Option(5557, "--master-port", help="port of the load master"),
    imports: list[str] = typer.Option(  # noqa: B008 - Typer's declaration style
        [],
        "--import",
        help="a module that registers a workload the master's scenario runs (repeatable)",
    ),
) -> None:
    """Run a load worker that connects to a master (``run_load`` with ``master_bind`` set).

    The worker receives its configuration from the master, runs its share of the
    users and ships its history back when the master stops the load.
    """
    # Locust monkey-patches the standard library: run it in its own process.
    argv = [sys.executable, "-m", "pigeon_lab.load", "--worker", "--master-host", master_host]
    argv += ["--master-port", str(master_port)]
    for module in imports:
        argv += ["--import", module]
    rc = subprocess.call(argv)
    if rc != 0:
        raise LoadError(f"load worker exited with {rc}")


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the top-level app."""
    app.command("worker")(worker)
