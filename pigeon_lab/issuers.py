"""Token issuers: where the load's tokens come from, for the bundled cluster and for
someone else's backend.

- ``SecretIssuer``: signs HS256 JWTs with a shared secret; the user and workspace go into
  the claims the target's profile names (``sub``/``ws`` by default), beside any extra
  claims of a template (``{role: member, tenant: "{{ workspace }}"}``).
- ``CommandIssuer``: runs a command once per (workspace, user) and takes its stdout as
  the token (``{user}`` and ``{workspace}`` are filled into its arguments; also
  ``PIGEON_USER`` / ``PIGEON_WORKSPACE`` in its environment), with a timeout.
- ``FileIssuer``: a file of ``user, workspace, token`` rows, for systems whose tokens
  cannot be minted.

Every issued token carries its ``exp`` when it is a JWT, so that a client can ask for a
fresh one before it expires (``can_mint``: the issuer can give a new token at all).
Failures are ``TokenError`` naming the issuer and the (workspace, user).
"""

from __future__ import annotations

import csv
import os
import shlex
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import jwt
from pydantic import BaseModel, ConfigDict, Field

from pigeon_lab.errors import ConfigError
from pigeon_lab.protocol.templates import compile_template

REFRESH_MARGIN_S = 30.0
"""A token this close to its ``exp`` is replaced before it is used."""


class TokenError(ConfigError):
    """A token could not be had (the command failed, the file has no row, ...)."""


@dataclass(frozen=True)
class IssuedToken:
    value: str
    exp: float | None = None  # unix seconds, when the token says

    def fresh(self, now: float | None = None, margin_s: float = REFRESH_MARGIN_S) -> bool:
        return self.exp is None or (now if now is not None else time.time()) < self.exp - margin_s


def expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (unverified: only to know when to refresh), else None."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) else None


class TokenIssuer(Protocol):
    can_mint: bool

    def issue(self, workspace: str, user: str) -> IssuedToken: ...

    def describe(self) -> str: ...


@dataclass
class SecretIssuer:
    """HS256 tokens signed with ``secret`` (see the module docstring)."""

    secret: str
    user_claim: str = "sub"
    workspace_claim: str = "ws"
    claims: Mapping[str, Any] = field(default_factory=dict)
    ttl_s: float = 3600.0
    can_mint: bool = True

    def __post_init__(self) -> None:
        self._extra = compile_template(dict(self.claims))

    def issue(self, workspace: str, user: str) -> IssuedToken:
        now = time.time()
        exp = int(now + self.ttl_s)
        claims: dict[str, Any] = dict(self._extra({"user": user, "workspace": workspace}))
        claims.update({self.user_claim: user, self.workspace_claim: workspace})
        claims.update({"exp": exp, "iat": int(now)})
        return IssuedToken(jwt.encode(claims, self.secret, algorithm="HS256"), float(exp))

    def describe(self) -> str:
        return "a shared HS256 secret"


@dataclass
class CommandIssuer:
    """A command that prints a token (see the module docstring)."""

    command: str
    timeout_s: float = 10.0
    can_mint: bool = True

    def argv(self, workspace: str, user: str) -> list[str]:
        return [
            a.replace("{workspace}", workspace).replace("{user}", user)
            for a in shlex.split(self.command)
        ]

    def issue(self, workspace: str, user: str) -> IssuedToken:
        argv = self.argv(workspace, user)
        env = {**os.environ, "PIGEON_USER": user, "PIGEON_WORKSPACE": workspace}
        where = f"token.command for {workspace}/{user}"
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout_s, env=env
            )
        except FileNotFoundError as exc:
            raise TokenError(f"{where}: no such command {argv[0]!r}") from exc
        except subprocess.TimeoutExpired as exc:
            raise TokenError(f"{where}: no token within {self.timeout_s:g} s") from exc
        token = done.stdout.strip()
        if done.returncode != 0 or not token:
            tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1][:200]
            why = f"exited with {done.returncode}" if done.returncode else "printed nothing"
            raise TokenError(f"{where}: {why}: {tail}")
        return IssuedToken(token.splitlines()[-1].strip(), expiry(token))

    def describe(self) -> str:
        return f"the command {shlex.split(self.command)[0]!r}"


