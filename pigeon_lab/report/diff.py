"""Compare two runs' reports: what changed in verdicts, counts, SLO percentiles and the gate.

``diff_reports(a, b)`` reads A as "before" and B as "after". A regression is a
verdict that passed in A and does not in B (or vanished), a gate check that
passed in A and fails in B, or the gate itself turning from pass to fail.
Percentile deltas are reported, not judged: thresholds are the gate's job.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pigeon_lab.checkers.slo_metrics import SloMetrics
from pigeon_lab.gate_policy import SLO
from pigeon_lab.report.model import Report, plain_dict

Figure = Callable[[SloMetrics], float | int | None]

#: slo figures compared: the metric path that names it, how to read it, whether higher is worse
DIFF_METRICS: tuple[tuple[str, Figure, bool], ...] = (
    ("ack_latency_ms.p50", lambda m: m.ack_latency_ms.p50, True),
    ("ack_latency_ms.p95", lambda m: m.ack_latency_ms.p95, True),
    ("ack_latency_ms.p99", lambda m: m.ack_latency_ms.p99, True),
    ("ack_latency_ms.max", lambda m: m.ack_latency_ms.max, True),
    ("delivery_latency_ms.p50", lambda m: m.delivery_latency_ms.p50, True),
    ("delivery_latency_ms.p95", lambda m: m.delivery_latency_ms.p95, True),
    ("delivery_latency_ms.p99", lambda m: m.delivery_latency_ms.p99, True),
    ("delivery_latency_ms.max", lambda m: m.delivery_latency_ms.max, True),
    ("reconnect_ms.p99", lambda m: m.reconnect_ms.p99, True),
    ("availability", lambda m: m.availability, False),
)
COUNTS = ("rows", "clients", "sends", "acks", "deliveries")


@dataclass(frozen=True)
class VerdictChange:
    """A checker whose outcome differs (None: it did not run in that report)."""

    name: str
    before: str | None
    after: str | None

    @property
    def regressed(self) -> bool:
        return self.before == "pass" and self.after != "pass"


@dataclass(frozen=True)
class CountChange:
    """A run count in A and B."""

    name: str
    before: int
    after: int
    delta: int


@dataclass(frozen=True)
class MetricDelta:
    """An SLO figure in A and B; ``rel_change`` is None when A's value is 0 or missing."""

    metric: str
    before: float | None
    after: float | None
    abs_change: float | None
    rel_change: float | None
    higher_is_worse: bool

    @property
    def worse(self) -> bool:
        if self.abs_change is None or self.abs_change == 0:
            return False
        return (self.abs_change > 0) == self.higher_is_worse


@dataclass(frozen=True)
class GateChange:
    """A gate check whose result differs between A and B."""

    name: str
    kind: str
    before_passed: bool | None
    after_passed: bool | None
    before_observed: Any
    after_observed: Any

    @property
    def regressed(self) -> bool:
        return self.before_passed is True and self.after_passed is not True


