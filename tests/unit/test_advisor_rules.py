"""The design-rule catalogue: its size and wiring, the reference design passing every
rule, one mistake failing exactly the rule that names it, and nothing passing for
nothing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from pigeon_lab.advisor.design import Design, design_from_mapping, load_design
from pigeon_lab.advisor.probe import CHECKS
from pigeon_lab.advisor.rules import RULES
from pigeon_lab.scenario.loading import catalogue
from pigeon_lab.selftest import CASES

ROOT = Path(__file__).resolve().parents[2]
REFERENCE: dict[str, Any] = yaml.safe_load((ROOT / "designs" / "reference.yaml").read_text())

COMING_SCENARIOS = {
    "partition-node-redis", "partition-lb-node", "split-brain", "slow-consumers",
    "flaky-network", "reset-storm",
}  # fmt: skip
"""Catalogue scenarios being added on another branch: a proof may name them now (review
--prove says "proof scenario not available" until they exist)."""

MISTAKES: dict[str, dict[str, Any]] = {
    "ack-after-durable-write": {"acks.after": "receive"},
    "replicated-acks": {"redis.durability": "fast"},
    "redis-failover-path": {"redis.topology": "replicated"},
    "server-dedupe": {"acks.dedupe": False},
    "retry-same-id": {"client.retry": "new-id"},
    "central-sequencing": {"acks.sequencing": "node-local"},
    "retention-covers-reconnects": {"retention.messages_per_channel": 500},
    "resume-after-reconnect": {"client.resume": "none"},
    "cross-node-fanout": {"adapter.kind": "none"},
    "ack-timeouts": {"client.ack_timeout_ms": 0},
    "reconnect-jitter": {"client.reconnect.jitter": "none"},
    "backpressure": {"limits.slow_consumers": "unbounded"},
    "drain-on-sigterm": {"shutdown.drain_s": 0},
    "heartbeat-detects-dead-peers": {"heartbeat.ping_interval_s": 60},
    "failure-tested": {"testing.scenarios": ["baseline"]},
    "sticky-polling": {"load_balancer.stickiness": []},
    "websocket-transport": {"load_balancer.transports": ["polling"]},
    "readiness-routing": {"load_balancer.health_check": "liveness"},
    "tenant-scoped-rooms": {"tenancy.rooms": "unprefixed"},
    "sender-from-token": {"tenancy.sender_from": "payload"},
    "auth-at-connect": {"auth.algorithms": ["HS256", "none"]},
    "expiry-on-live-sockets": {"auth.expiry_on_live_sockets": "none"},
    "bounded-payloads": {"limits.max_body_bytes": 50_000_000},
    "rate-limits": {"limits.rate_limit": "none"},
    "cors-origins": {"auth.carried_in": "cookie"},
}
"""One mistake per rule: dotted design fields set over the reference design."""

MORE_MISTAKES: list[tuple[str, dict[str, Any]]] = [
    ("sticky-polling", {"load_balancer.stickiness": ["cookie"]}),
    ("tenant-scoped-rooms", {"tenancy.tenant_from": "payload"}),
    ("resume-after-reconnect", {"client.resume": "connection-state-recovery"}),
    ("redis-failover-path", {"redis.topology": "single", "redis.replicas": 0,
                             "redis.durability": "fast"}),
    ("server-dedupe", {"acks.dedupe_window_s": 10}),
    ("heartbeat-detects-dead-peers", {"load_balancer.idle_timeout_s": 20}),
    ("auth-at-connect", {"auth.algorithms": ["HS256", "RS256"]}),
    ("auth-at-connect", {"auth.token": "none"}),
    ("central-sequencing", {"acks.sequencing": "none"}),
    ("failure-tested", {"testing.scenarios": ["baseline", "node-kill"]}),
]  # fmt: skip
"""Other ways to make the same mistakes (each still fails only its rule)."""


def with_mistake(changes: dict[str, Any]) -> Design:
    data = copy.deepcopy(REFERENCE)
    for dotted, value in changes.items():
        *path, leaf = dotted.split(".")
        node = data
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return design_from_mapping(data, "mistake.yaml")


def failing(design: Design) -> set[str]:
    return {r.id for r in RULES.values() if r.judge(design).outcome == "fail"}


def test_the_catalogue_has_at_least_twenty_rules_each_complete() -> None:
    assert len(RULES) >= 20
    for r in RULES.values():
        assert r.claim and r.fix and r.title, r.id
        assert r.fields, f"{r.id} reads no design field"
        assert r.proofs, f"{r.id} names no scenario, selftest case or probe check"
        assert r.topic, r.id


def _field_exists(model: type[BaseModel], dotted: str) -> bool:
    node: Any = model
    for part in dotted.split("."):
        fields = getattr(node, "model_fields", None)
        if fields is None or part not in fields:
            return False
        annotation = fields[part].annotation
        node = annotation if isinstance(annotation, type) else None
    return True


def test_every_rule_names_real_fields_checks_and_proofs() -> None:
    scenarios = {e.name for e in catalogue()} | COMING_SCENARIOS
    cases = {c.name for c in CASES}
    for r in RULES.values():
        for f in r.fields:
            assert _field_exists(Design, f), f"{r.id}: no design field {f}"
        for check in r.probe:
            assert check in CHECKS, f"{r.id}: no probe check {check}"
        for p in r.proofs:
            known = {"scenario": scenarios, "selftest": cases, "probe": set(CHECKS)}[p.kind]
            assert p.name in known, f"{r.id}: unknown {p.kind} {p.name!r}"
            assert p.shows, f"{r.id}: the proof {p.key} says not what it shows"


def test_every_probe_check_tests_a_rule_that_lists_it() -> None:
    for check in CHECKS.values():
        assert check.rule in RULES, check.id
        assert check.id in RULES[check.rule].probe, f"{check.rule} does not list {check.id}"


def test_the_reference_design_passes_every_rule() -> None:
    design = load_design("reference")
    verdicts = {r.id: r.judge(design) for r in RULES.values()}
    assert {k: v.reason for k, v in verdicts.items() if v.outcome != "pass"} == {}


def test_every_rule_has_a_mistake() -> None:
    assert set(MISTAKES) == set(RULES)


@pytest.mark.parametrize("rule_id", list(MISTAKES))
def test_one_mistake_fails_exactly_its_rule(rule_id: str) -> None:
    assert failing(with_mistake(MISTAKES[rule_id])) == {rule_id}


@pytest.mark.parametrize(("rule_id", "changes"), MORE_MISTAKES)
def test_other_forms_of_a_mistake_fail_only_their_rule(
    rule_id: str, changes: dict[str, Any]
) -> None:
    assert failing(with_mistake(changes)) == {rule_id}


def test_a_design_that_says_nothing_passes_nothing() -> None:
    empty = Design()
    outcomes = {r.id: r.judge(empty).outcome for r in RULES.values()}
    assert set(outcomes.values()) == {"unknown"}, outcomes


def test_a_failure_says_why_in_the_designs_terms() -> None:
    j = RULES["replicated-acks"].judge(with_mistake(MISTAKES["replicated-acks"]))
    assert "fast" in j.reason and "acknowledged writes" in j.reason
    j = RULES["sticky-polling"].judge(with_mistake({"load_balancer.stickiness": ["cookie"]}))
    assert "cookie only" in j.reason
