"""Inline SVG charts for the HTML report, drawn in Python (no JS, no external assets).

Every chart is an ``<svg class="chart">`` with axes, tick labels, axis titles, a
legend, and each fault's window shaded as a translucent band (as Jepsen's
plots do). Each time bucket carries an invisible hover strip whose ``<title>``
lists the values at that time. Colours come from CSS classes set in the
template, so the charts follow the page's light or dark theme.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from markupsafe import Markup

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 34, 42
MAX_HOVER = 1500

Fmt = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One line: a label, a CSS colour class (``s1``..``s6``) and (x, y) points.

    A y of None breaks the line.
    """

    label: str
    css: str
    points: Sequence[tuple[float, float | None]]
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded window on the x axis (a fault), end None: until the end of the chart."""

    start: float
    end: float | None
    label: str


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (the classic 1-2-5 steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks, v = [], start
    while v < hi - 1e-9 * step:
        ticks.append(round(v, 10))
        v += step
    ticks.append(round(v, 10))
    return ticks


def fmt_num(v: float) -> str:
    """Compact number: 1.2k, 3.4M, 12, 0.5."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 100 or v == int(v):
        return f"{v:.0f}"
    return f"{v:.3g}"


def fmt_pct(v: float) -> str:
    """0.9995 -> 99.95%."""
    return f"{v * 100:.4g}%"


class _Frame:
    """Scales and the plot area of one chart."""

    def __init__(self, x0: float, x1: float, yticks: list[float]) -> None:
        self.x0, self.x1 = x0, x1 if x1 > x0 else x0 + 1.0
        self.yticks = yticks
        self.y0, self.y1 = yticks[0], yticks[-1]
        self.pw, self.ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(self, v: float) -> float:
        return LEFT + (v - self.x0) / (self.x1 - self.x0) * self.pw

    def y(self, v: float) -> float:
        v = min(max(v, self.y0), self.y1)
        return TOP + self.ph - (v - self.y0) / (self.y1 - self.y0) * self.ph


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    bands: Sequence[Band] = (),
    x_label: str = "time since run start (s)",
    y_label: str = "",
    y_fmt: Fmt = fmt_num,
    y_floor: float | None = 0.0,
    y_ceil: float | None = None,
    min_span: float = 0.0,
) -> Markup:
    """A time-series chart of ``series`` with ``bands`` shaded behind the lines.

    ``y_floor`` None: the y axis starts near the lowest value, showing at least ``min_span``.
    """
    xs = sorted({x for s in series for x, _ in s.points})
    ys = [y for s in series for _, y in s.points if y is not None and math.isfinite(y)]
    step = min((b - a for a, b in pairwise(xs)), default=1.0) or 1.0
    x_hi = max([xs[-1] + step if xs else 1.0] + [b.end or b.start for b in bands])
    lo = min(ys, default=0.0) if y_floor is None else y_floor
    hi = max(ys, default=1.0)
    if y_ceil is not None:
        hi = y_ceil
    if y_floor is None and ys:
        lo = max(0.0, min(lo - max((hi - lo) * 0.1, 0.002), hi - min_span))
    frame = _Frame(0.0, x_hi, nice_ticks(lo, hi * (1.0 if y_ceil is not None else 1.05)))
    parts = [_open(chart_id, title), _bands(frame, bands), _axes(frame, x_label, y_label, y_fmt)]
    for s in series:
        parts.append(_line(frame, s))
    if not ys:
        parts.append(_no_data())
    parts.append(_hover(frame, xs, step, series, y_fmt))
    parts.append(_legend([(s.label, s.css, "dash" if s.dashed else "line") for s in series], bands))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    groups: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    x_label: str = "",
    y_label: str = "",
    y_fmt: Fmt = fmt_num,
) -> Markup:
    """Grouped bars: for each category one bar per group ``(label, css class, values)``."""
    ys = [v for _, _, vals in groups for v in vals if v is not None and math.isfinite(v)]
    frame = _Frame(
        0.0, float(max(len(categories), 1)), nice_ticks(0.0, max(ys, default=1.0) * 1.05)
    )
    parts = [_open(chart_id, title), _axes(frame, x_label, y_label, y_fmt, x_ticks=False)]
    n, slot = max(len(groups), 1), frame.pw / max(len(categories), 1)
    bar_w = max(min(slot * 0.8 / n, 28.0), 1.0)
    rotate = len(categories) > 10
    for i, cat in enumerate(categories):
        gx = LEFT + i * slot + (slot - bar_w * n) / 2
        for j, (label, css, vals) in enumerate(groups):
            v = vals[i] if i < len(vals) else None
            if v is None or not math.isfinite(v):
                continue
            y = frame.y(v)
            parts.append(
                f'<rect class="bar {css}" x="{gx + j * bar_w:.1f}" y="{y:.1f}" '
                f'width="{bar_w - 1:.1f}" height="{TOP + frame.ph - y:.1f}">'
                f"<title>{escape(cat)} {escape(label)}: {escape(y_fmt(v))}</title></rect>"
            )
        cx = LEFT + (i + 0.5) * slot
        ty = TOP + frame.ph + 14
        tr = (
            f' transform="rotate(-35 {cx:.1f} {ty:.1f})" text-anchor="end"'
            if rotate
            else ' text-anchor="middle"'
        )
        parts.append(f'<text class="tick" x="{cx:.1f}" y="{ty:.1f}"{tr}>{escape(cat)}</text>')
    if not ys:
        parts.append(_no_data())
    parts.append(_legend([(g[0], g[1], "box") for g in groups], ()))
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(chart_id: str, title: str) -> str:
    return (
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(title)}</title>"
    )


