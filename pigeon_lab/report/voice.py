"""The voice section of ``report.html``: headline figures and charts from ``voice_slo``.

Present only when the run has a ``voice_slo`` verdict with sessions. Every time chart shades
the fault windows, like chat's; the timeline's ``t_s`` has the report's origin (the
history's first row), so the bands line up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from pigeon_lab.checkers.voice_metrics import Summary, VoiceBucket, VoiceSloMetrics
from pigeon_lab.report.charts import Band, Series, bar_chart, fmt_num, line_chart
from pigeon_lab.report.model import Report

NO_VALUE = "\u2013"


@dataclass(frozen=True)
class VoiceSection:
    """What the template shows for voice: cards, charts, and a note on what is not measured."""

    cards: list[tuple[str, str]] = field(default_factory=list)
    charts: list[tuple[str, str, Markup]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _ms(v: float | None) -> str:
    return NO_VALUE if v is None else f"{fmt_num(v)} ms"


def _s(v: float | None) -> str:
    return NO_VALUE if v is None else f"{v:.1f} s"


def voice_section(report: Report) -> VoiceSection | None:
    """The voice section of ``report``, or None when the run had no voice sessions."""
    verdict = report.verdict("voice_slo")
    m = VoiceSloMetrics.from_verdict(verdict)
    if verdict is None or not m.sessions:
        return None
    bands = [Band(f.start_s, f.end_s, f.label) for f in report.faults]
    cards = [
        ("voice sessions", f"{m.sessions:,}"),
        ("join p95", _ms(m.join_ms.p95)),
        ("relay p95", _ms(m.relay_ms.p95)),
        ("offer→answer p95", _ms(m.offer_answer_ms.p95)),
        ("grant p95", _ms(m.grant_ms.p95)),
        ("handover p95", _ms(m.handover_ms.p95)),
        ("holder dead time max", _ms(m.dead_time_ms.max)),
        ("worst ghost", f"{_s(m.ghost_s.max)} / lease {_s(m.lease_s)}"),
        ("resumed / rejoined", f"{m.resumed} / {m.rejoined}"),
        ("glare resolved", f"{m.glare:,}"),
    ]
    return VoiceSection(
        cards,
        [*_timeline_charts(m.timeline, bands), _timings_chart(m), _ghost_chart(m)],
        [
            "Canary media (time to ICE connected and to first audio) is not measured: no canary "
            "pairs ran (the signalling is simulated; see README, Voice rooms)."
        ],
    )


def _timeline_charts(
    timeline: list[VoiceBucket], bands: list[Band]
) -> list[tuple[str, str, Markup]]:
    def pts(fig: str) -> list[tuple[float, float | None]]:
        return [(b.t_s, getattr(b, fig)) for b in timeline]

    def rate(fig: str) -> list[tuple[float, float | None]]:
        return [(b.t_s, float(getattr(b, fig))) for b in timeline]

    latency = line_chart(
        "chart-voice-latency",
        "Voice latency",
        [
            Series("join p99", "s1", pts("join_p99")),
            Series("relay p50", "s3", pts("relay_p50")),
            Series("relay p99", "s2", pts("relay_p99"), dashed=True),
            Series("roster push p99", "s4", pts("roster_p99"), dashed=True),
        ],
        bands=bands,
        y_label="ms",
    )
    activity = line_chart(
        "chart-voice-activity",
        "Voice activity",
        [
            Series("joins", "s1", rate("joins")),
            Series("signals", "s3", rate("signals")),
            Series("grants", "s4", rate("grants")),
            Series("errors", "s5", rate("errors")),
        ],
        bands=bands,
        y_label="per bucket",
    )
    members = line_chart(
        "chart-voice-members",
        "Voice sessions",
        [Series("live sessions", "s2", rate("members"))],
        bands=bands,
        y_label="sessions",
    )
    return [
        ("Voice latency", "join ack, signal relay and roster push, per bucket", latency),
        ("Voice activity", "joins, acked signals, floor grants and errors per bucket", activity),
        ("Voice sessions", "sessions live at the end of each bucket", members),
    ]


def _timings_chart(m: VoiceSloMetrics) -> tuple[str, str, Markup]:
    figures: list[tuple[str, Summary]] = [
        ("join", m.join_ms),
        ("relay", m.relay_ms),
        ("roster", m.roster_ms),
        ("offer→answer", m.offer_answer_ms),
        ("connected", m.connected_ms),
        ("grant", m.grant_ms),
        ("handover", m.handover_ms),
        ("dead time", m.dead_time_ms),
    ]
    names = [n for n, _ in figures]
    svg = bar_chart(
        "chart-voice-timings",
        "Voice timings",
        names,
        [
            ("p50", "s1", [s.p50 for _, s in figures]),
            ("p95", "s2", [s.p95 for _, s in figures]),
            ("p99", "s4", [s.p99 for _, s in figures]),
        ],
        y_label="ms",
    )
    caption = "percentiles over the run: negotiation, floor grant and handover, dead time"
    return "Voice timings", caption, svg


def _ghost_chart(m: VoiceSloMetrics) -> tuple[str, str, Markup]:
    svg = bar_chart(
        "chart-voice-ghosts",
        "Ghosts against the lease",
        ["ghost p50", "ghost p95", "ghost max", "lease", "bound"],
        [("seconds", "s2", [m.ghost_s.p50, m.ghost_s.p95, m.ghost_s.max, m.lease_s, m.bound_s])],
        y_label="s",
    )
    caption = "how long an ended session stayed listed, against the lease and the checked bound"
    return "Ghosts against the lease", caption, svg


__all__ = ["VoiceSection", "voice_section"]
