"""report diff: verdict changes, percentile deltas, counts and gate changes."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from pigeon_lab.report.diff import diff_reports, render_diff
from pigeon_lab.report.sample import sample_report


def test_finds_changed_verdicts_and_percentile_deltas() -> None:
    a = sample_report(failing=False, run_id="A")
    b = sample_report(failing=True, run_id="B", slow=2.0)
    d = diff_reports(a, b)
    changes = {v.name: (v.before, v.after) for v in d.verdicts}
    assert changes == {"durability": ("pass", "fail"), "isolation": ("pass", "unknown")}
    p99 = next(m for m in d.metrics if m.metric == "ack_latency_ms.p99")
    assert p99.before == pytest.approx(94.5) and p99.after == pytest.approx(189.0)
    assert (
        p99.abs_change == pytest.approx(94.5) and p99.rel_change == pytest.approx(1.0) and p99.worse
    )
    assert {m.metric for m in d.metrics} >= {
        "ack_latency_ms.p50", "ack_latency_ms.p95", "delivery_latency_ms.p50",
        "delivery_latency_ms.p95", "delivery_latency_ms.p99", "availability",
    }  # fmt: skip
    assert d.gate_before and not d.gate_after
    assert {g.name for g in d.gate} == {"durability", "isolation"}
    assert "gate: PASS -> FAIL" in d.regressions and len(d.regressions) == 5


def test_identical_reports_have_no_changes() -> None:
    a = sample_report()
    d = diff_reports(a, a)
    assert d.verdicts == [] and d.gate == [] and d.regressions == []
    assert all(m.abs_change == 0 for m in d.metrics) and all(c.delta == 0 for c in d.counts)


def test_missing_slo_gives_none_deltas_and_json_is_plain() -> None:
    a = sample_report(failing=False)
    b = sample_report(failing=False)
    from dataclasses import replace

    b = replace(b, verdicts=b.verdicts[:-1])
    d = diff_reports(a, b)
    avail = next(m for m in d.metrics if m.metric == "availability")
    assert avail.after is None and avail.abs_change is None and avail.rel_change is None
    assert [(v.name, v.after) for v in d.verdicts] == [("slo", None)]
    data = d.to_dict()
    assert data["regressions"] == ["verdict slo: pass -> None"]


def test_rich_rendering() -> None:
    out = io.StringIO()
    d = diff_reports(
        sample_report(failing=False, run_id="A"), sample_report(failing=True, run_id="B", slow=2)
    )
    render_diff(d, Console(file=out, width=140, color_system=None))
    text = out.getvalue()
    assert "A -> B" in text and "durability" in text and "ack_latency_ms.p99" in text
    assert "+100.0%" in text and "regressions" in text
