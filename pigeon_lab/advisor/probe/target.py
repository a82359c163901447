"""Build the probe's target from what a person gives: URLs, a profile, one token source.

The token sources are the scenario's (``secret``, ``secret_env``, ``command``,
``tokens_file``); with none, the running bundled cluster's state file gives the secret,
so that ``pigeon-lab probe <lb_url>`` works right after ``cluster up``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pigeon_lab.advisor.probe.context import DEFAULT_IDENTITIES, ProbeTarget
from pigeon_lab.errors import ConfigError
from pigeon_lab.issuers import CachingIssuer, CommandIssuer, FileIssuer, SecretIssuer, TokenIssuer
from pigeon_lab.protocol.profile import Profile
from pigeon_lab.protocol.profile_codec import codec_for
from pigeon_lab.protocol.profile_files import load_profile


@dataclass(frozen=True)
class TokenOptions:
    """At most one of the four sources (none: the state file's secret)."""

    secret: str | None = None
    secret_env: str | None = None
    command: str | None = None
    tokens_file: Path | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    state_file: Path | None = None


def _state_secret(state_file: Path | None) -> str | None:
    from pigeon_lab.cluster.state import default_state_file, read_state

    path = (state_file or default_state_file()).expanduser()
    if not path.is_file():
        return None
    return read_state(path).jwt_secret


def _issuer(opts: TokenOptions, profile: Profile) -> tuple[TokenIssuer, str | None]:
    given = [n for n in ("secret", "secret_env", "command", "tokens_file") if getattr(opts, n)]
    if len(given) > 1:
        raise ConfigError(f"give one token source, not {' and '.join(given)}", field="--secret")
    secret = opts.secret
    if opts.secret_env:
        secret = os.environ.get(opts.secret_env)
        if not secret:
            raise ConfigError(f"environment variable {opts.secret_env} is not set",
                              field="--secret-env")  # fmt: skip
    if opts.command:
        return CachingIssuer(CommandIssuer(opts.command)), None
    if opts.tokens_file:
        return FileIssuer(opts.tokens_file), None
    if secret is None:
        secret = _state_secret(opts.state_file)
    if secret is None:
        raise ConfigError(
            "no token source: give --secret, --secret-env, --token-command or --tokens-file "
            "(or start a bundled cluster: its state file has the secret)",
            field="--secret",
        )
    claims = profile.claims
    return SecretIssuer(secret, claims.user, claims.workspace, opts.claims), secret


def build_target(
    urls: list[str], profile: str | None = None, tokens: TokenOptions | None = None
) -> ProbeTarget:
    """The target of ``probe URL [--url MORE]...`` (ConfigError naming the option at fault)."""
    if not urls:
        raise ConfigError("give the deployment's URL", field="URL")
    for url in urls:
        if urlparse(url).scheme not in ("http", "https", "ws", "wss"):
            raise ConfigError(f"expected an http(s):// or ws(s):// URL, got {url!r}", field="URL")
    prof = load_profile(profile) if profile else Profile()
    issuer, secret = _issuer(tokens or TokenOptions(), prof)
    identities = DEFAULT_IDENTITIES
    if isinstance(issuer, FileIssuer):
        identities = tuple((ws, user) for ws, user in issuer.pairs())
        if not identities:
            raise ConfigError("the tokens file has no rows", field="--tokens-file")
    return ProbeTarget(
        urls=tuple(urls),
        codec=codec_for(prof),
        profile=prof,
        issuer=issuer,
        secret=secret,
        extra_claims=dict((tokens or TokenOptions()).claims),
        identities=identities,
    )


__all__ = ["TokenOptions", "build_target"]
