"""An external target: someone else's Socket.IO deployment, reached by URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from pigeon_lab.errors import ConfigError
from pigeon_lab.events import RunEvents, TargetReady
from pigeon_lab.scenario.model import Scenario
from pigeon_lab.targets.base import Target


def external_secret(scenario: Scenario) -> str:
    """The HS256 secret that mints tokens for an external target (secret or secret_env)."""
    token = scenario.target.token
    if token is not None and token.secret:
        return token.secret
    if token is not None and token.secret_env:
        value = os.environ.get(token.secret_env)
        if not value:
            raise ConfigError(
                f"environment variable {token.secret_env} is not set",
                source=scenario.name,
                field="target.token.secret_env",
            )
        return value
    raise ConfigError(
        "token.command is not supported by the load generator yet; give token.secret "
        "or token.secret_env",
        source=scenario.name,
        field="target.token",
    )


@contextmanager
def external_target(scenario: Scenario, events: RunEvents) -> Iterator[Target]:
    """Describe the external target (nothing to start or tear down)."""
    url = str(scenario.target.url)
    target = Target("external", url, jwt_secret=external_secret(scenario))
    events.fire(TargetReady(url, "external"))
    yield target


__all__ = ["external_secret", "external_target"]
