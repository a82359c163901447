"""The report as data, and its JSON form (``report.json``, schema version 1).

``report.json`` is one JSON object; every key is always present::

    {
      "schema_version": 1,                    # REPORT_SCHEMA_VERSION; readers refuse newer
      "tool_version": "0.1.0",                # pigeon-lab version that wrote it
      "run": {
        "id": str,                            # the run folder's name
        "scenario": str, "seed": int | null,
        "started": str | null, "finished": str | null,   # ISO 8601, UTC
        "duration_s": float | null,           # finished - started
        "complete": bool,                     # false: the history was cut short
        "target": str | null,                 # URL or description of the system under test
        "topology": {str: any},               # summary: nodes, redis, durability, ...
        "capabilities": [str],                # what the target can show (its profile's)
        "rests_on": {str: [str]}              # per verdict: the capabilities it needs
      },
      "scenario": {str: any},                 # the resolved scenario as run
      "verdicts": [{
        "name": str, "outcome": "pass" | "fail" | "unknown", "summary": str,
        "counts": {str: int},
        "counterexamples": [{"summary": str, "rows": [{str: any}]}],
        "metrics": {str: any},                # the `slo` verdict: see docs/interfaces.md
        "error": str | null                   # traceback when the checker crashed
      }],
      "gate": {
        "passed": bool,
        "invariant_failures": int, "invariant_failures_max": int, "allow_unknown": bool,
        "checks": [{
          "name": str,                        # checker name, or the threshold's metric path
          "kind": "invariant" | "threshold",
          "metric": str | null,               # threshold: the metric path
          "condition": str,                   # threshold: "< 250"; invariant: "pass"
          "observed": number | str | null,    # threshold: the value; invariant: the outcome
          "passed": bool, "message": str
        }]
      },
      "counts": {"rows": int, "clients": int, "sends": int, "acks": int, "deliveries": int},
      "faults": [{"kind": str, "target": str, "start_s": float, "end_s": float | null,
                  "params": {str: any}, "error": str | null, "label": str}]
    }

Times in ``faults`` are seconds from the run start, the same origin as the
``slo`` timeline's ``t_s``; ``params``, ``error`` and ``label`` may be absent in
older reports (read as ``{}``, null and ``"<kind> <target>"``). Non-finite floats
(NaN, inf) are written as null.
See also docs/report-schema.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal

import pandas as pd

from pigeon_lab import __version__
from pigeon_lab.checkers.base import Counterexample, Outcome, Verdict
from pigeon_lab.errors import ReportError

REPORT_SCHEMA_VERSION = 1

CheckKind = Literal["invariant", "threshold", "fault"]


@dataclass(frozen=True)
class RunInfo:
    """Which run this is: identity, timing and the system under test."""

    id: str
    scenario: str
    seed: int | None = None
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    complete: bool = True
    target: str | None = None
    topology: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(
        default_factory=lambda: ["acks", "seqs", "history", "client_ids", "server_sender"]
    )
    rests_on: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class GateCheck:
    """One line of the gate: an invariant verdict or an SLO threshold, judged."""

    name: str
    kind: CheckKind
    metric: str | None
    condition: str
    observed: float | int | str | None
    passed: bool
    message: str


@dataclass(frozen=True)
class GateResult:
    """The gate's answer: passed, and every check that led to it."""

    passed: bool
    checks: list[GateCheck] = field(default_factory=list)
    invariant_failures: int = 0
    invariant_failures_max: int = 0
    allow_unknown: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return plain_dict(asdict(self))


@dataclass(frozen=True)
class Counts:
    """How big the run was."""

    rows: int = 0
    clients: int = 0
    sends: int = 0
    acks: int = 0
    deliveries: int = 0


@dataclass(frozen=True)
class FaultSpan:
    """A fault's window in seconds from the run start (end None: never healed).

    ``params`` as scheduled, ``error`` when injecting or healing it failed, and
    ``label``: how the report names it (default ``"<kind> <target>"``).
    """

    kind: str
    target: str
    start_s: float
    end_s: float | None
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", f"{self.kind} {self.target}")


