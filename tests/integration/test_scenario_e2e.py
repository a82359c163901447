"""End to end: `pigeon-lab scenario run smoke` on the bundled cluster, through the CLI.

Asserts on what a CI job and an engineer read: report.json (every invariant
passes, non-zero sends and deliveries), junit.xml (parses, one case per
invariant) and report.html in headless Chromium (verdict table, a chart, no
console errors). Also: the run leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pigeon_lab.cluster.procfs import processes_under

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
INVARIANTS = {"durability", "order", "gaps", "delivery", "idempotence", "isolation"}


def _pigeon_lab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("pigeon-lab")
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("runs")
    result = _pigeon_lab("scenario", "run", "smoke", "--out", str(out), cwd=ROOT)
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert runs, f"no run folder written\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result, runs[-1]


def test_smoke_passes_and_prints_report_path(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, run_dir = smoke_run
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    assert str(run_dir / "report.html") in result.stdout
    for name in ("scenario.yaml", "run.json", "history.parquet", "final_logs.parquet",
                 "faults.json", "report.json", "report.html", "junit.xml"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "logs").iterdir()), "no process logs"


def test_report_json_all_invariants_pass(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, run_dir = smoke_run
    report = json.loads((run_dir / "report.json").read_text())
    assert report["schema_version"] >= 1
    outcomes = {v["name"]: v["outcome"] for v in report["verdicts"]}
    assert set(outcomes) >= INVARIANTS, outcomes
    assert all(outcomes[name] == "pass" for name in INVARIANTS), outcomes
    assert report["counts"]["sends"] > 0
    assert report["counts"]["deliveries"] > 0
    assert report["gate"]["passed"] is True


def test_junit_has_one_case_per_invariant(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, run_dir = smoke_run
    root = ET.parse(run_dir / "junit.xml").getroot()
    names = {case.get("name") for case in root.iter("testcase")}
    assert names >= INVARIANTS, names
    assert not list(root.iter("failure"))


def test_html_renders_in_chromium(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    from tests.integration.test_report_html_browser import check_report_in_browser

    _, run_dir = smoke_run
    seen = check_report_in_browser(run_dir / "report.html")
    assert not seen["console_errors"], seen["console_errors"]
    assert seen["verdict_rows"] >= len(INVARIANTS)
    assert seen["charts"] >= 1


def test_rerender_and_regate_from_the_run_folder(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, run_dir = smoke_run
    before = json.loads((run_dir / "report.json").read_text())
    rendered = _pigeon_lab("report", "render", str(run_dir), cwd=ROOT)
    assert rendered.returncode == 0, rendered.stderr
    after = json.loads((run_dir / "report.json").read_text())
    assert [v["outcome"] for v in after["verdicts"]] == [v["outcome"] for v in before["verdicts"]]
    strict = run_dir / "strict.yaml"
    strict.write_text('thresholds:\n  "ack_latency_ms.p99": "< 0"\n')
    gated = _pigeon_lab("report", "gate", str(run_dir), "--policy", str(strict), cwd=ROOT)
    assert gated.returncode == 1, gated.stdout + gated.stderr


def test_run_leaves_no_process_behind(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, run_dir = smoke_run
    assert processes_under(run_dir) == []
