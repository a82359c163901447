"""Threshold paths: the scenario validator and the gate agree, from what checkers declare (B)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from pigeon_lab import gate_policy
from pigeon_lab.checkers import FaultWindow, checker_names
from pigeon_lab.checkers.suite import check_all
from pigeon_lab.errors import ConfigError
from pigeon_lab.gate_policy import (
    GatePolicy,
    known_metric_paths,
    metric_path_problem,
    split_metric_path,
)
from pigeon_lab.report import gate
from pigeon_lab.report.gate import evaluate_gate, resolve_metric
from pigeon_lab.report.sample import sample_verdicts
from pigeon_lab.scenario import scenario_from_text
from tests.unit.test_checker_helpers import generated
from tests.voice_builder import correct_room

GATE_DOC_PATHS = (
    "ack_latency_ms.p99",
    "availability",
    "gaps.live_gaps_repaired",
    "slo.availability",
    "faults.0.time_to_recovery_s",
    "per_workspace.*.ack_p99",
)
"""Every metric path the gate's docstring names as an example."""


def scenario_with(*paths: str) -> str:
    lines = "".join(f"      '{p}': '< 1000000'\n" for p in paths)
    return f"checks:\n  gate:\n    thresholds:\n{lines}"


def test_the_gate_docstring_names_these_paths() -> None:
    for path in GATE_DOC_PATHS:
        assert f"``{path}``" in (gate.__doc__ or ""), path


@pytest.mark.parametrize("path", GATE_DOC_PATHS)
def test_every_path_the_gate_documents_validates_in_a_scenario(path: str) -> None:
    assert metric_path_problem(path) is None
    s = scenario_from_text(scenario_with(path))
    assert path in s.checks.gate.thresholds


def test_the_gate_resolves_every_documented_path() -> None:
    policy = GatePolicy(thresholds={p: "> -1000000" for p in GATE_DOC_PATHS})
    result = evaluate_gate(sample_verdicts(failing=False), policy)
    checks = {c.name: c for c in result.checks if c.kind == "threshold"}
    for path in GATE_DOC_PATHS:
        assert checks[path].passed, checks[path].message
        assert isinstance(checks[path].observed, (int, float)), checks[path]


def test_every_declared_path_validates_and_the_real_checkers_produce_it() -> None:
    history, ctx = generated(3)
    t0 = int(history["t"].min())
    fault = FaultWindow("kill", "node-1", t0 + 1_000_000_000, t0 + 2_000_000_000)
    voice = correct_room().frame()  # a voice room beside the chat users: both workloads' paths
    voice["t"] += t0
    history = pd.concat([history, voice.astype({"kind": str})], ignore_index=True)
    history = history.astype({"kind": str})
    verdicts = check_all(history, replace(ctx, faults=(fault,)), names=checker_names())
    paths = known_metric_paths()
    assert "gaps.live_gaps_repaired" in paths and "per_workspace.*.ack_p99" in paths
    for path in paths:
        assert metric_path_problem(path) is None, path
        found = resolve_metric(verdicts, path)
        assert not isinstance(found, gate._Missing), (path, found.reason)
        assert not isinstance(found, gate._Many) or found.items, f"{path}: '*' matched nothing"


@pytest.mark.parametrize(
    ("misspelt", "meant"),
    [
        ("ack_latency_ms.p999", "ack_latency_ms.p99"),
        ("availabilty", "availability"),
        ("gaps.live_gap_repaired", "gaps.live_gaps_repaired"),
        ("gap.live_gaps_repaired", "gaps.live_gaps_repaired"),
        ("per_workspace.*.ack_p9", "per_workspace.*.ack_p99"),
        ("faults.0.time_to_recovery", "faults.0.time_to_recovery_s"),
        ("slo.availabilty", "slo.availability"),
    ],
)
def test_a_misspelt_path_is_refused_with_a_suggestion(misspelt: str, meant: str) -> None:
    with pytest.raises(ConfigError) as info:
        scenario_from_text(scenario_with(misspelt), source="s.yaml")
    message = str(info.value)
    assert info.value.field == f"checks.gate.thresholds.{misspelt}"
    assert f"unknown metric '{misspelt}'" in message
    assert f"did you mean '{meant}'?" in message


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("ack_latency_ms", "is a group (n, p50, p95, p99, max, mean), not a number"),
        ("per_workspace.acme", "not a number; name one inside it, e.g. 'per_workspace.acme."),
        ("faults.0.kind", "is text, not a number"),
        ("order.violations", "the order checker reports no metrics"),
        ("timeline.last.errors", "'timeline' is a list; index it with a number or '*'"),
        ("availability.p99", "'availability' is a number, it has no 'p99'"),
    ],
)
def test_paths_that_lead_to_no_number_are_refused(path: str, reason: str) -> None:
    problem = metric_path_problem(path)
    assert problem is not None and reason in problem


def test_a_checker_prefix_is_only_a_registered_checker() -> None:
    assert split_metric_path("gaps.live_gaps_repaired").checker == "gaps"
    assert split_metric_path("slo.availability").parts == ("availability",)
    assert split_metric_path("availability").checker == "slo"
    assert split_metric_path("gaps").checker == "slo"  # one segment: a slo metric name
    where = split_metric_path("per_workspace.*.ack_p99")
    assert (where.checker, where.prefix) == ("slo", "")


def test_the_gate_says_when_no_checker_produces_a_path() -> None:
    result = evaluate_gate(
        sample_verdicts(failing=False), GatePolicy(thresholds={"ack_latency_ms.p999": "< 5"})
    )
    check = result.checks[-1]
    assert not check.passed and "metric not found" in check.message
    assert "did you mean 'ack_latency_ms.p99'?" in check.message


def test_a_documented_path_whose_checker_did_not_run_says_so() -> None:
    verdicts = [v for v in sample_verdicts(failing=False) if v.name != "gaps"]
    result = evaluate_gate(verdicts, GatePolicy(thresholds={"gaps.live_gaps_repaired": "< 5"}))
    assert "no 'gaps' verdict in this run" in result.checks[-1].message


def test_the_module_docstring_examples_are_valid_paths() -> None:
    for path in ("per_workspace.acme.ack_p99", "faults.0.time_to_recovery_s"):
        assert f"``{path}``" in (gate_policy.__doc__ or "")
        assert metric_path_problem(path) is None
