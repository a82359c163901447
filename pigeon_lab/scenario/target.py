"""The system under test: the bundled cluster, or an external one."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, model_validator

from pigeon_lab.scenario._common import FieldProblem, Frozen, unknown

PROTOCOL_EVENTS: tuple[str, ...] = ("join", "leave", "send", "sync", "message")
"""Event names of protocol.md that a target profile may map."""


class TokenSource(Frozen):
    """How to get a token for an external target: exactly one of the three."""

    secret: str | None = Field(
        default=None, description="HS256 secret; pigeon-lab mints the tokens"
    )
    secret_env: str | None = Field(
        default=None, description="environment variable holding the secret"
    )
    command: str | None = Field(
        default=None,
        description="shell command printing a token; {workspace} and {user} are filled in",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TokenSource:
        given = [n for n in ("secret", "secret_env", "command") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of secret, secret_env, command"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class Target(Frozen):
    """The system under test: the bundled cluster, or one someone else runs."""

    kind: Literal["bundled", "external"] = Field(
        default="bundled", description="bundled or external"
    )
    url: str | None = Field(default=None, description="external: the Socket.IO base URL")
    token: TokenSource | None = Field(default=None, description="external: where tokens come from")
    profile: dict[str, str] | None = Field(
        default=None,
        description=f"external: protocol event -> its event name ({', '.join(PROTOCOL_EVENTS)})",
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> Target:
        if self.kind == "bundled":
            for name in ("url", "token", "profile"):
                if getattr(self, name) is not None:
                    raise FieldProblem(
                        (name,), "only an external target takes this (kind: external)"
                    )
            return self
        if not self.url:
            raise FieldProblem(
                ("url",), "missing target url: an external target needs url: http(s)://host:port"
            )
        if urlparse(self.url).scheme not in ("http", "https", "ws", "wss"):
            raise FieldProblem(
                ("url",), f"expected an http(s):// or ws(s):// URL, got {self.url!r}"
            )
        if self.token is None:
            raise FieldProblem(
                ("token",),
                "missing target token: give token.secret, token.secret_env or token.command",
            )
        for event in self.profile or {}:
            if event not in PROTOCOL_EVENTS:
                raise FieldProblem(("profile", event), unknown("event", event, PROTOCOL_EVENTS))
        return self
