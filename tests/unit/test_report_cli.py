"""`pigeon-lab report render|gate|diff` and recheck_run on a small run folder built here."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from pigeon_lab.checkers.base import CheckContext, Outcome, Verdict
from pigeon_lab.cli import app
from pigeon_lab.errors import ConfigError, ReportError
from pigeon_lab.history.schema import FINAL_LOG_SCHEMA, HISTORY_SCHEMA, READBACK_SCHEMA
from pigeon_lab.report.recheck import recheck_run
from pigeon_lab.report.render import load_report, write_reports
from pigeon_lab.report.sample import sample_report, sample_verdicts
from pigeon_lab.scenario.checks import DEFAULT_INVARIANTS

T0 = 1_000_000_000_000
S = 1_000_000_000
runner = CliRunner()


def history_rows(sends: int = 3) -> list[dict[str, Any]]:
    """Two clients of ws0 on ch0; c1 sends ``sends`` messages, both deliver each."""
    rows: list[dict[str, Any]] = []

    def ev(t: float, client: str, kind: str, **kw: Any) -> None:
        user = {"c1": "u1", "c2": "u2"}[client]
        rows.append({"t": T0 + int(t * S), "wall": 1_700_000_000_000_000_000 + int(t * S),
                     "client": client, "user": user, "workspace": "ws0", "node": "node-1",
                     "kind": kind, **kw})  # fmt: skip

    for c in ("c1", "c2"):
        ev(0.0, c, "connect")
        ev(0.1, c, "join", channel="ch0")
        ev(0.2, c, "join_ok", channel="ch0", seq=0)
    for i in range(1, sends + 1):
        t = float(i)
        msg = {
            "channel": "ch0",
            "client_msg_id": f"cm-{i}",
            "msg_workspace": "ws0",
            "body_hash": f"h{i}",
        }
        ev(t, "c1", "send_invoke", attempt=1, **msg)
        ev(
            t + 0.01,
            "c1",
            "send_ok",
            seq=i,
            msg_id=f"m{i}",
            sender="u1",
            attempt=1,
            latency_ms=10.0,
            **msg,
        )
        for c in ("c1", "c2"):
            ev(
                t + 0.02,
                c,
                "recv",
                seq=i,
                msg_id=f"m{i}",
                sender="u1",
                sent_wall=1_700_000_000_000 + i * 1000,
                **msg,
            )
            ev(t + 0.02, c, "deliver", seq=i, msg_id=f"m{i}", sender="u1", latency_ms=20.0,
               sent_wall=1_700_000_000_000 + i * 1000, **msg)  # fmt: skip
    return rows


def build_run(run_dir: Path, *, sends: int = 3, gate: dict[str, Any] | None = None) -> Path:
    """A complete run folder with the files `report render` reads."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = history_rows(sends)
    pq.write_table(pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA), run_dir / "history.parquet")
    final = [
        {
            "workspace": "ws0",
            "channel": "ch0",
            "seq": i,
            "msg_id": f"m{i}",
            "client_msg_id": f"cm-{i}",
            "sender": "u1",
            "body_hash": f"h{i}",
            "ts": 1_700_000_000_000 + i * 1000,
        }
        for i in range(1, sends + 1)
    ]
    pq.write_table(
        pa.Table.from_pylist(final, schema=FINAL_LOG_SCHEMA), run_dir / "final_logs.parquet"
    )
    readback = [{"workspace": "ws0", "channel": "ch0", "head_seq": sends, "complete": True,
                 "truncated": False, "error": None}]  # fmt: skip
    pq.write_table(
        pa.Table.from_pylist(readback, schema=READBACK_SCHEMA), run_dir / "readback.parquet"
    )
    faults = [
        {
            "kind": "kill",
            "target": "node-2",
            "start_t": T0 + 1 * S,
            "end_t": T0 + 2 * S,
            "error": None,
        }
    ]
    (run_dir / "faults.json").write_text(json.dumps(faults))
    scenario = {"name": "tiny", "seed": 7, "topology": {"nodes": 2},
                "workload": {"ack_timeout_ms": 5000, "workspaces": 1},
                "checks": {"bucket_s": 1.0, "gate": gate if gate is not None else {}}}  # fmt: skip
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    meta = {
        "tool_version": "0.1.0",
        "scenario": "tiny",
        "seed": 7,
        "started": "2026-11-28T10:00:00+00:00",
        "finished": "2026-11-28T10:00:05+00:00",
        "complete": True,
        "target": "http://127.0.0.1:1",
        "load_start_t": T0,
        "load_end_t": T0 + 4 * S,
    }
    (run_dir / "run.json").write_text(json.dumps(meta))
    return run_dir


