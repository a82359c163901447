"""report.html: self-contained, the verdict table, the charts with fault bands, escaping."""

from __future__ import annotations

import re
from dataclasses import replace

from pigeon_lab.checkers.base import Counterexample, Outcome, Verdict
from pigeon_lab.report.charts import nice_ticks
from pigeon_lab.report.html import render_html
from pigeon_lab.report.sample import sample_report


def test_has_verdict_table_gate_and_charts() -> None:
    html = render_html(sample_report(failing=True))
    assert '<table id="verdicts">' in html
    assert html.count('<svg class="chart"') == 6
    for chart in ("chart-ack", "chart-delivery", "chart-throughput", "chart-availability",
                  "chart-reconnects", "chart-workspaces"):  # fmt: skip
        assert f'id="{chart}"' in html
    assert html.count('class="fault"') == 2 * 5  # two fault windows on each time chart
    assert 'class="legend"' in html and "fault window" in html
    assert ">FAIL<" in html and "acked write lost" in html and "m-0412" in html
    assert 'id="gate-checks"' in html and "ack_latency_ms.p99" in html


def test_no_external_resources() -> None:
    html = render_html(sample_report())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "<script src" not in html and '<link rel="stylesheet"' not in html
    assert "@import" not in html and "url(http" not in html


def test_passing_banner() -> None:
    html = render_html(sample_report(failing=False))
    assert 'class="banner pass"' in html and ">PASS<" in html


def test_values_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    report = sample_report()
    v = Verdict(
        "order", Outcome.FAIL, evil, counterexamples=[Counterexample(evil, rows=[{"x": evil}])]
    )
    html = render_html(replace(report, verdicts=[v, *report.verdicts[1:]]))
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_renders_without_slo_metrics_or_faults() -> None:
    report = sample_report()
    bare = replace(report, verdicts=report.verdicts[:-1], faults=[])
    html = render_html(bare)
    assert html.count('<svg class="chart"') == 6 and "no data" in html
    assert "no faults were injected" in html


def test_nice_ticks() -> None:
    assert nice_ticks(0, 95) == [0, 20, 40, 60, 80, 100]
    ticks = nice_ticks(0.998, 1.0)
    assert ticks[0] <= 0.998 and ticks[-1] >= 1.0
