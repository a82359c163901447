"""`pigeon-lab proxy`: run the fault proxy (a Toxiproxy 2.x compatible server) in the foreground."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from pigeon_lab.proxy.server import DEFAULT_HOST, DEFAULT_PORT, run


def register(app: typer.Typer) -> None:
    """Add the top-level `proxy` command to `app`."""
    app.command("proxy")(proxy)


def proxy(
    host: Annotated[str, typer.Option(help="Address of the HTTP API.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = DEFAULT_PORT,
    config: Annotated[
        Path | None, typer.Option(help="JSON file of proxies to create first (as /populate).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for toxicity, jitter and slicer draws.")
    ] = None,
) -> None:
    """Run the fault proxy until SIGTERM or Ctrl-C; drive it with any Toxiproxy client."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    run(host, port, config, seed)
