"""The command line of bench/backend.py and the constants of its workload.

`parse_args([])` is also the reference "full run" that the markdown heading compares with.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _bench_procs import REPO
from _bench_report import BACKENDS

DESCRIPTION = "Benchmark the Python reference backend side by side with the Node.js peer."
RESULTS = REPO / "bench" / "results"
SECRET = "bench-secret-not-for-production-0123456789"  # >= 32 bytes: no PyJWT warning
PROFILE_DELAY_S = 3.5  # the driver connects (~1-2 s) and warms up (1 s) first
WORKLOAD = dict(clients=200, workspaces=2, channels=10, join=2, body=100)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; --quick fills in short defaults for anything not given."""
    ap = argparse.ArgumentParser(description=DESCRIPTION)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: rates 500,1500,3000, 5 s points, 1 repeat, cap 1000, "
        "hold 5 s, "
        "--keep-going",
    )
    ap.add_argument("--rates", help="total sends/s to sweep [500,1000,1500,2000,3000,3500]")
    ap.add_argument("--duration", type=float, help="seconds of sending per point [20]")
    ap.add_argument("--repeats", type=int, help="runs per point and per capacity N [2]")
    ap.add_argument("--topologies", default="1,3", help="node counts to measure [1,3]")
    ap.add_argument(
        "--via",
        choices=("lb", "urls"),
        default="lb",
        help="multi-node: driver -> HAProxy URL (lb) or -> node URLs round-robin [lb]",
    )
    ap.add_argument(
        "--cap", help="idle connection counts for the capacity runs [1000,5000]; '' skips them"
    )
    ap.add_argument("--hold", type=float, help="seconds to hold idle connections [30]")
    ap.add_argument("--backends", default="python,node", help="which backends to run [python,node]")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="py-spy record one python node during one extra (unrecorded) point",
    )
    ap.add_argument(
        "--profile-rate",
        type=int,
        help="rate of the profiled point [python's first failing rate, else the top]",
    )
    ap.add_argument(
        "--keep-going",
        action="store_true",
        help="do not skip a backend's higher rates after 2 failed rates in a row",
    )
    ap.add_argument(
        "--peer-dir",
        type=Path,
        default=Path("/tmp/node-peer"),
        help="the installed Node peer (server.js, driver.js, node_modules) [/tmp/node-peer]",
    )
    ap.add_argument(
        "--backend-arg",
        action="append",
        default=[],
        help="extra flag for every python node, e.g. --backend-arg=--log-level=info",
    )
    ap.add_argument(
        "--md",
        type=Path,
        default=RESULTS / "backend.md",
        help="markdown file the summary is appended to [bench/results/backend.md]; '' for none",
    )
    ap.add_argument("--raw-dir", type=Path, help="raw driver JSON [bench/results/backend-<stamp>/]")
    ap.add_argument("--label", default="", help="a note for the section heading in --md")
    a = ap.parse_args(argv)
    q = a.quick
    a.rates = [
        int(x)
        for x in (a.rates or ("500,1500,3000" if q else "500,1000,1500,2000,3000,3500")).split(",")
    ]
    a.duration = a.duration or (5.0 if q else 20.0)
    a.repeats = a.repeats or (1 if q else 2)
    a.topologies = [int(x) for x in a.topologies.split(",") if x]
    cap = a.cap if a.cap is not None else ("1000" if q else "1000,5000")
    a.cap = [int(x) for x in cap.split(",") if x]
    a.hold = a.hold or (5.0 if q else 30.0)
    a.backends = [b for b in BACKENDS if b in a.backends.split(",")]
    a.prime_s = 2.0 if q else 5.0
    a.keep_going = a.keep_going or q  # a smoke run has few points: show them all
    return a
