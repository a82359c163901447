"""An architecture review: every design rule judged from a design file, a probe of the
live deployment, the proofs' runs, or any of them together.

Each source gives a rule evidence that passes, fails or cannot tell: the design's own
fields (``Rule.judge``), the probe checks the rule names (a finding at low or above
fails, an ``info`` finding passes with its note), and each proof run on the bundled
cluster configured like the design (its watched verdicts failed: the failure was
demonstrated). A rule fails when any evidence fails, passes when some passes and none
fails, and is ``unknown`` otherwise; evidence never silently outvotes a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pigeon_lab.advisor.design import Design
from pigeon_lab.advisor.findings import CheckResult, ProbeResult, Severity
from pigeon_lab.advisor.rules import RULES, Rule
from pigeon_lab.advisor.rules.base import Outcome, Proof
from pigeon_lab.config_model import unknown
from pigeon_lab.errors import ConfigError

Source = Literal["design", "probe", "proof"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "unknown")


@dataclass(frozen=True)
class Evidence:
    """One source's word on a rule."""

    source: Source
    outcome: Outcome
    text: str
    ref: str = ""


@dataclass(frozen=True)
class ProofResult:
    """A proof's run: ``fail`` when the watched verdicts failed (the failure shown on the
    bundled cluster configured like the design), ``pass`` when they held."""

    key: str
    kind: str
    name: str
    outcome: Outcome
    summary: str
    run_dir: str | None = None
    verdicts: tuple[tuple[str, str, str], ...] = ()  # (checker or check, outcome, summary)
    configured: str = ""
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class RuleResult:
    """One rule, judged."""

    id: str
    title: str
    topic: str
    claim: str
    severity: Severity
    how_checked: str
    fix: str
    outcome: Outcome
    reason: str
    evidence: tuple[Evidence, ...] = ()
    proofs: tuple[str, ...] = ()  # the proof keys (``scenario:redis-failover``)
    proof_commands: tuple[str, ...] = ()

    def gates(self, fail_on: Severity, strict: bool = False) -> bool:
        bad = self.outcome == "fail" or (strict and self.outcome == "unknown")
        return bad and self.severity.at_least(fail_on)


@dataclass(frozen=True)
class Review:
    """The whole review: what was reviewed, every rule, the proofs that ran."""

    design: str | None
    probe_url: str | None
    started: str
    rules: tuple[RuleResult, ...]
    proofs: tuple[ProofResult, ...] = ()
    notes: tuple[str, ...] = ()
    probe: ProbeResult | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {o: 0 for o in OUTCOMES}
        for r in self.rules:
            out[r.outcome] += 1
        return out

    def failed(self) -> list[RuleResult]:
        return [r for r in self.rules if r.outcome == "fail"]

    def exit_code(self, fail_on: Severity = Severity.LOW, strict: bool = False) -> int:
        return 1 if any(r.gates(fail_on, strict) for r in self.rules) else 0

    def proof(self, key: str) -> ProofResult | None:
        return next((p for p in self.proofs if p.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        rules = []
        for r in self.rules:
            data = asdict(r)
            data["severity"] = r.severity.value
            rules.append(data)
        return {
            "kind": "pigeon-lab review",
            "design": self.design,
            "probe_url": self.probe_url,
            "started": self.started,
            "counts": self.counts(),
            "rules": rules,
            "proofs": [asdict(p) for p in self.proofs],
            "notes": list(self.notes),
            "probe": self.probe.to_dict() if self.probe else None,
        }


def _probe_evidence(result: CheckResult) -> Evidence:
    sev = result.severity
    if result.status == "finding" and sev is not None and sev is not Severity.INFO:
        return Evidence("probe", "fail", f"{sev.value}: {result.summary}", result.check)
    if result.status == "unknown":
        return Evidence("probe", "unknown", result.summary, result.check)
    note = f"info: {result.summary}" if result.status == "finding" else result.summary
    return Evidence("probe", "pass", note, result.check)


def _proof_evidence(proof: Proof, result: ProofResult) -> Evidence:
    if result.outcome == "fail":
        text = f"failed on the bundled cluster configured like the design: {result.summary}"
    elif result.outcome == "pass":
        text = f"held on the bundled cluster configured like the design: {result.summary}"
    else:
        text = result.summary
    return Evidence("proof", result.outcome, text, proof.key)


def combine(evidence: Sequence[Evidence]) -> tuple[Outcome, str]:
    """Fail if any evidence fails, pass if some passes, else unknown (see the module)."""
    for outcome in ("fail", "pass"):
        hits = [e for e in evidence if e.outcome == outcome]
        if hits:
            return outcome, hits[0].text
    if evidence:
        return "unknown", evidence[0].text
    return "unknown", "nothing to judge it by (no design field, probe check or proof)"


def judge_rule(
    rule: Rule,
    design: Design | None,
    probe: ProbeResult | None,
    proofs: Mapping[str, ProofResult],
) -> RuleResult:
    evidence: list[Evidence] = []
    if design is not None:
        j = rule.judge(design)
        evidence.append(Evidence("design", j.outcome, j.reason, ", ".join(rule.fields)))
    if probe is not None:
        by_check = probe.by_check()
        evidence += [_probe_evidence(by_check[c]) for c in rule.probe if c in by_check]
    evidence += [_proof_evidence(p, proofs[p.key]) for p in rule.proofs if p.key in proofs]
    outcome, reason = combine(evidence)
    return RuleResult(
        id=rule.id,
        title=rule.title,
        topic=rule.topic,
        claim=rule.claim,
        severity=rule.severity,
        how_checked=rule.how_checked(),
        fix=rule.fix,
        outcome=outcome,
        reason=reason,
        evidence=tuple(evidence),
        proofs=tuple(p.key for p in rule.proofs),
        proof_commands=tuple(p.command() for p in rule.proofs),
    )


def select_rules(ids: Sequence[str] | None) -> list[Rule]:
    """The rules named (all when none); an unknown id is a ConfigError."""
    if not ids:
        return list(RULES.values())
    for rid in ids:
        if rid not in RULES:
            raise ConfigError(unknown("design rule", rid, list(RULES)), field="--rule")
    return [RULES[r] for r in RULES if r in ids]


def review(
    design: Design | None = None,
    probe: ProbeResult | None = None,
    *,
    rules: Sequence[str] | None = None,
    proofs: Sequence[ProofResult] = (),
    notes: Sequence[str] = (),
    design_name: str | None = None,
) -> Review:
    """Judge the rules from what is given (see the module docstring)."""
    if design is None and probe is None:
        raise ConfigError("give a design file, a deployment to probe, or both")
    by_key = {p.key: p for p in proofs}
    results = tuple(judge_rule(r, design, probe, by_key) for r in select_rules(rules))
    return Review(
        design=design_name or (design.name if design else None),
        probe_url=probe.url if probe else None,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        rules=results,
        proofs=tuple(proofs),
        notes=tuple(notes),
        probe=probe,
    )


__all__ = [
    "Evidence",
    "ProofResult",
    "Review",
    "RuleResult",
    "combine",
    "judge_rule",
    "review",
    "select_rules",
]
