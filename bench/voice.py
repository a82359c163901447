"""Benchmark of voice rooms: members per node and per load process at a stated signalling rate.

For each topology (``--nodes``, default 1 and 3 nodes behind HAProxy) and each member count N
(``--members``, rooms of 8 with 2 chairs), one run of the ``voice-baseline`` scenario on the
bundled cluster, with one load process: every member negotiates with every peer when it joins
(newcomer offers, glare on 30 %), renegotiates (ICE restart) ``--reneg`` times a second, asks
for the floor, leaves and rejoins and switches devices at the baseline's rates. Measured from
the run's report (``voice_slo`` and the invariant verdicts):

  (a) whether the point *holds*: every voice invariant passes, every member joined, and the
      latency targets of docs/voice (join p95 <= 500 ms, relay p99 <= 250 ms) are met;
  (b) signals relayed per second (acked ``vsignal`` in the steady window), join, relay and
      offer-to-answer percentiles, floor grant and handover p95;
  (c) the load process's CPU seconds per 1,000 signals (its own progress lines).

    .venv/bin/python bench/voice.py                          # about 6 minutes
    .venv/bin/python bench/voice.py --nodes 1 --members 16   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, first

from pigeon_lab.checkers.voice_metrics import VoiceSloMetrics
from pigeon_lab.events import Event, LoadProgress
from pigeon_lab.run import run_scenario

TARGET_JOIN_P95_MS = 500.0
TARGET_RELAY_P99_MS = 250.0


@dataclass
class Point:
    nodes: int
    members: int
    held: bool
    why: str
    signals_per_s: float
    join_p50: float | None
    join_p95: float | None
    join_p99: float | None
    relay_p50: float | None
    relay_p95: float | None
    relay_p99: float | None
    offer_answer_p95: float | None
    grant_p95: float | None
    handover_p95: float | None
    load_cpu_per_k_signals: float | None
    run_dir: str


def run_point(nodes: int, members: int, duration: float, reneg: float, out: Path) -> Point:
    cpu: list[float] = []

    def listen(e: Event) -> None:
        if isinstance(e, LoadProgress) and e.cpu_s is not None:
            cpu.append(float(e.cpu_s))

    rooms = max(1, members // 8)
    result = run_scenario(
        "voice-baseline",
        out=out,
        overrides={
            "topology.nodes": nodes,
            "workload.duration_s": duration,
            "workload.ramp_s": min(5.0, duration / 4),
            "workload.voice.rooms_per_workspace": rooms,
            "workload.voice.renegotiate_rate": reneg,
            "workload.voice.probes": False,
        },
        listeners=[listen],
    )
    verdicts = {v.name: v for v in result.report.verdicts}
    m = VoiceSloMetrics.from_verdict(verdicts.get("voice_slo"))
    bad = [n for n, v in verdicts.items() if n.startswith("voice_") and str(v.outcome) != "pass"]
    steady = [b for b in m.timeline if b.t_s >= 5.0 and b.t_s < duration]
    width = (m.timeline[1].t_s - m.timeline[0].t_s) if len(m.timeline) > 1 else 1.0
    rate = sum(b.signals for b in steady) / max(len(steady) * width, 1e-9)
    signals = verdicts["voice_signals"].counts.get("acked", 0) if "voice_signals" in verdicts else 0
    why = []
    if bad:
        why.append("not passing: " + ", ".join(bad))
    if m.join_ms.n < rooms * 8:
        why.append(f"{m.join_ms.n} joins for {rooms * 8} members")
    if m.join_ms.p95 is None or m.join_ms.p95 > TARGET_JOIN_P95_MS:
        why.append(f"join p95 {m.join_ms.p95}")
    if m.relay_ms.p99 is None or m.relay_ms.p99 > TARGET_RELAY_P99_MS:
        why.append(f"relay p99 {m.relay_ms.p99}")
    return Point(
        nodes,
        rooms * 8,
        not why,
        "; ".join(why) or "held",
        round(rate, 1),
        m.join_ms.p50,
        m.join_ms.p95,
        m.join_ms.p99,
        m.relay_ms.p50,
        m.relay_ms.p95,
        m.relay_ms.p99,
        m.offer_answer_ms.p95,
        m.grant_ms.p95,
        m.handover_ms.p95,
        round(cpu[-1] / signals * 1000, 3) if cpu and signals else None,
        str(result.run_dir),
    )


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def markdown(points: list[Point], args: argparse.Namespace) -> str:
    head = (
        f"# bench/voice.py, {time.strftime('%Y-%m-%d %H:%M')}\n\n"
        f"{platform.node()}, {platform.python_version()}; voice-baseline rooms of 8, "
        f"{args.duration:g} s a point, renegotiation {args.reneg:g}/s per member, one load "
        f"process; targets: join p95 <= {TARGET_JOIN_P95_MS:g} ms, relay p99 <= "
        f"{TARGET_RELAY_P99_MS:g} ms, every voice invariant passing.\n\n"
        "| nodes | members | members/node | held | signals/s | join p50/p95/p99 ms | "
        "relay p50/p95/p99 ms | offer->answer p95 ms | grant p95 ms | handover p95 ms | "
        "load CPU s / 1k signals |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = [
        f"| {p.nodes} | {p.members} | {p.members // p.nodes} | "
        f"{'yes' if p.held else 'no: ' + p.why} | {p.signals_per_s:,.0f} | "
        f"{_f(p.join_p50)} / {_f(p.join_p95)} / {_f(p.join_p99)} | "
        f"{_f(p.relay_p50)} / {_f(p.relay_p95)} / {_f(p.relay_p99)} | "
        f"{_f(p.offer_answer_p95)} | {_f(p.grant_p95)} | {_f(p.handover_p95)} | "
        f"{'-' if p.load_cpu_per_k_signals is None else p.load_cpu_per_k_signals} |"
        for p in points
    ]
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="1,3", help="node counts, comma-separated")
    ap.add_argument("--members", default="32,64,128", help="member counts (rooms of 8)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load a point")
    ap.add_argument("--reneg", type=float, default=0.1, help="renegotiations per member per s")
    ap.add_argument("--md", type=Path, default=Path("bench/results/voice.md"))
    ap.add_argument("--keep-going", action="store_true", help="do not stop a topology at a miss")
    args = ap.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="pigeon-bench-voice-"))
    print(f"run folders in {out}", flush=True)
    points: list[Point] = []
    for nodes in [int(x) for x in args.nodes.split(",")]:
        for members in [int(x) for x in args.members.split(",")]:
            p = run_point(nodes, members, args.duration, args.reneg, out)
            points.append(p)
            print(json.dumps(p.__dict__), flush=True)
            if not p.held and not args.keep_going:
                break
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(markdown(points, args))
    print(markdown(points, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
