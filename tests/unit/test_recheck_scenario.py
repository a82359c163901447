"""`report render` reads scenario.yaml into the Scenario model and checks as the run did (E)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pigeon_lab.checkers.base import CheckContext, Verdict
from pigeon_lab.cli import app
from pigeon_lab.errors import ConfigError
from pigeon_lab.report.recheck import read_scenario, recheck_run
from pigeon_lab.report.render import write_reports
from pigeon_lab.report.sample import sample_verdicts
from pigeon_lab.scenario import Scenario, dump_scenario, scenario_data, scenario_from_dict
from tests.unit.test_report_cli import build_run

runner = CliRunner()


@pytest.fixture()
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[CheckContext, list[str]]]:
    """A stand-in checker suite recording the context and names it was given."""
    calls: list[tuple[CheckContext, list[str]]] = []

    def check_all(history: Any, ctx: CheckContext, names: Any = None) -> list[Verdict]:
        calls.append((ctx, list(names)))
        return [v for v in sample_verdicts(failing=False) if v.name in names]

    module = types.ModuleType("pigeon_lab.checkers.suite")
    module.check_all = check_all  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pigeon_lab.checkers.suite", module)
    return calls


def write_scenario(run_dir: Path, data: dict[str, Any]) -> Scenario:
    scenario = scenario_from_dict(data)
    (run_dir / "scenario.yaml").write_text(dump_scenario(scenario))
    return scenario


def test_checks_fields_default_and_are_saved_in_scenario_yaml() -> None:
    s = Scenario()
    assert (s.checks.max_counterexamples, s.checks.settle_ms) == (10, 5000.0)
    saved = yaml.safe_load(dump_scenario(s))["checks"]
    assert saved["max_counterexamples"] == 10 and saved["settle_ms"] == 5000


def test_the_context_comes_from_the_typed_scenario(
    tmp_path: Path, seen: list[tuple[CheckContext, list[str]]]
) -> None:
    run_dir = build_run(tmp_path / "run")
    scenario = write_scenario(
        run_dir,
        {
            "name": "tiny",
            "workload": {"ack_timeout_ms": 800, "workspaces": 1},
            "checks": {
                "invariants": ["durability", "slo"],
                "bucket_s": 2.0,
                "max_counterexamples": 3,
                "settle_ms": 1500,
                "gate": {"thresholds": {"availability": ">= 0.5"}},
            },
        },
    )
    report = recheck_run(run_dir)
    ((ctx, names),) = seen
    assert (ctx.ack_timeout_ms, ctx.bucket_s, ctx.max_counterexamples, ctx.settle_ms) == (
        800.0,
        2.0,
        3,
        1500.0,
    )
    assert names == ["durability", "slo"]
    assert [c.name for c in report.gate.checks] == ["durability", "availability"]
    assert read_scenario(run_dir / "scenario.yaml") == scenario
    assert report.scenario == scenario_data(scenario)
    assert report.run.topology["nodes"] == scenario.topology.nodes


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("checks:\n  max_counterexamples: 0\n", "checks.max_counterexamples"),
        ("checks:\n  invariants: [durablity]\n", "checks.invariants[0]"),
        ("checks:\n  gate:\n    thresholds: {ack_p99: '< 5'}\n", "checks.gate.thresholds.ack_p99"),
        ("workload: [1\n", None),
    ],
)
def test_a_broken_scenario_yaml_names_the_file_and_field(
    tmp_path: Path, seen: list[tuple[CheckContext, list[str]]], text: str, field: str | None
) -> None:
    run_dir = build_run(tmp_path / "run")
    (run_dir / "scenario.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        recheck_run(run_dir)
    assert str(run_dir / "scenario.yaml") in str(info.value)
    assert info.value.field == field
    assert not seen


def test_report_gate_reads_the_policy_from_the_typed_scenario(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    report = recheck_run(build_run(run_dir))
    write_reports(run_dir, report)
    assert runner.invoke(app, ["report", "gate", str(run_dir)]).exit_code == 0
    write_scenario(
        run_dir,
        {"name": "tiny", "checks": {"gate": {"thresholds": {"ack_latency_ms.p99": "< 1"}}}},
    )
    result = runner.invoke(app, ["report", "gate", str(run_dir)])
    assert result.exit_code == 1, result.output
    assert "ack_latency_ms.p99" in result.output
