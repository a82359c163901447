"""The Markdown summary of bench/load.py and its recording-overhead figure."""

from __future__ import annotations

import argparse
import time
from typing import Any


def recording_overhead(users: int, runs: dict[bool, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """Recording overhead from the per-CPU-second figures: total recv / total CPU, per kind."""

    def per_cpu(rs: list[dict[str, Any]]) -> float | None:
        recv = sum(r["recv_per_s"] * r["window_s"] for r in rs)
        cpu = sum(r["cpu_pct"] / 100 * r["window_s"] for r in rs)
        return round(recv / cpu, 1) if cpu else None

    on, off = per_cpu(runs[True]), per_cpu(runs[False])
    if not on or not off:
        return None
    return {
        "users": users,
        "on": on,
        "off": off,
        "runs": [len(runs[True]), len(runs[False])],
        "overhead_pct": round(100 * (1 - on / off), 1),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def markdown(
    results: list[dict[str, Any]],
    overhead: dict[str, Any] | None,
    head: str,
    args: argparse.Namespace,
) -> str:
    py = [r for r in results if r["who"] == "python" and r["record"] and not r.get("overhead_run")]
    nd = {r["users"]: r for r in results if r["who"] == "node-driver"}
    held = [r["users"] for r in py if r["holds"]]
    verdict = (
        f"Max users one Locust process holds at 1 msg/user/{1 / args.rate:g} s: "
        f"**{max(held) if held else 'none'}** (steps {args.steps})."
    )
    columns = (
        "| users | holds | recv/s | recv per CPU-s | load CPU % | delivery p99 ms | "
        "node recv/s | node recv per CPU-s | ratio recv/s | ratio per CPU-s | why not |"
    )
    lines = [
        f"# Load generator benchmark ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        head,
        "",
        verdict,
        "",
        columns,
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in py:
        n = nd.get(r["users"], {})
        lines.append(
            f"| {r['users']} | {'yes' if r['holds'] else 'no'} | {r['recv_per_s']} | "
            f"{r['recv_per_cpu_s']} | {r['cpu_pct']} | {r['delivery_ms'].get('p99')} | "
            f"{n.get('recv_per_s', '-')} | {n.get('recv_per_cpu_s', '-')} | "
            f"{_ratio(r['recv_per_s'], n.get('recv_per_s')) or '-'} | "
            f"{_ratio(r['recv_per_cpu_s'], n.get('recv_per_cpu_s')) or '-'} | {r['why']} |"
        )
    for r in results:
        if r["who"] == "replay":
            lines += [
                "",
                (
                    f"Receive path alone (replay of {r['messages']} messages through rooms of "
                    f"{r['room']} ChatUsers, no network): {r['recv_per_cpu_s_on']} messages per "
                    f"CPU-second recorded, {r['recv_per_cpu_s_off']} not recorded: recording "
                    f"costs {r['overhead_pct']} % of the bare receive path."
                ),
            ]
    if overhead:
        lines += [
            "",
            (
                f"Recording overhead at {overhead['users']} users: "
                f"{overhead['overhead_pct']} % of received messages per CPU-second "
                f"({overhead['on']} with the full history vs {overhead['off']} with "
                f"`record=False`; {overhead['runs'][0]} recorded and {overhead['runs'][1]} "
                "unrecorded runs, alternated)."
            ),
        ]
    return "\n".join(lines) + "\n"