@pytest.fixture()
def fake_suite(monkeypatch: pytest.MonkeyPatch) -> list[CheckContext]:
    """A stand-in `pigeon_lab.checkers.suite` that records the context it got."""
    seen: list[CheckContext] = []

    def check_all(history: Any, ctx: CheckContext, names: Any = None) -> list[Verdict]:
        seen.append(ctx)
        verdicts = sample_verdicts(failing=False)
        return [v for v in verdicts if names is None or v.name in names]

    module = types.ModuleType("pigeon_lab.checkers.suite")
    module.check_all = check_all  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pigeon_lab.checkers.suite", module)
    return seen


def test_recheck_builds_context_and_report(tmp_path: Path, fake_suite: list[CheckContext]) -> None:
    run_dir = build_run(tmp_path / "run")
    report = recheck_run(run_dir)
    ctx = fake_suite[0]
    assert ctx.final_log is not None and len(ctx.final_log) == 3
    assert ctx.readback is not None and ctx.complete and ctx.ack_timeout_ms == 5000.0
    assert [(f.kind, f.start_t, f.end_t) for f in ctx.faults] == [("kill", T0 + S, T0 + 2 * S)]
    assert report.run.id == "run" and report.run.scenario == "tiny" and report.run.seed == 7
    assert report.run.duration_s == 5.0
    assert report.counts.sends == 3 and report.counts.acks == 3 and report.counts.deliveries == 6
    assert report.counts.clients == 2 and report.counts.rows == 6 + 3 * 6
    assert report.faults[0].kind == "kill"
    assert report.gate.passed


def test_recheck_uses_the_scenarios_gate(tmp_path: Path, fake_suite: list[CheckContext]) -> None:
    run_dir = build_run(tmp_path / "run", gate={"thresholds": {"ack_latency_ms.p99": "< 1"}})
    report = recheck_run(run_dir)
    assert not report.gate.passed
    assert [c.name for c in report.gate.checks if not c.passed] == ["ack_latency_ms.p99"]


@pytest.mark.parametrize("missing", ["history.parquet", "run.json", "scenario.yaml", "faults.json"])
def test_missing_files_name_the_file(
    tmp_path: Path, fake_suite: list[CheckContext], missing: str
) -> None:
    run_dir = build_run(tmp_path / "run")
    (run_dir / missing).unlink()
    with pytest.raises(ReportError, match=missing.replace(".", r"\.")):
        recheck_run(run_dir)


def test_missing_readback_gives_none_to_the_checkers(
    tmp_path: Path, fake_suite: list[CheckContext]
) -> None:
    run_dir = build_run(tmp_path / "run")
    (run_dir / "final_logs.parquet").unlink()
    recheck_run(run_dir)
    assert fake_suite[0].final_log is None


def test_render_writes_three_reports(tmp_path: Path, fake_suite: list[CheckContext]) -> None:
    run_dir = build_run(tmp_path / "run")
    result = runner.invoke(app, ["report", "render", str(run_dir)])
    assert result.exit_code == 0, result.output
    for name in ("report.json", "junit.xml", "report.html"):
        assert (run_dir / name).exists() and str(run_dir / name) in result.output
    assert load_report(run_dir).run.id == "run"


def test_render_exit_code_follows_the_gate(tmp_path: Path, fake_suite: list[CheckContext]) -> None:
    run_dir = build_run(tmp_path / "run", gate={"thresholds": {"availability": ">= 0.9999"}})
    result = runner.invoke(app, ["report", "render", str(run_dir)])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output


