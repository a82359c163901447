"""Design rules: a claim about real-time backends, how it is checked, and the run that
proves it.

A rule is one registration: ``@rule(id, title=..., claim=..., fields=..., probe=...,
proofs=..., fix=...)`` on the function that judges a design (``Judgement``: pass, fail
or unknown with the reason, from the design fields it names). ``probe`` names the probe
checks that test the rule on a live deployment; ``proofs`` the catalogue scenarios,
selftest cases or probe checks that demonstrate the failure on the bundled cluster
configured like the design (``review --prove`` runs them). The registry is the
catalogue the CLI, the HTML review and the docs read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pigeon_lab.advisor.design import Design
from pigeon_lab.advisor.findings import Severity

Outcome = Literal["pass", "fail", "unknown"]
ProofKind = Literal["scenario", "selftest", "probe"]


FAILOVER_SHORT: dict[str, Any] = {
    "workload.duration_s": 12,
    "faults": [{"kind": "redis-failover", "target": "redis-primary", "at_s": 5}],
}
"""The catalogue's redis-failover, shortened for a proof (failover at 5 s of 12)."""


@dataclass(frozen=True)
class Judgement:
    """What the design says about one rule."""

    outcome: Outcome
    reason: str


def passed(reason: str) -> Judgement:
    return Judgement("pass", reason)


def failed(reason: str) -> Judgement:
    return Judgement("fail", reason)


def not_said(*fields: str) -> Judgement:
    """``unknown``: the design does not say what the rule needs."""
    return Judgement("unknown", f"the design does not say {' or '.join(fields)}")


@dataclass(frozen=True)
class Proof:
    """A run that demonstrates the rule's failure on the bundled cluster.

    ``scenario``: a catalogue scenario, with ``overrides`` that keep it short and
    ``watch``: the checkers whose verdicts decide (empty: the gate). ``selftest``: a
    selftest case, run without its flaw unless the design has that mistake; its
    ``expect_fail`` checkers are watched. ``probe``: a probe check against the bundled
    cluster started like the design.
    """

    kind: ProofKind
    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    watch: tuple[str, ...] = ()
    shows: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def command(self) -> str:
        """How a reader runs this proof by hand."""
        if self.kind == "scenario":
            return f"pigeon-lab scenario run {self.name}"
        if self.kind == "selftest":
            return f"pigeon-lab selftest --case {self.name}"
        return f"pigeon-lab cluster up --detach && pigeon-lab probe <lb_url>  ({self.name})"


def scenario(name: str, shows: str, *watch: str, **overrides: Any) -> Proof:
    return Proof("scenario", name, dict(overrides), tuple(watch), shows)


def selftest(name: str, shows: str) -> Proof:
    return Proof("selftest", name, {}, (), shows)


def probe(check: str, shows: str) -> Proof:
    return Proof("probe", check, {}, (), shows)


@dataclass(frozen=True)
class Rule:
    """One design rule (see the module docstring)."""

    id: str
    title: str
    claim: str
    severity: Severity
    fields: tuple[str, ...]
    probe: tuple[str, ...]
    proofs: tuple[Proof, ...]
    fix: str
    judge: Callable[[Design], Judgement]
    topic: str = ""

    def how_checked(self) -> str:
        parts = []
        if self.fields:
            parts.append("design " + ", ".join(self.fields))
        if self.probe:
            parts.append("probe " + ", ".join(self.probe))
        if self.proofs:
            parts.append("proof " + ", ".join(p.key for p in self.proofs))
        return "; ".join(parts)


RULES: dict[str, Rule] = {}
TOPICS: tuple[str, ...] = (
    "acks and durability",
    "delivery and clients",
    "load balancer and transports",
    "tenancy and security",
)
"""The order of the catalogue (a rule of another topic goes last)."""


def _topic_rank(r: Rule) -> int:
    return TOPICS.index(r.topic) if r.topic in TOPICS else len(TOPICS)


def rule(
    rule_id: str,
    *,
    title: str,
    claim: str,
    severity: Severity,
    fields: tuple[str, ...],
    probe: tuple[str, ...] = (),
    proofs: tuple[Proof, ...] = (),
    fix: str,
    topic: str = "",
) -> Callable[[Callable[[Design], Judgement]], Callable[[Design], Judgement]]:
    """Register the decorated judge as rule ``rule_id``."""

    def register(judge: Callable[[Design], Judgement]) -> Callable[[Design], Judgement]:
        if rule_id in RULES:
            raise ValueError(f"design rule {rule_id!r} is registered twice")
        RULES[rule_id] = Rule(rule_id, title, claim, severity, fields, probe, proofs, fix,
                              judge, topic)  # fmt: skip
        ordered = sorted(RULES.values(), key=_topic_rank)  # stable: registration order within
        RULES.clear()
        RULES.update((r.id, r) for r in ordered)
        return judge

    return register


__all__ = [
    "FAILOVER_SHORT",
    "RULES",
    "TOPICS",
    "Judgement",
    "Outcome",
    "Proof",
    "Rule",
    "failed",
    "not_said",
    "passed",
    "probe",
    "rule",
    "scenario",
    "selftest",
]
