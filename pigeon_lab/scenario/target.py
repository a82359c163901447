"""The system under test: the bundled cluster, or an external one with its profile and
token issuer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen
from pigeon_lab.errors import ConfigError
from pigeon_lab.protocol.profile import PROTOCOL_EVENTS, Profile
from pigeon_lab.protocol.profile_files import load_profile

__all__ = ["PROTOCOL_EVENTS", "ReadbackLimits", "Target", "TokenSource"]

TOKEN_KINDS = ("secret", "secret_env", "command", "tokens_file")


class TokenSource(Frozen):
    """How to get a token for an external target: exactly one of the four sources."""

    secret: str | None = Field(
        default=None, description="HS256 secret; pigeon-lab mints the tokens"
    )
    secret_env: str | None = Field(
        default=None, description="environment variable holding the secret"
    )
    command: str | None = Field(
        default=None,
        description="command printing a token; {workspace} and {user} are filled in (also "
        "PIGEON_WORKSPACE and PIGEON_USER in its environment); run once per user",
    )
    tokens_file: str | None = Field(
        default=None, description="CSV file of user,workspace,token rows (tokens not minted)"
    )
    claims: dict[str, Any] = Field(
        default_factory=dict,
        description="extra claims of minted tokens (Jinja2: {{ user }}, {{ workspace }}); "
        "the user and workspace claims are the profile's claims.user / claims.workspace",
    )
    ttl_s: float = Field(default=3600, gt=0, description="lifetime of minted tokens")
    timeout_s: float = Field(default=10, gt=0, description="token.command's time limit")

    @model_validator(mode="after")
    def _exactly_one(self) -> TokenSource:
        given = [n for n in TOKEN_KINDS if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(TOKEN_KINDS)}"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        return next(n for n in TOKEN_KINDS if getattr(self, n))


class ReadbackLimits(Frozen):
    """How gently the read-back reads an external target (a shared system)."""

    page_size: int = Field(default=200, ge=1, le=1000, description="messages per history read")
    max_rate: float = Field(default=20.0, gt=0, description="history reads per second, at most")


class Target(Frozen):
    """The system under test: the bundled cluster, or one someone else runs."""

    kind: Literal["bundled", "external"] = Field(
        default="bundled", description="bundled or external"
    )
    url: str | None = Field(default=None, description="external: the Socket.IO base URL")
    urls: tuple[str, ...] = Field(
        default=(),
        description="external: more entry points of the same deployment (nodes without a load "
        "balancer); users are spread round robin over url and these",
    )
    token: TokenSource | None = Field(default=None, description="external: where tokens come from")
    profile: str | dict[str, Any] | None = Field(
        default=None,
        description="external: a profile name (profiles/), a YAML file, or an inline profile "
        f"(or the shorthand {{protocol event: their event name}}, events: "
        f"{', '.join(PROTOCOL_EVENTS)})",
    )
    readback: ReadbackLimits = Field(
        default_factory=ReadbackLimits, description="external: read-back page size and rate"
    )
    _profile: Profile | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _fits_kind(self, info: ValidationInfo) -> Target:
        if self.kind == "bundled":
            for name in ("url", "token", "profile"):
                if getattr(self, name) is not None or (name == "url" and self.urls):
                    raise FieldProblem(
                        (name,), "only an external target takes this (kind: external)"
                    )
            return self
        if not self.url:
            raise FieldProblem(
                ("url",), "missing target url: an external target needs url: http(s)://host:port"
            )
        for path, url in [
            (("url",), self.url),
            *((("urls", i), u) for i, u in enumerate(self.urls)),
        ]:
            if urlparse(url).scheme not in ("http", "https", "ws", "wss"):
                raise FieldProblem(path, f"expected an http(s):// or ws(s):// URL, got {url!r}")
        if self.token is None:
            raise FieldProblem(
                ("token",),
                "missing target token: give token.secret, token.secret_env, token.command or "
                "token.tokens_file",
            )
        if self.profile is not None:
            base = (info.context or {}).get("base_dir") if info.context else None
            try:
                self._profile = load_profile(self.profile, Path(base) if base else None)
            except ConfigError as exc:
                raise FieldProblem(("profile",), str(exc)) from None
        return self

    def profile_model(self) -> Profile:
        """The resolved profile (protocol.md's own spelling when none is given)."""
        return self._profile if self._profile is not None else Profile()