@dataclass(frozen=True)
class ReportDiff:
    """What changed from report A to report B."""

    a: str
    b: str
    gate_before: bool
    gate_after: bool
    verdicts: list[VerdictChange] = field(default_factory=list)
    counts: list[CountChange] = field(default_factory=list)
    metrics: list[MetricDelta] = field(default_factory=list)
    gate: list[GateChange] = field(default_factory=list)

    @property
    def regressions(self) -> list[str]:
        """One line per regression (empty when B is no worse than A on verdicts and gate)."""
        out = [f"verdict {v.name}: {v.before} -> {v.after}" for v in self.verdicts if v.regressed]
        out += [f"gate check {g.name}: pass -> fail" for g in self.gate if g.regressed]
        if self.gate_before and not self.gate_after:
            out.append("gate: PASS -> FAIL")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (``--json``)."""
        data = asdict(self)
        data["regressions"] = self.regressions
        return plain_dict(data)


def diff_reports(a: Report, b: Report) -> ReportDiff:
    """Compare report ``a`` (before) with ``b`` (after)."""
    va = {v.name: str(v.outcome.value) for v in a.verdicts}
    vb = {v.name: str(v.outcome.value) for v in b.verdicts}
    names = list(va) + [n for n in vb if n not in va]
    verdicts = [VerdictChange(n, va.get(n), vb.get(n)) for n in names if va.get(n) != vb.get(n)]
    counts = [
        CountChange(
            n,
            getattr(a.counts, n),
            getattr(b.counts, n),
            getattr(b.counts, n) - getattr(a.counts, n),
        )
        for n in COUNTS
    ]
    ma, mb = _slo(a), _slo(b)
    metrics = [
        _metric_delta(path, _number(ma, figure), _number(mb, figure), worse)
        for path, figure, worse in DIFF_METRICS
    ]
    ga = {(c.kind, c.name): c for c in a.gate.checks}
    gb = {(c.kind, c.name): c for c in b.gate.checks}
    keys = list(ga) + [k for k in gb if k not in ga]
    gate = []
    for key in keys:
        ca, cb = ga.get(key), gb.get(key)
        if (ca and ca.passed) != (cb and cb.passed) or (ca is None) != (cb is None):
            gate.append(GateChange(
                key[1], key[0],
                None if ca is None else ca.passed, None if cb is None else cb.passed,
                None if ca is None else ca.observed, None if cb is None else cb.observed,
            ))  # fmt: skip
    return ReportDiff(
        a.run.id, b.run.id, a.gate.passed, b.gate.passed, verdicts, counts, metrics, gate
    )


def _metric_delta(
    path: str, before: float | None, after: float | None, higher_is_worse: bool
) -> MetricDelta:
    abs_change = rel = None
    if before is not None and after is not None:
        abs_change = after - before
        rel = abs_change / abs(before) if before != 0 else None
    return MetricDelta(path, before, after, abs_change, rel, higher_is_worse)


def _slo(report: Report) -> SloMetrics | None:
    slo = report.verdict(SLO)
    return None if slo is None else SloMetrics.from_verdict(slo)


def _number(metrics: SloMetrics | None, figure: Figure) -> float | None:
    value = None if metrics is None else figure(metrics)
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def render_diff(diff: ReportDiff, console: Console) -> None:
    """Print the diff as Rich tables."""

    def gate_word(p: bool) -> str:
        return "[green]PASS[/]" if p else "[red]FAIL[/]"

    console.print(
        f"[bold]{escape(diff.a)}[/] -> [bold]{escape(diff.b)}[/]   "
        f"gate {gate_word(diff.gate_before)} -> {gate_word(diff.gate_after)}"
    )
    if diff.verdicts:
        t = Table(title="verdict changes", title_justify="left")
        for col in ("checker", "A", "B"):
            t.add_column(col)
        for v in diff.verdicts:
            style = "red" if v.regressed else "green" if v.after == "pass" else ""
            t.add_row(v.name, v.before or "-", v.after or "-", style=style)
        console.print(t)
    else:
        console.print("verdicts: no change")
    t = _figures_table("SLO percentiles", "metric", "A", "B", "change", "%")
    for m in diff.metrics:
        pct = "-" if m.rel_change is None else f"{m.rel_change * 100:+.1f}%"
        change = "-" if m.abs_change is None else f"{m.abs_change:+.4g}"
        style = "red" if m.worse else "green" if m.abs_change else ""
        t.add_row(m.metric, _fmt(m.before), _fmt(m.after), change, pct, style=style)
    console.print(t)
    t = _figures_table("counts", "count", "A", "B", "change")
    for c in diff.counts:
        t.add_row(c.name, f"{c.before:,}", f"{c.after:,}", f"{c.delta:+,}")
    console.print(t)
    if diff.gate:
        t = Table(title="gate changes", title_justify="left")
        for col in ("check", "kind", "A", "B", "observed A", "observed B"):
            t.add_column(col)
        for g in diff.gate:
            t.add_row(escape(g.name), g.kind, _passed(g.before_passed), _passed(g.after_passed),
                      _fmt(g.before_observed), _fmt(g.after_observed),
                      style="red" if g.regressed else "green")  # fmt: skip
        console.print(t)
    if diff.regressions:
        console.print("[bold red]regressions:[/]")
        for line in diff.regressions:
            console.print(f"  [red]✗[/] {escape(line)}")


def _figures_table(title: str, name: str, *figures: str) -> Table:
    """A table of one left-aligned name column and right-aligned figure columns."""
    t = Table(title=title, title_justify="left")
    t.add_column(name, justify="left")
    for col in figures:
        t.add_column(col, justify="right")
    return t


def _passed(p: bool | None) -> str:
    return "-" if p is None else "pass" if p else "fail"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
