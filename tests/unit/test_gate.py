"""The gate: invariant verdicts, thresholds with every operator, missing metrics, policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigeon_lab.checkers.base import Outcome, Verdict
from pigeon_lab.errors import ConfigError
from pigeon_lab.report.gate import evaluate_gate, exit_code, load_policy, policy_from_mapping
from pigeon_lab.report.policy import GatePolicy
from pigeon_lab.report.sample import sample_slo_metrics, sample_verdicts


def slo(**metrics: object) -> Verdict:
    return Verdict("slo", Outcome.PASS, "measured", metrics=dict(metrics))


def ok(name: str) -> Verdict:
    return Verdict(name, Outcome.PASS, "fine")


def gate(verdicts: list[Verdict], **policy: object) -> tuple[bool, dict[str, tuple[bool, str]]]:
    result = evaluate_gate(verdicts, GatePolicy.model_validate(policy))
    return result.passed, {c.name: (c.passed, c.message) for c in result.checks}


@pytest.mark.parametrize(
    ("condition", "passes"),
    [
        ("< 250", True), ("< 200", False), ("< 199.5", False),
        ("<= 200", True), ("<= 199", False),
        ("> 100", True), ("> 200", False),
        (">= 200", True), (">= 201", False),
        ("== 200", True), ("== 200.5", False),
        ("!= 1", True), ("!= 200", False),
    ],
)  # fmt: skip
def test_threshold_operators(condition: str, passes: bool) -> None:
    verdicts = [ok("durability"), slo(ack_latency_ms={"p99": 200.0})]
    passed, checks = gate(verdicts, thresholds={"ack_latency_ms.p99": condition})
    assert passed is passes
    assert checks["ack_latency_ms.p99"][0] is passes


def test_realistic_slo_metrics_resolve() -> None:
    verdicts = sample_verdicts(failing=False)
    result = evaluate_gate(verdicts, GatePolicy(thresholds={
        "ack_latency_ms.p99": "< 250", "availability": ">= 0.9", "reconnect_ms.max": "< 60000",
        "per_workspace.ws-3.ack_p99": "< 1000", "faults.1.time_to_recovery_s": "< 10",
    }))  # fmt: skip
    assert result.passed, [c.message for c in result.checks if not c.passed]
    observed = {c.name: c.observed for c in result.checks}
    assert observed["ack_latency_ms.p99"] == pytest.approx(94.5)
    assert observed["faults.1.time_to_recovery_s"] == pytest.approx(5.2)


def test_observed_value_and_message_on_breach() -> None:
    result = evaluate_gate(
        [ok("order"), slo(availability=0.97)], GatePolicy(thresholds={"availability": ">= 0.999"})
    )
    check = result.checks[-1]
    assert (check.kind, check.metric, check.condition, check.observed) == (
        "threshold",
        "availability",
        ">= 0.999",
        0.97,
    )
    assert not check.passed and "0.97" in check.message and ">= 0.999" in check.message
    assert exit_code(result) == 1


def test_missing_metric_fails_with_a_message() -> None:
    passed, checks = gate(
        [ok("order"), slo(ack_latency_ms={"p50": 3})], thresholds={"ack_latency_ms.p99": "< 250"}
    )
    assert not passed
    ok_, message = checks["ack_latency_ms.p99"]
    assert not ok_ and "not found" in message and "p99" in message


def test_null_metric_fails_with_a_message() -> None:
    passed, checks = gate(
        [ok("order"), slo(availability=None)], thresholds={"availability": ">= 0.99"}
    )
    assert not passed
    assert "null" in checks["availability"][1]


def test_missing_slo_verdict_fails_the_threshold() -> None:
    passed, checks = gate([ok("order")], thresholds={"availability": ">= 0.99"})
    assert not passed
    assert "no 'slo' verdict" in checks["availability"][1]


def test_other_checkers_metrics_by_prefix() -> None:
    gaps = Verdict("gaps", Outcome.PASS, "ok", metrics={"live_gaps_repaired": 41})
    passed, checks = gate([gaps, slo(availability=1.0)], thresholds={
        "gaps.live_gaps_repaired": "< 100", "slo.availability": "== 1",
    })  # fmt: skip
    assert passed, checks
    passed, checks = gate([gaps], thresholds={"gaps.live_gaps_repaired": "< 10"})
    assert not passed and "41" in checks["gaps.live_gaps_repaired"][1]


def test_wildcard_requires_every_value_and_reports_the_worst() -> None:
    per_ws = {"a": {"ack_p99": 10.0}, "b": {"ack_p99": 300.0}, "c": {"ack_p99": 20.0}}
    result = evaluate_gate(
        [slo(per_workspace=per_ws)], GatePolicy(thresholds={"per_workspace.*.ack_p99": "< 250"})
    )
    check = result.checks[-1]
    assert (
        not check.passed and check.observed == 300.0 and "per_workspace.b.ack_p99" in check.message
    )
    result = evaluate_gate(
        [slo(per_workspace=per_ws)], GatePolicy(thresholds={"per_workspace.*.ack_p99": "< 500"})
    )
    assert result.checks[-1].passed and result.checks[-1].observed == 300.0


def test_fail_fails_and_unknown_fails_unless_allowed() -> None:
    verdicts = [ok("durability"), Verdict("isolation", Outcome.UNKNOWN, "no read-back"), slo()]
    passed, checks = gate(verdicts)
    assert not passed and not checks["isolation"][0] and "unknown" in checks["isolation"][1]
    passed, checks = gate(verdicts, allow_unknown=True)
    assert passed and checks["isolation"][0]
    passed, _ = gate([Verdict("order", Outcome.FAIL, "seq 4 reused")], allow_unknown=True)
    assert not passed


def test_invariant_failures_max() -> None:
    verdicts = sample_verdicts(failing=True)  # durability fails, isolation unknown
    result = evaluate_gate(verdicts, GatePolicy(invariant_failures_max=1))
    assert not result.passed and result.invariant_failures == 2
    result = evaluate_gate(verdicts, GatePolicy(invariant_failures_max=2))
    assert result.passed and exit_code(result) == 0
    result = evaluate_gate(verdicts, GatePolicy(invariant_failures_max=1, allow_unknown=True))
    assert result.passed and result.invariant_failures == 1


def test_slo_is_not_an_invariant_and_no_verdict_fails() -> None:
    result = evaluate_gate(sample_verdicts(failing=False), GatePolicy())
    assert "slo" not in {c.name for c in result.checks}
    assert len(result.checks) == 6 and result.passed
    empty = evaluate_gate([], GatePolicy(invariant_failures_max=5))
    assert not empty.passed and "no checker ran" in empty.checks[0].message


def test_non_numeric_metric_fails() -> None:
    passed, checks = gate([slo(timeline=[{"t_s": 0}])], thresholds={"timeline": "< 1"})
    assert not passed and "not a number" in checks["timeline"][1]


def test_load_policy_shapes(tmp_path: Path) -> None:
    plain = tmp_path / "p.yaml"
    plain.write_text('thresholds:\n  "ack_latency_ms.p99": "< 100"\nallow_unknown: true\n')
    assert load_policy(plain) == GatePolicy(
        thresholds={"ack_latency_ms.p99": "< 100"}, allow_unknown=True
    )
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: x\nchecks:\n  gate:\n    invariant_failures_max: 2\n")
    assert load_policy(scenario).invariant_failures_max == 2
    wrapped = tmp_path / "w.yaml"
    wrapped.write_text("gate:\n  allow_unknown: true\n")
    assert load_policy(wrapped).allow_unknown


def test_bad_policies_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('thresholds:\n  "availability": "about 1"\n')
    with pytest.raises(ConfigError, match=r"bad\.yaml.*thresholds.*about 1"):
        load_policy(bad)
    bad.write_text("invariant_failures_max: -1\n")
    with pytest.raises(ConfigError, match="invariant_failures_max"):
        load_policy(bad)
    bad.write_text("[1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        policy_from_mapping([1, 2])


def test_sample_metrics_availability_is_measured() -> None:
    assert 0.9 < sample_slo_metrics()["availability"] < 1.0
