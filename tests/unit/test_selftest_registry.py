"""The selftest registry covers every backend flaw, its cases validate, and the judge is strict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pigeon_lab.checkers.base import Counterexample, Outcome, Verdict
from pigeon_lab.checkers.suite import CHECKER_ORDER
from pigeon_lab.cli import app
from pigeon_lab.errors import ConfigError
from pigeon_lab.report.model import Counts, GateResult, Report, RunInfo
from pigeon_lab.scenario.model import FLAWS
from pigeon_lab.selftest import CASES, SelftestCase, judge, select_cases
from reference_backend.flaws import FLAW_NAMES


def test_every_backend_flaw_has_a_case_that_expects_a_failure() -> None:
    assert set(FLAWS) == set(FLAW_NAMES)
    covered = {c.flaw for c in CASES if c.flaw is not None and c.expect_fail}
    assert covered == set(FLAW_NAMES)


def test_cases_are_unique_and_name_real_checkers() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    known = set(CHECKER_ORDER)
    for case in CASES:
        assert case.expect_fail <= known, case.name
        assert all(k.split(".")[0] in known | {"run"} for k in case.requires), case.name
    assert any(c.flaw is None and not c.expect_fail for c in CASES), "no correct-backend case"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_case_validates_as_a_scenario(case: SelftestCase) -> None:
    s = case.scenario()
    assert s.topology.backend.flaws == ((case.flaw,) if case.flaw else ())
    assert s.workload.duration_s <= 10  # selftest runs are short
    assert not s.unavailable_faults()
    if case.flaw == "local-seq":
        assert s.topology.nodes >= 2 and s.topology.load_balancer == "haproxy"
        assert {f.target for f in s.faults if f.kind == "kill"} >= {"node-1", "node-2"}
    if case.flaw == "sender-from-payload":
        assert s.workload.adversarial_users >= 1
    if case.flaw == "no-dedupe":
        assert s.workload.duplicate_send_ratio > 0


def test_select_cases() -> None:
    assert select_cases() == list(CASES)
    assert [c.name for c in select_cases(["no-dedupe", "correct"])] == ["correct", "no-dedupe"]
    with pytest.raises(ConfigError, match="unknown case"):
        select_cases(["nope"])


def _report(outcomes: dict[str, str], examples: int = 1, sends: int = 10) -> Report:
    verdicts = [
        Verdict(
            n,
            Outcome(o),
            "",
            counts={"retried_acks": 3, "adversarial": 2},
            counterexamples=[Counterexample("x")] * (examples if o == "fail" else 0),
        )
        for n, o in outcomes.items()
    ]
    return Report(
        run=RunInfo(id="r", scenario="smoke"),
        verdicts=verdicts,
        gate=GateResult(passed=True),
        counts=Counts(rows=100, sends=sends, acks=sends, deliveries=sends),
    )


ALL_PASS = {n: "pass" for n in ("durability", "order", "idempotence", "isolation", "slo")}


def test_judge_correct_case_needs_every_checker_to_pass_on_a_real_run() -> None:
    case = next(c for c in CASES if c.name == "correct")
    assert judge(case, _report(ALL_PASS)).ok
    assert not judge(case, _report({**ALL_PASS, "order": "unknown"})).ok
    assert not judge(case, _report({**ALL_PASS, "isolation": "fail"})).ok
    empty = judge(case, _report(ALL_PASS, sends=0))
    assert not empty.ok and "proves nothing" in empty.reason


def test_judge_flaw_case_needs_its_checker_to_fail_with_a_counterexample() -> None:
    case = SelftestCase("x", "no-dedupe", {}, frozenset({"idempotence"}))
    caught = judge(case, _report({**ALL_PASS, "idempotence": "fail", "delivery": "fail"}))
    assert caught.ok and caught.failed == ["idempotence", "delivery"]
    missed = judge(case, _report({**ALL_PASS, "order": "fail"}))
    assert not missed.ok and "idempotence (pass)" in missed.reason
    bare = judge(case, _report({**ALL_PASS, "idempotence": "fail"}, examples=0))
    assert not bare.ok and "without a counterexample" in bare.reason


def test_cli_has_selftest_and_refuses_an_unknown_case() -> None:
    runner = CliRunner()
    assert "selftest" in runner.invoke(app, ["--help"]).output
    result = runner.invoke(app, ["selftest", "--case", "nope"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) or "unknown case" in result.output


def test_run_scenario_overrides_merge_under_seed_and_duration() -> None:
    from pigeon_lab.run import _overrides

    got = _overrides(7, 3.0, {"workload.users": 10, "topology": {"nodes": 2}})
    assert got == {
        "seed": 7,
        "workload": {"users": 10, "duration_s": 3.0},
        "topology": {"nodes": 2},
    }
    assert _overrides(None, None) == {}


def test_cli_prints_a_table_or_json_and_exits_by_the_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import pigeon_lab.selftest as st

    results = [
        st.CaseResult(CASES[0], True, "all 7 checkers passed"),
        st.CaseResult(
            next(c for c in CASES if c.name == "ack-before-persist"),
            False,
            "run error: boom",
            error="Traceback: boom",
        ),
    ]
    seen: list[object] = []

    def fake(names: object, *, out: Path | None = None, **_: object) -> st.SelftestResult:
        seen.append(names)
        return st.SelftestResult(out or tmp_path, results[: 1 if names else 2])

    monkeypatch.setattr(st, "run_selftest", fake)
    runner = CliRunner()
    ok = runner.invoke(app, ["selftest", "--case", "correct", "--out", str(tmp_path), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["cases"][0]["case"] == "correct" and seen[0] == ["correct"]
    bad = runner.invoke(app, ["selftest"])
    assert bad.exit_code == 1
    assert "NOT OK" in bad.stdout and "ack-before-persist" in bad.stdout
