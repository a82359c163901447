"""Pass criteria, markdown tables and the py-spy summary for bench/backend.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

P99_LIMIT_MS = 250.0
RATE_TOLERANCE = 0.99  # achieved sends/s must be at least this share of the target
TARGET_RATIO, GOAL_RATIO = 0.5, 1.0
CAP_TARGET_N, CAP_TARGET_KIB = 5000, 30.0
BACKENDS = ("python", "node")


@dataclass
class Point:
    """One measured driver run of the rate sweep."""

    topo: int
    backend: str
    rate: int
    rep: int
    s: dict[str, Any]
    passed: bool = False
    reasons: list[str] = field(default_factory=list)

    def cpu(self, prefix: str) -> list[float]:
        """CPU % over the send window of the watched processes whose name starts with prefix."""
        return [
            w["cpu_pct_window"]
            for n, w in sorted(self.s.get("watch", {}).items())
            if n.startswith(prefix) and w
        ]

    @property
    def driver_cpu(self) -> float:
        cpu_s: list[float] = self.s.get("driver_cpu_s", [0])
        duration_s: float = self.s["params"]["duration_s"]
        return 100 * sum(cpu_s) / duration_s


def evaluate(p: Point, clients: int) -> None:
    """Apply the peer's pass criteria to one point (sets p.passed and p.reasons)."""
    s, r = p.s, []
    if s["clients_connected"] < clients or s["connect_errors"] or s["join_errors"]:
        r.append(
            f"connected {s['clients_connected']}/{clients} {s['connect_errors'] or ''}"
            f"{s['join_errors'] or ''}".strip()
        )
    if s["sends_per_s"] < RATE_TOLERANCE * p.rate:
        r.append(f"sends/s {s['sends_per_s']} short of {p.rate}")
    if s["acked"] != s["sends"] or s["ack_timeouts"] or s["ack_errors"]:
        r.append(
            f"acked {s['acked']}/{s['sends']} timeouts {s['ack_timeouts']} "
            f"errors {s['ack_errors'] or 0}"
        )
    if s.get("disconnects"):
        r.append(f"disconnects {s['disconnects']}")
    if s["delivery_ratio"] is None or s["delivery_ratio"] < 1.0 or s["missing_at_end"]:
        r.append(f"delivery_ratio {s['delivery_ratio']} missing {s['missing_at_end']}")
    p99 = (s["delivery_ms"] or {}).get("p99")
    if p99 is None or p99 > P99_LIMIT_MS:
        r.append(f"delivery p99 {p99} ms > {P99_LIMIT_MS:.0f}")
    p.passed, p.reasons = not r, r


def best_rate(points: list[Point], topo: int, backend: str) -> tuple[int, list[Point]]:
    """The highest rate whose every repeat passed (0, [] if none)."""
    by_rate: dict[int, list[Point]] = {}
    for p in points:
        if p.topo == topo and p.backend == backend:
            by_rate.setdefault(p.rate, []).append(p)
    ok = [r for r, ps in by_rate.items() if ps and all(p.passed for p in ps)]
    return (max(ok), by_rate[max(ok)]) if ok else (0, [])


def _f(x: float | None, nd: int = 0) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"


def _cpu_cell(ps: list[Point], lb_column: bool) -> str:
    nodes = [mean(c) for c in zip(*(p.cpu("node") for p in ps), strict=False)]
    parts = [
        "+".join(f"{c:.0f}" for c in nodes) or "-",
        _f(mean(v for p in ps for v in p.cpu("redis"))),
    ]
    if lb_column:
        lb = [v for p in ps for v in p.cpu("haproxy")]
        parts.append(_f(mean(lb)) if lb else "-")
    parts.append(_f(mean(p.driver_cpu for p in ps)))
    return " / ".join(parts)


def topo_label(topo: int, via: str) -> str:
    if topo == 1:
        return "1 node"
    return f"{topo} nodes, " + ("via HAProxy" if via == "lb" else "driver round-robin on node URLs")


