"""An external target: someone else's Socket.IO deployment, reached by URL, spoken to
through its profile, with tokens from its issuer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from pigeon_lab.errors import ConfigError
from pigeon_lab.events import RunEvents, TargetReady
from pigeon_lab.issuers import IssuerSpec
from pigeon_lab.scenario.model import Scenario
from pigeon_lab.targets.base import Target


def issuer_of(scenario: Scenario) -> tuple[IssuerSpec, str | None]:
    """The issuer spec of an external target and the inline secret to hand on (if any)."""
    token = scenario.target.token
    if token is None:
        raise ConfigError("an external target needs a token", field="target.token")
    claims = scenario.target.profile_model().claims
    minted = IssuerSpec(
        kind="secret",
        user_claim=claims.user,
        workspace_claim=claims.workspace,
        claims=dict(token.claims),
        ttl_s=token.ttl_s,
    )
    if token.secret:
        return minted, token.secret
    if token.secret_env:
        if not os.environ.get(token.secret_env):
            raise ConfigError(
                f"environment variable {token.secret_env} is not set",
                source=scenario.name,
                field="target.token.secret_env",
            )
        return minted.model_copy(update={"secret_env": token.secret_env}), None
    if token.command:
        return IssuerSpec(kind="command", command=token.command, timeout_s=token.timeout_s), None
    return IssuerSpec(kind="file", tokens_file=token.tokens_file), None


@contextmanager
def external_target(scenario: Scenario, events: RunEvents) -> Iterator[Target]:
    """Describe the external target (nothing to start or tear down)."""
    url = str(scenario.target.url)
    spec, secret = issuer_of(scenario)
    profile = scenario.target.profile_model()
    target = Target(
        "external",
        url,
        tuple(scenario.target.urls),
        issuer_spec=spec,
        secret=secret,
        profile=profile,
    )
    events.fire(TargetReady(url, "external"))
    yield target


__all__ = ["external_target", "issuer_of"]