def _axes(frame: _Frame, x_label: str, y_label: str, y_fmt: Fmt, x_ticks: bool = True) -> str:
    out = []
    for t in frame.yticks:
        y = frame.y(t)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + frame.pw}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 3.5:.1f}" text-anchor="end">'
            f"{escape(y_fmt(t))}</text>"
        )
    base = TOP + frame.ph
    if x_ticks:
        for t in nice_ticks(frame.x0, frame.x1, 8):
            if t > frame.x1 + 1e-9:
                continue
            x = frame.x(t)
            out.append(
                f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}"/>'
            )
            out.append(
                f'<text class="tick" x="{x:.1f}" y="{base + 15}" text-anchor="middle">'
                f"{escape(fmt_num(t))}</text>"
            )
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + frame.pw}" y1="{base}" y2="{base}"/>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}"/>')
    if x_label:
        out.append(
            f'<text class="label" x="{LEFT + frame.pw / 2:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
        )
    if y_label:
        cy = TOP + frame.ph / 2
        out.append(
            f'<text class="label" x="14" y="{cy:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {cy:.1f})">{escape(y_label)}</text>'
        )
    return "".join(out)


def _bands(frame: _Frame, bands: Sequence[Band]) -> str:
    out = []
    for b in bands:
        x0 = frame.x(max(b.start, frame.x0))
        x1 = frame.x(min(b.end if b.end is not None else frame.x1, frame.x1))
        w = max(x1 - x0, 2.0)
        end = "not healed" if b.end is None else f"{b.end:.1f}s"
        out.append(
            f'<rect class="fault" x="{x0:.1f}" y="{TOP}" width="{w:.1f}" height="{frame.ph}">'
            f"<title>{escape(b.label)}: {b.start:.1f}s to {end}</title></rect>"
            f'<text class="fault-label" x="{x0 + 3:.1f}" y="{TOP + 11}">{escape(b.label)}</text>'
        )
    return "".join(out)


def _line(frame: _Frame, s: Series) -> str:
    segments: list[list[tuple[float, float]]] = [[]]
    for x, y in sorted(s.points, key=lambda p: p[0]):
        if y is None or not math.isfinite(y):
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((frame.x(x), frame.y(y)))
    out = []
    dash = ' stroke-dasharray="5 3"' if s.dashed else ""
    for seg in segments:
        if len(seg) == 1:
            out.append(
                f'<circle class="dot {s.css}" cx="{seg[0][0]:.1f}" cy="{seg[0][1]:.1f}" r="2.5"/>'
            )
        elif seg:
            d = "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            out.append(f'<path class="line {s.css}" d="{d}"{dash}/>')
    return "".join(out)


def _hover(
    frame: _Frame, xs: list[float], step: float, series: Sequence[Series], y_fmt: Fmt
) -> str:
    if not xs or len(xs) > MAX_HOVER:
        return ""
    values = {s.label: dict(s.points) for s in series}
    out = ['<g class="hover">']
    w = max(frame.x(step) - frame.x(0.0), 1.0)
    for x in xs:
        lines = [f"t = {fmt_num(x)} s"]
        for label, pts in values.items():
            v = pts.get(x)
            lines.append(f"{label}: {'-' if v is None else y_fmt(v)}")
        out.append(
            f'<rect x="{frame.x(x):.1f}" y="{TOP}" width="{w:.1f}" height="{frame.ph}">'
            f"<title>{escape(chr(10).join(lines))}</title></rect>"
        )
    out.append("</g>")
    return "".join(out)


def _legend(items: Sequence[tuple[str, str, str]], bands: Sequence[Band]) -> str:
    out = ['<g class="legend">']
    x = LEFT
    entries = list(items) + ([("fault window", "fault", "box")] if bands else [])
    for label, css, shape in entries:
        if shape == "box":
            out.append(f'<rect class="swatch {css}" x="{x}" y="10" width="12" height="10"/>')
        else:
            dash = ' stroke-dasharray="5 3"' if shape == "dash" else ""
            out.append(f'<line class="line {css}" x1="{x}" x2="{x + 16}" y1="15" y2="15"{dash}/>')
        out.append(f'<text class="legend-text" x="{x + 20}" y="19">{escape(label)}</text>')
        x += 20 + 7 * len(label) + 18
    out.append("</g>")
    return "".join(out)


def _no_data() -> str:
    return (
        f'<text class="nodata" x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" '
        f'y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.1f}" text-anchor="middle">no data</text>'
    )