def test_render_from_json_and_missing_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_reports(run_dir, sample_report(failing=False))
    (run_dir / "report.html").unlink()
    result = runner.invoke(app, ["report", "render", str(run_dir), "--from-json"])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").exists()
    result = runner.invoke(app, ["report", "render", str(tmp_path / "absent")])
    assert isinstance(result.exception, ReportError)


def test_gate_with_policy_file_and_json(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_reports(run_dir, sample_report(failing=False))
    result = runner.invoke(app, ["report", "gate", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "ack_latency_ms.p99" in result.output and "PASS" in result.output
    strict = tmp_path / "strict.yaml"
    strict.write_text('thresholds:\n  "ack_latency_ms.p99": "< 1"\n')
    result = runner.invoke(app, ["report", "gate", str(run_dir), "--policy", str(strict), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["passed"] is False
    assert [c["name"] for c in data["checks"] if not c["passed"]] == ["ack_latency_ms.p99"]
    bad = tmp_path / "bad.yaml"
    bad.write_text('thresholds:\n  "x": "soon"\n')
    result = runner.invoke(app, ["report", "gate", str(run_dir), "--policy", str(bad)])
    assert isinstance(result.exception, ConfigError)


def test_gate_without_report_json_is_a_report_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "gate", str(tmp_path)])
    assert isinstance(result.exception, ReportError) and "report.json" in str(result.exception)


def test_diff_text_and_json(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_reports(a, sample_report(failing=False, run_id="a"))
    write_reports(b, sample_report(failing=True, run_id="b", slow=1.5))
    result = runner.invoke(app, ["report", "diff", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "durability" in result.output and "ack_latency_ms.p99" in result.output
    result = runner.invoke(app, ["report", "diff", str(a), str(b), "--json"])
    data = json.loads(result.output)
    assert {v["name"] for v in data["verdicts"]} == {"durability", "isolation"}
    assert data["gate_before"] is True and data["gate_after"] is False
    result = runner.invoke(app, ["report", "diff", str(a), str(b), "--fail-on-regression"])
    assert result.exit_code == 1


def test_recheck_with_the_real_checkers(tmp_path: Path) -> None:
    pytest.importorskip("pigeon_lab.checkers.suite")
    run_dir = build_run(tmp_path / "run")
    report = recheck_run(run_dir)
    outcomes = {v.name: v.outcome for v in report.verdicts}
    assert set(outcomes) == set(DEFAULT_INVARIANTS)  # a chat run: chat's checkers
    assert all(o is Outcome.PASS for o in outcomes.values()), {
        v.name: v.summary for v in report.verdicts if v.outcome is not Outcome.PASS
    }
    slo = report.verdict("slo")
    assert slo is not None and slo.metrics["timeline"]
    assert report.faults[0].start_s == pytest.approx(1.0)
    paths = write_reports(run_dir, report)
    assert load_report(run_dir) == report and paths.html.exists()


def test_render_with_policy_and_unknown_checker(tmp_path: Path) -> None:
    pytest.importorskip("pigeon_lab.checkers.suite")
    run_dir = build_run(tmp_path / "run")
    strict = tmp_path / "strict.yaml"
    strict.write_text('thresholds:\n  "delivery_latency_ms.p99": "< 1"\n')
    result = runner.invoke(app, ["report", "render", str(run_dir), "--policy", str(strict)])
    assert result.exit_code == 1, result.output
    assert not load_report(run_dir).gate.passed
    result = runner.invoke(
        app, ["report", "render", str(run_dir), "--checkers", "durability,bogus"]
    )
    assert isinstance(result.exception, ConfigError) and "bogus" in str(result.exception)
    result = runner.invoke(app, ["report", "render", str(run_dir), "--checkers", "durability,slo"])
    assert result.exit_code == 0, result.output
    assert [v.name for v in load_report(run_dir).verdicts] == ["durability", "slo"]