@dataclass
class FileIssuer:
    """Tokens read from a CSV file of ``user, workspace, token`` rows (a header is allowed)."""

    path: Path
    can_mint: bool = False

    def __post_init__(self) -> None:
        try:
            text = Path(self.path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenError(f"cannot read the tokens file: {exc}", source=str(self.path)) from exc
        self._tokens: dict[tuple[str, str], str] = {}
        for n, row in enumerate(csv.reader(text.splitlines()), start=1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if [c.lower() for c in cells[:3]] == ["user", "workspace", "token"]:
                continue
            if len(cells) != 3 or not all(cells):
                raise TokenError(
                    f"line {n}: expected 'user,workspace,token', got {len(cells)} fields",
                    source=str(self.path),
                )
            self._tokens[(cells[1], cells[0])] = cells[2]

    def issue(self, workspace: str, user: str) -> IssuedToken:
        token = self._tokens.get((workspace, user))
        if token is None:
            raise TokenError(f"no token for user {user!r} in workspace {workspace!r}",
                             source=str(self.path))  # fmt: skip
        return IssuedToken(token, expiry(token))

    def pairs(self) -> list[tuple[str, str]]:
        """The (workspace, user) pairs the file has tokens for."""
        return sorted(self._tokens)

    def describe(self) -> str:
        return f"the tokens file {self.path}"


class CachingIssuer:
    """Reuse each (workspace, user)'s token while it is fresh; ask again when it is not."""

    def __init__(self, inner: TokenIssuer) -> None:
        self.inner = inner
        self.can_mint = inner.can_mint
        self._cache: dict[tuple[str, str], IssuedToken] = {}

    def issue(self, workspace: str, user: str) -> IssuedToken:
        held = self._cache.get((workspace, user))
        if held is not None and (held.fresh() or not self.can_mint):
            return held
        token = self.inner.issue(workspace, user)
        self._cache[(workspace, user)] = token
        return token

    def renew(self, workspace: str, user: str) -> IssuedToken:
        """A new token even while the held one is fresh (a live connection refreshing
        before its token's exp); the held one when the issuer cannot mint."""
        if not self.can_mint:
            return self.issue(workspace, user)
        token = self.inner.issue(workspace, user)
        self._cache[(workspace, user)] = token
        return token

    def describe(self) -> str:
        return self.inner.describe()


__all__ = [
    "REFRESH_MARGIN_S",
    "CachingIssuer",
    "CommandIssuer",
    "FileIssuer",
    "IssuedToken",
    "SecretIssuer",
    "TokenError",
    "TokenIssuer",
    "expiry",
]


SECRET_ENV = "PIGEON_LAB_TOKEN_SECRET"
"""Where the load process (and every worker) finds the HS256 secret: never in a file."""


class IssuerSpec(BaseModel):
    """How the load gets tokens, as plain data that may be written to a file: it never
    holds a secret, only the name of the environment variable that does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["secret", "command", "file"] = "secret"
    secret_env: str = SECRET_ENV
    user_claim: str = "sub"
    workspace_claim: str = "ws"
    claims: dict[str, Any] = Field(default_factory=dict)
    ttl_s: float = Field(default=3600.0, gt=0)
    command: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    tokens_file: str | None = None

    def build(self, environ: Mapping[str, str] | None = None) -> TokenIssuer:
        """The issuer; a missing secret or file is a TokenError saying where to put it."""
        env = os.environ if environ is None else environ
        if self.kind == "command":
            if not self.command:
                raise TokenError("token.command is empty")
            return CommandIssuer(self.command, self.timeout_s)
        if self.kind == "file":
            if not self.tokens_file:
                raise TokenError("token.tokens_file is empty")
            return FileIssuer(Path(self.tokens_file))
        secret = env.get(self.secret_env)
        if not secret:
            raise TokenError(f"the token secret is not set: export {self.secret_env}")
        return SecretIssuer(secret, self.user_claim, self.workspace_claim, self.claims, self.ttl_s)


__all__ += ["SECRET_ENV", "IssuerSpec"]
