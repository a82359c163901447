"""``report.html``: one self-contained page (inline CSS and SVG, no network) for people.

Rendered with Jinja2 (autoescape on) from ``templates/report.html.j2``; the
charts are SVG strings drawn in :mod:`pigeon_lab.report.charts`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pigeon_lab.checkers.base import Verdict, describe
from pigeon_lab.checkers.slo_metrics import (
    FaultFigures,
    SloMetrics,
    TimelineBucket,
    WorkspaceFigures,
)
from pigeon_lab.gate_policy import SLO
from pigeon_lab.report.charts import Band, Series, bar_chart, fmt_num, fmt_pct, line_chart
from pigeon_lab.report.gate import NOT_INVARIANTS
from pigeon_lab.report.model import Report
from pigeon_lab.report.voice import voice_section

TEMPLATES = Path(__file__).parent / "templates"
MAX_WORKSPACES = 24
MAX_ROWS = 50
NO_VALUE = "\u2013"  # an en dash: what a cell shows for a missing value


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, ms=_ms, pct=_pct, dur=_dur, cell=_cell)
    return env


def render_html(report: Report) -> str:
    """The HTML report of ``report`` as one string."""
    slo = report.verdict(SLO)
    metrics = SloMetrics.from_verdict(slo)
    voice = voice_section(report)  # None unless the run had voice sessions
    context = {
        "r": report,
        "slo": slo,
        "headline": _headline(metrics),
        "invariants": [v for v in report.verdicts if v.name not in NOT_INVARIANTS],
        "checks": {c.name: c for c in report.gate.checks if c.kind == "invariant"},
        "thresholds": [c for c in report.gate.checks if c.kind == "threshold"],
        "charts": _charts(report, metrics) if slo is not None or voice is None else [],
        "voice": voice,
        "faults": _fault_rows(report, metrics),
        "tables": [[_rows_table(cx.rows) for cx in v.counterexamples] for v in report.verdicts],
        "about": {v.name: describe(v.name) for v in report.verdicts},  # proves / blind spots
        "extra_metrics": {
            v.name: v.metrics for v in report.verdicts if v.metrics and v.name != SLO
        },
        "slo_other": metrics.overall() if slo is not None and slo.metrics else {},
        "scenario_yaml": _yaml(report.scenario),
        "topology_yaml": _yaml(report.run.topology) if report.run.topology else "",
        "max_rows": MAX_ROWS,
    }
    return _env().get_template("report.html.j2").render(**context)


def write_html(report: Report, path: Path) -> Path:
    """Write ``report.html`` to ``path``."""
    path.write_text(render_html(report), encoding="utf-8")
    return path


def _headline(m: SloMetrics) -> list[tuple[str, str]]:
    """The few SLO numbers a reader wants first."""
    return [
        ("ack p50", _ms(m.ack_latency_ms.p50)),
        ("ack p99", _ms(m.ack_latency_ms.p99)),
        ("delivery p50", _ms(m.delivery_latency_ms.p50)),
        ("delivery p99", _ms(m.delivery_latency_ms.p99)),
        ("availability", _pct(m.availability)),
        ("reconnect p99", _ms(m.reconnect_ms.p99)),
    ]


Figure = Callable[[TimelineBucket], float | int | None]


def _charts(report: Report, m: SloMetrics) -> list[tuple[str, str, Markup]]:
    """(title, caption, svg) for every chart."""
    timeline = m.timeline
    bands = [Band(f.start_s, f.end_s, f.label) for f in report.faults]
    ts = [b.t_s for b in timeline]
    width = min((b - a for a, b in pairwise(ts) if b > a), default=1.0)

    def pts(figure: Figure, scale: float = 1.0) -> list[tuple[float, float | None]]:
        return [(b.t_s, _f(figure(b), scale)) for b in timeline]

    def latency(
        name: str, p50: Figure, p99: Figure, title: str, caption: str
    ) -> tuple[str, str, Markup]:
        """The p50 and p99 lines of one latency over the timeline."""
        lines = [
            Series(f"{name} p50", "s1", pts(p50)),
            Series(f"{name} p99", "s2", pts(p99), dashed=True),
        ]
        return title, caption, line_chart(f"chart-{name}", title, lines, bands=bands, y_label="ms")

    per_s = 1.0 / width
    charts = [
        latency(
            "ack",
            lambda b: b.ack_p50,
            lambda b: b.ack_p99,
            "Ack latency",
            "time from send to ack, per bucket",
        ),
        latency(
            "delivery",
            lambda b: b.delivery_p50,
            lambda b: b.delivery_p99,
            "Delivery latency",
            "end to end: send to delivery at the receiver, per bucket",
        ),
        (
            "Throughput",
            f"events per second (bucket {fmt_num(width)} s)",
            line_chart(
                "chart-throughput",
                "Throughput",
                [
                    Series("sends/s", "s1", pts(lambda b: b.sends, per_s)),
                    Series("acks/s", "s3", pts(lambda b: b.acks, per_s)),
                    Series("deliveries/s", "s4", pts(lambda b: b.deliveries, per_s)),
                ],
                bands=bands,
                y_label="events / s",
            ),
        ),
        (
            "Availability",
            "share of sends acked within the ack timeout, per bucket",
            line_chart(
                "chart-availability",
                "Availability",
                [
                    Series("availability", "s3", pts(lambda b: b.availability)),
                ],
                bands=bands,
                y_label="acked in time",
                y_fmt=fmt_pct,
                y_floor=None,
                y_ceil=1.0,
                min_span=0.01,
            ),
        ),
        (
            "Errors and reconnects",
            "per bucket",
            line_chart(
                "chart-reconnects",
                "Errors and reconnects",
                [
                    Series("reconnects", "s2", pts(lambda b: b.reconnects)),
                    Series("errors", "s5", pts(lambda b: b.errors)),
                ],
                bands=bands,
                y_label="count",
            ),
        ),
    ]
    charts.append(_workspace_chart(m.per_workspace))
    return charts


def _workspace_chart(rows: dict[str, WorkspaceFigures]) -> tuple[str, str, Markup]:
    names = sorted(rows, key=_natural)
    caption = "p50 and p99 per workspace: one noisy tenant's effect on the others"
    if len(names) > MAX_WORKSPACES:
        names = sorted(names, key=lambda n: -(_f(rows[n].ack_p99) or 0.0))[:MAX_WORKSPACES]
        names.sort(key=_natural)
        caption += f" ({MAX_WORKSPACES} of {len(rows)} workspaces, highest ack p99)"

    def col(figure: Callable[[WorkspaceFigures], float | None]) -> list[float | None]:
        return [_f(figure(rows[n])) for n in names]

    svg = bar_chart(
        "chart-workspaces",
        "Latency per workspace",
        names,
        [
            ("ack p50", "s1", col(lambda w: w.ack_p50)),
            ("ack p99", "s2", col(lambda w: w.ack_p99)),
            ("delivery p50", "s3", col(lambda w: w.delivery_p50)),
            ("delivery p99", "s4", col(lambda w: w.delivery_p99)),
        ],
        y_label="ms",
    )
    return ("Latency per workspace", caption, svg)


@dataclass(frozen=True)
class FaultRow:
    """One line of the fault table: the fault as run, and how the clients felt it."""

    label: str
    kind: str
    target: str
    params: dict[str, Any]
    error: str | None
    start_s: float
    end_s: float | None
    ttfe: float | None
    ttr: float | None
    figures: FaultFigures = field(default_factory=FaultFigures)

    @property
    def duration_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s


def _fault_rows(report: Report, m: SloMetrics) -> list[FaultRow]:
    """Each fault with its parameters, error, and times to first error and to recovery
    (from the slo metrics: the entry of the same kind, target and start, else by position)."""
    measured = m.faults
    rows = []
    for i, f in enumerate(report.faults):
        match = next(
            (
                x
                for x in measured
                if x.kind == f.kind and x.target == f.target and abs(x.start_s - f.start_s) < 0.5
            ),
            measured[i] if i < len(measured) else FaultFigures(),
        )
        rows.append(
            FaultRow(
                label=f.label,
                kind=f.kind,
                target=f.target,
                params=f.params,
                error=f.error,
                start_s=f.start_s,
                end_s=f.end_s,
                ttfe=match.time_to_first_error_s,
                ttr=match.time_to_recovery_s,
                figures=match,
            )
        )
    return rows


def _rows_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Counterexample rows as (columns, cells), columns in first-seen order."""
    cols: list[str] = []
    for row in rows[:MAX_ROWS]:
        cols.extend(k for k in row if k not in cols)
    return cols, [[row.get(c) for c in cols] for row in rows[:MAX_ROWS]]


def _yaml(data: Any) -> str:
    return (
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
        if data
        else ""
    )


def _natural(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(name))]


def _f(v: Any, scale: float = 1.0) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v) * scale


def _num(v: Any) -> str:
    if v is None:
        return NO_VALUE
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return NO_VALUE if not math.isfinite(v) else f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _ms(v: Any) -> str:
    return NO_VALUE if _f(v) is None else f"{_num(float(v))} ms"


def _pct(v: Any) -> str:
    return NO_VALUE if _f(v) is None else f"{float(v) * 100:.3f}%"


def _dur(v: Any) -> str:
    return NO_VALUE if _f(v) is None else f"{float(v):.1f} s"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, (dict, list)):
        return yaml.safe_dump(v, default_flow_style=True).strip()
    return NO_VALUE if v is None else str(v)


def verdict_counts(v: Verdict) -> str:
    """``k=v, ...`` for a verdict's counts."""
    return ", ".join(f"{k}={_num(n)}" for k, n in v.counts.items())
