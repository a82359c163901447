"""Faults carry params, error and label from faults.json to every report (D)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pigeon_lab.errors import ReportError
from pigeon_lab.report.html import render_html
from pigeon_lab.report.model import FaultSpan, Report
from pigeon_lab.report.recheck import read_faults, recheck_run
from pigeon_lab.report.render import load_report, write_reports
from pigeon_lab.report.sample import sample_report
from pigeon_lab.selftest import _fault_problem
from tests.unit.test_report_cli import T0, S, build_run

LATENCY = {
    "kind": "latency",
    "target": "haproxy->node-2",
    "start_t": T0 + 1 * S,
    "end_t": T0 + 2 * S,
    "params": {"latency_ms": 200, "jitter_ms": 20},
    "error": None,
    "label": "latency 200 ms haproxy->node-2",
}
BROKEN = {
    "kind": "kill",
    "target": "node-2",
    "start_t": T0 + 2 * S,
    "end_t": T0 + 2 * S,
    "params": {},
    "error": "inject failed: no such process",
    "label": "kill node-2",
}
OLD = {"kind": "pause", "target": "node-1", "start_t": T0 + 3 * S, "end_t": None}


def write_faults(run_dir: Path, rows: list[Any]) -> None:
    (run_dir / "faults.json").write_text(json.dumps(rows))


def test_read_faults_keeps_params_error_and_label(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([LATENCY, BROKEN, OLD]))
    latency, broken, old = read_faults(path)
    assert latency.params == {"latency_ms": 200, "jitter_ms": 20} and latency.error is None
    assert latency.label == "latency 200 ms haproxy->node-2"
    assert broken.error == "inject failed: no such process"
    assert (old.params, old.error, old.label, old.end_t) == ({}, None, "pause node-1", None)


@pytest.mark.parametrize(
    ("row", "reason"),
    [({**OLD, "params": [1]}, "params must be an object"), (3, "expected an object")],
)
def test_a_bad_fault_row_names_the_file_and_index(tmp_path: Path, row: Any, reason: str) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([OLD, row]))
    with pytest.raises(ReportError, match=rf"faults\.json: fault \[1\] .*{reason}"):
        read_faults(path)


def test_recheck_carries_them_into_report_json(tmp_path: Path) -> None:
    run_dir = build_run(tmp_path / "run")
    write_faults(run_dir, [LATENCY, BROKEN, OLD])
    report = recheck_run(run_dir)
    spans = report.faults
    assert [f.label for f in spans] == [LATENCY["label"], "kill node-2", "pause node-1"]
    assert spans[0].params == LATENCY["params"] and spans[0].start_s == pytest.approx(1.0)
    assert spans[1].error == BROKEN["error"] and spans[2].end_s is None
    write_reports(run_dir, report)
    data = json.loads((run_dir / "report.json").read_text())
    assert data["faults"][0] == {
        "kind": "latency",
        "target": "haproxy->node-2",
        "start_s": 1.0,
        "end_s": 2.0,
        "params": {"latency_ms": 200, "jitter_ms": 20},
        "error": None,
        "label": "latency 200 ms haproxy->node-2",
    }
    assert load_report(run_dir) == report


def test_an_older_report_json_without_the_new_keys_reads() -> None:
    data = sample_report().to_dict()
    for f in data["faults"]:
        for key in ("params", "error", "label"):
            del f[key]
    faults = Report.from_dict(data).faults
    assert [(f.params, f.error, f.label) for f in faults] == [
        ({}, None, "kill node-2"),
        ({}, None, "redis-failover redis-primary"),
    ]


def test_the_html_shows_params_and_errors_and_bands_use_the_label() -> None:
    report = replace(
        sample_report(failing=False),
        faults=[
            FaultSpan("latency", "haproxy->node-2", 20.0, 30.0, params={"latency_ms": 200},
                      label="latency 200 ms haproxy->node-2"),
            FaultSpan("kill", "node-3", 42.0, 42.0, error="inject failed: no such process"),
        ],
    )  # fmt: skip
    html = render_html(report)
    faults_table = html[html.index('<section id="faults">') : html.index('<section id="inv')]
    assert "latency_ms=200" in faults_table
    assert "inject failed: no such process" in faults_table
    assert "latency 200 ms haproxy-&gt;node-2" in faults_table
    labels = re.findall(r'<text class="fault-label"[^>]*>([^<]*)</text>', html)
    assert labels.count("latency 200 ms haproxy-&gt;node-2") == 5  # one per time chart
    assert labels.count("kill node-3") == 5
    assert "1 with an error" in html


def test_selftest_reads_fault_errors_from_the_report() -> None:
    report = sample_report(failing=False)
    assert _fault_problem(report, planned=2) is None
    assert _fault_problem(report, planned=0) is None
    problem = _fault_problem(report, planned=3)
    assert problem is not None and problem.startswith("2/3 faults ran")
    broken = replace(
        report, faults=[report.faults[0], replace(report.faults[1], error="heal failed: x")]
    )
    problem = _fault_problem(broken, planned=2)
    assert problem == "2/2 faults ran; redis-failover redis-primary: heal failed: x"