@dataclass(frozen=True)
class Report:
    """Everything the JSON, JUnit and HTML reports say about one run."""

    run: RunInfo
    verdicts: list[Verdict]
    gate: GateResult
    counts: Counts = field(default_factory=Counts)
    faults: list[FaultSpan] = field(default_factory=list)
    scenario: dict[str, Any] = field(default_factory=dict)
    schema_version: int = REPORT_SCHEMA_VERSION
    tool_version: str = __version__

    def verdict(self, name: str) -> Verdict | None:
        """The verdict of checker ``name``, if it ran."""
        return next((v for v in self.verdicts if v.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (NaN and inf become None)."""
        return {
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "run": plain(asdict(self.run)),
            "scenario": plain(self.scenario),
            "verdicts": [verdict_to_dict(v) for v in self.verdicts],
            "gate": self.gate.to_dict(),
            "counts": plain(asdict(self.counts)),
            "faults": [plain(asdict(f)) for f in self.faults],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """``report.json`` text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report; a missing key or a newer schema raises ReportError."""
        try:
            version = int(data["schema_version"])
            if version > REPORT_SCHEMA_VERSION:
                raise ReportError(
                    f"report schema version {version} is newer than this pigeon-lab "
                    f"understands ({REPORT_SCHEMA_VERSION}); upgrade pigeon-lab"
                )
            gate = data["gate"]
            return cls(
                schema_version=version,
                tool_version=str(data["tool_version"]),
                run=RunInfo(**data["run"]),
                scenario=dict(data["scenario"]),
                verdicts=[verdict_from_dict(v) for v in data["verdicts"]],
                gate=GateResult(
                    passed=bool(gate["passed"]),
                    checks=[GateCheck(**c) for c in gate["checks"]],
                    invariant_failures=int(gate["invariant_failures"]),
                    invariant_failures_max=int(gate["invariant_failures_max"]),
                    allow_unknown=bool(gate["allow_unknown"]),
                ),
                counts=Counts(**data["counts"]),
                faults=[FaultSpan(**f) for f in data["faults"]],
            )
        except ReportError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"report.json does not match schema v1: {exc!r}") from exc

    @classmethod
    def from_json(cls, text: str) -> Report:
        """Parse ``report.json`` text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportError(f"report.json is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ReportError("report.json is not a JSON object")
        return cls.from_dict(data)


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """A verdict as plain JSON data (outcome as its string value)."""
    return {
        "name": verdict.name,
        "outcome": str(verdict.outcome.value),
        "summary": verdict.summary,
        "counts": plain(verdict.counts),
        "counterexamples": [
            {"summary": c.summary, "rows": plain(c.rows)} for c in verdict.counterexamples
        ],
        "metrics": plain(verdict.metrics),
        "error": verdict.error,
    }


def verdict_from_dict(data: dict[str, Any]) -> Verdict:
    """Inverse of :func:`verdict_to_dict`."""
    return Verdict(
        name=str(data["name"]),
        outcome=Outcome(data["outcome"]),
        summary=str(data["summary"]),
        counts=dict(data.get("counts") or {}),
        counterexamples=[
            Counterexample(summary=str(c["summary"]), rows=list(c.get("rows") or []))
            for c in data.get("counterexamples") or []
        ],
        metrics=dict(data.get("metrics") or {}),
        error=data.get("error"),
    )


def plain(value: Any) -> Any:
    """Turn numpy/pandas scalars, enums, tuples and non-finite floats into JSON values."""
    if isinstance(value, Enum):
        return plain(value.value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if pd.api.types.is_scalar(value) and pd.isna(value):  # pandas NA / NaT
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy array or scalar
    if callable(tolist):
        return plain(tolist())
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp
    if callable(isoformat):
        return str(isoformat())
    return str(value)


def plain_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """``plain`` of a mapping, typed as the dict it returns."""
    return {str(k): plain(v) for k, v in value.items()}
