"""`pigeon-lab token`: mint a JWT the cluster accepts (for curl, a browser client, a quick test)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigeon_lab.cluster.state import default_state_file, read_state
from pigeon_lab.errors import ConfigError
from pigeon_lab.tokens import ID_RE, mint_token


def register(app: typer.Typer) -> None:
    """Add the top-level `token` command to `app`."""
    app.command("token")(token)


def token(
    workspace: Annotated[str, typer.Option(help="Workspace id (the `ws` claim).")],
    user: Annotated[str, typer.Option(help="User id (the `sub` claim).")],
    ttl: Annotated[
        float, typer.Option(help="Seconds until it expires (negative: already expired).")
    ] = 3600.0,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="PIGEON_LAB_JWT_SECRET",
            help="HS256 secret \\[default: the running cluster's, from its state file].",
        ),
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="State file of the running cluster.")
    ] = None,
) -> None:
    """Print a token for USER in WORKSPACE, signed with the cluster's secret."""
    for field, value in (("--workspace", workspace), ("--user", user)):
        if not ID_RE.match(value):
            raise ConfigError(f"{value!r} must match {ID_RE.pattern}", source=field)
    if secret is None:
        secret = read_state((state_file or default_state_file()).expanduser()).jwt_secret
    typer.echo(mint_token(secret, workspace, user, ttl_s=ttl))
