"""The markdown section of one bench/backend.py run, appended to bench/results/backend.md."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from _bench_args import WORKLOAD, parse_args
from _bench_meta import backend_rev, loadavg, versions
from _bench_procs import REPO
from _bench_report import (
    capacity_table,
    capacity_verdict,
    points_table,
    ratio_verdicts,
    throughput_table,
)

if TYPE_CHECKING:
    from _bench_sweep import Bench


def write_md(b: Bench, a: argparse.Namespace, started: str, load0: str, argv: list[str]) -> str:
    """The markdown section for this run (also appended to --md)."""
    full = parse_args([])
    same = all(
        getattr(a, k) == getattr(full, k)
        for k in ("rates", "duration", "repeats", "topologies", "cap", "hold", "backends")
    )
    kind = (
        "QUICK run (noisy smoke figures)"
        if a.quick
        else "full run"
        if same
        else "partial run (custom flags)"
    )
    lines = [
        f"## {started}: {kind}{' - ' + a.label if a.label else ''}",
        "",
        f"Command: `{' '.join(shlex.quote(x) for x in ['python', 'bench/backend.py', *argv])}`"
        f". Load average (1/5/15 min) at start {load0}, at end {loadavg()}. "
        f"{versions(a.peer_dir)} Python backend: {backend_rev()}.",
        "",
    ]
    if b.points:
        multi = (
            "driver -> HAProxy (roundrobin)" if a.via == "lb" else "driver round-robin on node URLs"
        )
        w = WORKLOAD
        lines += [
            f"Workload: {w['clients']} clients, {w['workspaces']} workspaces x {w['channels']} "
            f"channels, join {w['join']} (rooms of 20), body {w['body']} B, {a.duration:.0f} s "
            f"per point, {a.repeats} repeat(s), rates {','.join(map(str, a.rates))}; one driver "
            f"process (the peer's driver.js) for both backends; points alternate python/node. "
            f"Multi-node: {multi}. Pass: sends on target, every send acked, delivery_ratio 1, "
            "delivery p99 <= 250 ms; best rate = highest rate that passed in every repeat.",
            "",
            "### Throughput",
            "",
            throughput_table(b.points, a.topologies, a.via, max(a.rates)),
            "",
            *ratio_verdicts(b.points, a.topologies),
            "",
            "<details><summary>every point</summary>",
            "",
            points_table(b.points),
            "",
            "</details>",
            "",
        ]
    if b.caps:
        lines += [
            "### Idle connections per node",
            "",
            f"Hold {a.hold:.0f} s (ping interval 25 s)"
            ", each client joined to 1 channel, one fresh node per run; RSS/conn = (RSS - "
            "RSS of the fresh node) / N.",
            "",
            capacity_table(b.caps),
            "",
            capacity_verdict(b.caps),
            "",
        ]
    if b.profile_md:
        lines += ["### Profile", "", b.profile_md, ""]
    if b.notes:
        lines += ["### Notes", "", *[f"- {n.splitlines()[0]}" for n in b.notes], ""]
    raw = b.raw.relative_to(REPO) if b.raw.is_relative_to(REPO) else b.raw
    lines.append(f"Raw driver JSON: `{raw}`.")
    return "\n".join(lines) + "\n"


def append_md(path: Path, md: str) -> None:
    """Append the section to `path`, with the file's heading when it is new."""
    new = not path.exists()
    with open(path, "a") as f:
        if new:
            f.write(
                "# Reference backend vs Node.js peer\n\nWritten by `bench/backend.py`; "
                "newest run last. See bench/README.md.\n\n"
            )
        f.write(md + "\n")
