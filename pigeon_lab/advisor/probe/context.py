"""What every check gets: the target (URLs, codec, capabilities, tokens), the probe's
limits, and the recorder of its result.

Checks record through ``ctx.check(id)``: a block that says ``passed``, ``finding`` or
``unknown`` and notes its evidence on the way; a block that raises is ``unknown`` with the
error (never ``pass``), and one that says nothing is ``unknown`` too.
"""

from __future__ import annotations

import secrets
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pigeon_lab.advisor.findings import CheckResult, Exchange, ProbeLimits, Severity, Status
from pigeon_lab.advisor.probe.limits import Budget, Pace
from pigeon_lab.advisor.probe.registry import CHECKS
from pigeon_lab.issuers import SecretIssuer, TokenIssuer
from pigeon_lab.protocol.codec import Codec
from pigeon_lab.protocol.profile import Capabilities, Profile

MAX_EVIDENCE = 12
"""Exchanges kept per check: enough to repeat it, not a transcript."""

DEFAULT_IDENTITIES: tuple[tuple[str, str], ...] = tuple(
    (ws, f"pigeon-probe-{u}") for ws in ("pigeon-probe-a", "pigeon-probe-b") for u in (1, 2, 3)
)
"""(workspace, user) pairs the probe mints tokens for: two workspaces, three users each."""


@dataclass(frozen=True)
class ProbeTarget:
    """The deployment under probe.

    ``urls``: every entry point (the first is the main one; more are nodes reached
    directly). ``secret``: the HS256 secret when pigeon-lab may mint tokens (needed for
    the expired and short-lived tokens); ``issuer`` gives the valid ones.
    """

    urls: tuple[str, ...]
    codec: Codec
    profile: Profile
    issuer: TokenIssuer
    secret: str | None = None
    extra_claims: dict[str, Any] = field(default_factory=dict)
    identities: tuple[tuple[str, str], ...] = DEFAULT_IDENTITIES

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def capabilities(self) -> Capabilities:
        return self.profile.capabilities

    def workspaces(self) -> list[str]:
        return list(dict.fromkeys(ws for ws, _ in self.identities))

    def users_of(self, workspace: str) -> list[str]:
        return [u for ws, u in self.identities if ws == workspace]


class CheckRecorder:
    """The result of one check being written (see the module docstring)."""

    def __init__(self, check: str) -> None:
        self.check = check
        self.evidence: list[Exchange] = []
        self.status: Status | None = None
        self.severity: Severity | None = None
        self.summary = ""

    def saw(self, request: str, answer: str) -> None:
        if len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(Exchange(request, answer))

    def passed(self, summary: str) -> None:
        self.status, self.severity, self.summary = "pass", None, summary

    def finding(self, severity: Severity, summary: str) -> None:
        self.status, self.severity, self.summary = "finding", severity, summary

    def unknown(self, summary: str) -> None:
        self.status, self.severity, self.summary = "unknown", None, summary


class ProbeContext:
    """Shared by the checks of one probe run (thread-safe where checks run side by side)."""

    def __init__(self, target: ProbeTarget, limits: ProbeLimits) -> None:
        self.target = target
        self.limits = limits
        self.pace = Pace(limits.max_rate)
        self.budget = Budget(limits.max_connections)
        self.run_id = secrets.token_hex(3)
        self.observed: dict[str, Any] = {}
        self._results: dict[str, CheckResult] = {}
        self._lock = threading.Lock()

    # ----- names --------------------------------------------------------------------
    def channel(self, purpose: str) -> str:
        """A channel name of this run only: ``probe-<run>-<purpose>``."""
        return f"probe-{self.run_id}-{purpose}"[:64]

    # ----- tokens -------------------------------------------------------------------
    def token(self, workspace_index: int = 0, user_index: int = 0) -> str:
        """A valid token from the target's issuer for the i-th workspace's j-th user."""
        ws = self.target.workspaces()[workspace_index]
        user = self.target.users_of(ws)[user_index]
        return self.target.issuer.issue(ws, user).value

    def identity(self, workspace_index: int = 0, user_index: int = 0) -> tuple[str, str]:
        ws = self.target.workspaces()[workspace_index]
        return ws, self.target.users_of(ws)[user_index]

    def can_mint(self) -> bool:
        return self.target.secret is not None

    def mint(self, ttl_s: float, workspace_index: int = 0, user_index: int = 0) -> str | None:
        """A token signed with the target's secret living ``ttl_s`` (negative: expired),
        or None when the probe has no secret."""
        if self.target.secret is None:
            return None
        claims = self.target.profile.claims
        issuer = SecretIssuer(
            self.target.secret, claims.user, claims.workspace, self.target.extra_claims, ttl_s
        )
        ws, user = self.identity(workspace_index, user_index)
        return issuer.issue(ws, user).value

    # ----- results ------------------------------------------------------------------
    def note(self, key: str, value: Any) -> None:
        with self._lock:
            self.observed[key] = value

    @contextmanager
    def check(self, check_id: str) -> Iterator[CheckRecorder]:
        """Record one check's result; an error inside is ``unknown`` with the error."""
        spec = CHECKS[check_id]
        rec = CheckRecorder(check_id)
        t0 = time.monotonic()
        try:
            yield rec
        except Exception as exc:  # broad on purpose: a crashing check is unknown, not a crash
            tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            rec.unknown(f"the check could not finish: {tail}")
        if rec.status is None:
            rec.unknown("the check reached no verdict")
        result = CheckResult(
            check=spec.id,
            family=spec.family,
            title=spec.title,
            status=rec.status or "unknown",
            summary=rec.summary,
            rule=spec.rule,
            fix=spec.fix,
            severity=rec.severity,
            evidence=tuple(rec.evidence),
            elapsed_ms=round((time.monotonic() - t0) * 1000, 1),
        )
        with self._lock:
            self._results[check_id] = result

    def has_result(self, check_id: str) -> bool:
        with self._lock:
            return check_id in self._results

    def result(self, check_id: str) -> CheckResult | None:
        with self._lock:
            return self._results.get(check_id)

    def skip(self, check_id: str, why: str) -> None:
        """``unknown`` for a check whose precondition failed (unless it already has a result)."""
        if not self.has_result(check_id):
            with self.check(check_id) as c:
                c.unknown(why)


__all__ = ["DEFAULT_IDENTITIES", "CheckRecorder", "ProbeContext", "ProbeTarget"]