def throughput_table(points: list[Point], topos: list[int], via: str, top_rate: int) -> str:
    """The summary: best passing rate per topology and backend, with the python/node ratio."""
    lb_col = via == "lb" and any(t > 1 for t in topos)
    lines = [
        "| topology | backend | best passing rate (sends/s) | deliveries/s | ack p99 ms | "
        "delivery p99 ms | CPU % node(s) / redis"
        + (" / haproxy" if lb_col else "")
        + " / driver | ratio python/node |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for topo in topos:
        dps: dict[str, float] = {}
        for b in BACKENDS:
            rate, ps = best_rate(points, topo, b)
            ran = [p for p in points if p.topo == topo and p.backend == b]
            if not ran:
                continue
            if not ps:
                lines.append(
                    f"| {topo_label(topo, via)} | {b} | none passed "
                    f"({len(ran)} runs) | - | - | - | - |  |"
                )
                dps[b] = 0.0
                continue
            dps[b] = mean(p.s["deliveries_per_s"] for p in ps)
            ratio = ""
            if b == "node" and "python" in dps:
                ratio = f"{dps['python'] / dps['node']:.2f}x"
            note = " (top of sweep)" if rate == top_rate else ""
            lines.append(
                f"| {topo_label(topo, via)} | {b} | {rate}{note} | {_f(dps[b])} | "
                f"{_f(max(p.s['ack_ms']['p99'] for p in ps), 1)} | "
                f"{_f(max(p.s['delivery_ms']['p99'] for p in ps), 1)} | "
                f"{_cpu_cell(ps, lb_col)} | {ratio} |"
            )
    return "\n".join(lines)


def ratio_verdicts(points: list[Point], topos: list[int]) -> list[str]:
    """One line per topology against the 0.5x target (1.0x goal)."""
    out = []
    for topo in topos:
        py = best_rate(points, topo, "python")[1]
        js = best_rate(points, topo, "node")[1]
        if not {p.backend for p in points if p.topo == topo} >= set(BACKENDS):
            continue
        if not js:
            out.append(f"- {topo} node(s): the peer passed no rate; no ratio.")
            continue
        r = (mean(p.s["deliveries_per_s"] for p in py) if py else 0.0) / mean(
            p.s["deliveries_per_s"] for p in js
        )
        status = "goal met" if r >= GOAL_RATIO else "target met" if r >= TARGET_RATIO else "MISSED"
        out.append(
            f"- {topo} node(s): python/node deliveries/s = {r:.2f}x "
            f"(target {TARGET_RATIO}x, goal {GOAL_RATIO}x): {status}."
        )
    return out


def points_table(points: list[Point]) -> str:
    """Every measured point, in run order."""
    lines = [
        "| topo | backend | rate | rep | sends/s | acked/s | deliveries/s | ratio | "
        "ack p50/p99 ms | delivery p50/p99 ms | gaps/ooo | CPU % nodes/redis/driver | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        s = p.s
        cpu = (
            "+".join(f"{c:.0f}" for c in p.cpu("node"))
            + " / "
            + "+".join(f"{c:.0f}" for c in p.cpu("redis"))
            + f" / {p.driver_cpu:.0f}"
        )
        verdict = "yes" if p.passed else "**no**: " + "; ".join(p.reasons)
        lines.append(
            f"| {p.topo} | {p.backend} | {p.rate} | {p.rep} | {s['sends_per_s']} | "
            f"{s['acked_per_s']} | {_f(s['deliveries_per_s'])} | {s['delivery_ratio']} | "
            f"{s['ack_ms']['p50']}/{s['ack_ms']['p99']} | "
            f"{s['delivery_ms']['p50']}/{s['delivery_ms']['p99']} | "
            f"{s['gaps']}/{s['out_of_order']} | {cpu} | {verdict} |"
        )
    return "\n".join(lines)


@dataclass
class Cap:
    """One idle-capacity run: N connections held on one fresh node."""

    backend: str
    n: int
    rep: int
    s: dict[str, Any]

    @property
    def w(self) -> dict[str, Any]:
        return dict(self.s["watch"].get("node1") or {})


def capacity_table(caps: list[Cap]) -> str:
    """Idle connections per node and RSS per connection, python/node ratio (lower is leaner)."""
    lines = [
        "| N | backend | connected | connect s | disconnects | RSS fresh / connected / "
        "end MiB | RSS/conn KiB (connected) | RSS/conn KiB (end of hold) | "
        "ratio python/node (end) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ends: dict[tuple[str, int], float] = {}
    for n in sorted({c.n for c in caps}):
        for b in BACKENDS:
            runs = [c for c in caps if c.n == n and c.backend == b and c.w]
            if not runs:
                continue
            end = mean(c.w["rss_kb_per_conn_end"] for c in runs)
            ends[(b, n)] = end
            ratio = (
                f"{ends[('python', n)] / end:.2f}x"
                if b == "node" and ("python", n) in ends and end > 0
                else ""
            )
            conn = "/".join(str(c.s["clients_connected"]) for c in runs)
            lines.append(
                f"| {n} | {b} | {conn}/{n} | {_f(mean(c.s['connect_s'] for c in runs), 1)} | "
                f"{sum(c.s.get('disconnects', 0) for c in runs)} | "
                + " / ".join(
                    _f(mean(c.w[k] for c in runs) / 1024, 1)
                    for k in ("rss_kb_before", "rss_kb_ready", "rss_kb_end")
                )
                + f" | {_f(mean(c.w['rss_kb_per_conn_ready'] for c in runs), 1)} | "
                f"{_f(end, 1)} | {ratio} |"
            )
    return "\n".join(lines)


def capacity_verdict(caps: list[Cap]) -> str:
    """Whether python held CAP_TARGET_N idle connections at <= CAP_TARGET_KIB each."""
    runs = [c for c in caps if c.backend == "python" and c.n >= CAP_TARGET_N and c.w]
    if not runs:
        return f"- capacity: no python run with N >= {CAP_TARGET_N}; target not measured."
    ok = all(
        c.s["clients_connected"] == c.n
        and not c.s.get("disconnects")
        and c.w["rss_kb_per_conn_end"] <= CAP_TARGET_KIB
        and c.w["rss_kb_per_conn_ready"] <= CAP_TARGET_KIB
        for c in runs
    )
    worst = max(max(c.w["rss_kb_per_conn_end"], c.w["rss_kb_per_conn_ready"]) for c in runs)
    return (
        f"- capacity: python held {'/'.join(str(c.s['clients_connected']) for c in runs)} "
        f"of N >= {CAP_TARGET_N} at worst {worst:.1f} KiB/conn (target <= "
        f"{CAP_TARGET_KIB:.0f} KiB): {'target met' if ok else 'MISSED'}."
    )


def _frame_key(frame: str) -> str:
    """'func (path/to/mod.py:123)' -> 'func (mod.py)'; keeps the package dir for site-packages."""
    name, _, loc = frame.partition(" (")
    path = loc.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} ({short})"


def _area(frame: str) -> str:
    """A coarse bucket (library) for one frame."""
    loc = frame.partition(" (")[2]
    for key in (
        "reference_backend",
        "socketio",
        "engineio",
        "uvicorn",
        "websockets",
        "wsproto",
        "redis",
        "hiredis",
        "orjson",
        "jwt",
        "asyncio",
        "uvloop",
        "json",
        "ssl",
    ):
        if f"/{key}/" in loc or f"/{key}." in loc or loc.startswith(f"{key}/"):
            return key
    return "other"


_ROOTS = ("_run_module_as_main ", "_run_code ", "<module> ", "main (", "run (", "Runner.run ")


def profile_summary(collapsed: Path, top: int = 15) -> str:
    """Top frames (self and inclusive) and the share of samples per library, from py-spy raw."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = [f for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        total += count
        self_c[_frame_key(frames[-1])] += count
        areas[_area(frames[-1])] += count
        for k in {_frame_key(f) for f in frames}:
            incl[k] += count
    if not total:
        return "(no samples)"

    def pct(c: int) -> str:
        return f"{100 * c / total:.1f}%"

    out = [
        f"{total} samples. Without --native, time in C code (uvloop, hiredis, zlib) is "
        "charged to the Python frame that called it.",
        "",
        "Self time by library (leaf frame): "
        + ", ".join(f"{a} {pct(c)}" for a, c in areas.most_common()),
        "",
        "| self | top frames (self) |",
        "|---|---|",
    ]
    out += [f"| {pct(c)} | `{k}` |" for k, c in self_c.most_common(top)]
    out += ["", "| inclusive | top frames (inclusive) |", "|---|---|"]
    out += [
        f"| {pct(c)} | `{k}` |" for k, c in incl.most_common(top + 20) if not k.startswith(_ROOTS)
    ][:top]
    return "\n".join(out)
