"""What the probe found: one result per check, with its severity, evidence, rule and fix.

A check ends ``pass`` (the deployment did what the rule asks), ``finding`` (it did not:
the result carries a severity) or ``unknown`` (the probe could not tell: the target
lacks a capability, a precondition failed, the check itself raised). ``info`` findings
are worth telling but never gate. Evidence is what was asked and what came back, as
short text (tokens redacted), so that a reader can repeat the request by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pigeon_lab.errors import ConfigError


class Severity(StrEnum):
    """How much a finding matters, lowest first; ``--fail-on`` gates at one of them."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, value: str, field: str = "--fail-on") -> Severity:
        try:
            return cls(value.lower())
        except ValueError:
            names = ", ".join(s.value for s in SEVERITIES)
            raise ConfigError(f"{value!r} is not a severity ({names})", field=field) from None


SEVERITIES: tuple[Severity, ...] = tuple(Severity)

Status = Literal["pass", "finding", "unknown"]
STATUSES: tuple[Status, ...] = ("pass", "finding", "unknown")


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got, as a person would write them down."""

    request: str
    answer: str


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one probe check (see the module docstring)."""

    check: str
    family: str
    title: str
    status: Status
    summary: str
    rule: str
    fix: str
    severity: Severity | None = None  # findings only
    evidence: tuple[Exchange, ...] = ()
    elapsed_ms: float = 0.0

    @property
    def is_finding(self) -> bool:
        return self.status == "finding"

    def gates(self, fail_on: Severity) -> bool:
        """A finding at or above ``fail_on`` (info never gates)."""
        return (
            self.is_finding
            and self.severity is not None
            and self.severity is not Severity.INFO
            and self.severity.at_least(fail_on)
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value if self.severity else None
        data["evidence"] = [asdict(e) for e in self.evidence]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        severity = data.get("severity")
        status = data.get("status")
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        return cls(
            check=str(data["check"]),
            family=str(data["family"]),
            title=str(data.get("title", "")),
            status=status,
            summary=str(data.get("summary", "")),
            rule=str(data.get("rule", "")),
            fix=str(data.get("fix", "")),
            severity=Severity(severity) if severity else None,
            evidence=tuple(
                Exchange(str(e["request"]), str(e["answer"])) for e in data.get("evidence", [])
            ),
            elapsed_ms=float(data.get("elapsed_ms", 0.0)),
        )


@dataclass(frozen=True)
class ProbeLimits:
    """How hard the probe may push: at most this many connections at once, this many
    requests per second over all of them, and one burst of ``burst`` events on one
    connection (to find the rate limit)."""

    max_connections: int = 16
    max_rate: float = 50.0
    burst: int = 500
    timeout_s: float = 5.0


@dataclass(frozen=True)
class ProbeResult:
    """Everything one probe run found, in check order."""

    url: str
    urls: tuple[str, ...]
    profile: str
    started: str
    elapsed_s: float
    limits: ProbeLimits
    results: tuple[CheckResult, ...]
    observed: dict[str, Any] = field(default_factory=dict)
    """Facts the checks saw (the handshake's values, the nodes that answered)."""
    connections: int = 0
    requests: int = 0

    def by_check(self) -> dict[str, CheckResult]:
        return {r.check: r for r in self.results}

    def findings(self, at_least: Severity = Severity.INFO) -> list[CheckResult]:
        return [
            r
            for r in self.results
            if r.is_finding and r.severity is not None and r.severity.at_least(at_least)
        ]

    def exit_code(self, fail_on: Severity) -> int:
        """0, or 1 when a finding is at or above ``fail_on``."""
        return 1 if any(r.gates(fail_on) for r in self.results) else 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {s: 0 for s in STATUSES}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pigeon-lab probe",
            "url": self.url,
            "urls": list(self.urls),
            "profile": self.profile,
            "started": self.started,
            "elapsed_s": round(self.elapsed_s, 3),
            "limits": asdict(self.limits),
            "connections": self.connections,
            "requests": self.requests,
            "counts": self.counts(),
            "observed": self.observed,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "probe result") -> ProbeResult:
        """Read back what ``to_dict`` wrote (``probe --json``); ConfigError when it is not."""
        if not isinstance(data, dict) or data.get("kind") != "pigeon-lab probe":
            raise ConfigError("not the JSON of `pigeon-lab probe --json`", source=source)
        try:
            return cls(
                url=str(data["url"]),
                urls=tuple(data.get("urls", ())),
                profile=str(data.get("profile", "")),
                started=str(data.get("started", "")),
                elapsed_s=float(data.get("elapsed_s", 0.0)),
                limits=ProbeLimits(**data.get("limits", {})),
                results=tuple(CheckResult.from_dict(r) for r in data.get("results", [])),
                observed=dict(data.get("observed", {})),
                connections=int(data.get("connections", 0)),
                requests=int(data.get("requests", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"unreadable probe result: {exc}", source=source) from exc


__all__ = [
    "SEVERITIES",
    "STATUSES",
    "CheckResult",
    "Exchange",
    "ProbeLimits",
    "ProbeResult",
    "Severity",
    "Status",
]
