"""report.json: exact round trip, plain JSON for verdicts, NaN as null, schema checks."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from pigeon_lab.checkers.base import Outcome, Verdict
from pigeon_lab.errors import ReportError
from pigeon_lab.report.model import REPORT_SCHEMA_VERSION, Report
from pigeon_lab.report.sample import nan_metrics, sample_report


def test_round_trip_is_exact() -> None:
    report = sample_report(failing=True)
    again = Report.from_json(report.to_json())
    assert again == report
    assert again.to_json() == report.to_json()


def test_json_is_plain_and_has_every_top_level_key() -> None:
    data = json.loads(sample_report().to_json())
    assert set(data) == {
        "schema_version",
        "tool_version",
        "run",
        "scenario",
        "verdicts",
        "gate",
        "counts",
        "faults",
    }
    assert data["schema_version"] == REPORT_SCHEMA_VERSION
    durability = data["verdicts"][0]
    assert durability["outcome"] == "fail"
    assert durability["counterexamples"][0]["rows"][0]["kind"] == "send_ok"
    assert {c["kind"] for c in data["gate"]["checks"]} == {"invariant", "threshold"}
    assert data["faults"][0] == {
        "kind": "kill",
        "target": "node-2",
        "start_s": 20.0,
        "end_s": 30.0,
        "params": {},
        "error": None,
        "label": "kill node-2",
    }


def test_non_finite_and_numpy_values_become_json() -> None:
    report = sample_report()
    numpy_counts: dict[str, Any] = {"n": np.int64(3)}  # what a careless checker might hand over
    odd = Verdict(
        "slo",
        Outcome.PASS,
        "x",
        counts=numpy_counts,
        metrics={**nan_metrics(), "np": np.float64(1.5), "arr": np.array([1, 2])},
    )
    report = replace(report, verdicts=[odd])
    data = json.loads(report.to_json())
    metrics = data["verdicts"][0]["metrics"]
    assert metrics["ack_latency_ms"]["p50"] is None and metrics["ack_latency_ms"]["p99"] is None
    assert metrics["np"] == 1.5 and metrics["arr"] == [1, 2]
    assert data["verdicts"][0]["counts"] == {"n": 3}
    assert Report.from_json(report.to_json()).verdicts[0].metrics["ack_latency_ms"]["p50"] is None


def test_newer_schema_is_refused() -> None:
    data = json.loads(sample_report().to_json())
    data["schema_version"] = REPORT_SCHEMA_VERSION + 1
    with pytest.raises(ReportError, match="newer"):
        Report.from_json(json.dumps(data))


def test_missing_key_and_bad_json_raise_report_error() -> None:
    data = json.loads(sample_report().to_json())
    del data["gate"]
    with pytest.raises(ReportError, match="gate"):
        Report.from_json(json.dumps(data))
    with pytest.raises(ReportError, match="not valid JSON"):
        Report.from_json("{nope")
    with pytest.raises(ReportError, match="bogus"):
        data = json.loads(sample_report().to_json())
        data["verdicts"][0]["outcome"] = "bogus"
        Report.from_json(json.dumps(data))


def test_verdict_lookup() -> None:
    report = sample_report()
    assert report.verdict("slo") is not None
    assert report.verdict("nope") is None
