"""The optional py-spy profile of bench/backend.py (--profile): one extra, unrecorded point.

py-spy records python node-1 while the driver sends; the collapsed stacks go to
bench/results/backend-profile-*.txt and a summary goes into the run's markdown.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from _bench_args import PROFILE_DELAY_S, RESULTS, WORKLOAD
from _bench_procs import REPO, flushall, pid
from _bench_report import Point, evaluate, profile_summary

if TYPE_CHECKING:
    from _bench_sweep import BackendEnv, Bench


def profile(bench: Bench, env: BackendEnv, tag: str) -> None:
    """py-spy record python node-1 during one extra point (not in the tables)."""
    spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if not spy:
        bench.profile_md = "py-spy is not installed (`.venv/bin/pip install py-spy`)."
        print(bench.profile_md)
        return
    rate = bench.a.profile_rate or profile_rate(bench)
    stamp = bench.raw.name.removeprefix("backend-")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"backend-profile-{stamp}-{tag}-r{rate}.txt"
    node = env.nodes[0]
    flushall(env.rport)
    secs = max(2, int(bench.a.duration) - 1)
    print(f"  profiling {node.name} (pid {pid(node)}) at {rate}/s for {secs} s", flush=True)
    # Start after the 200 connects and the 1 s warmup, so that only sending is sampled.
    cmd = [
        spy,
        "record",
        "--pid",
        str(pid(node)),
        "--rate",
        "100",
        "--nonblocking",
        "--format",
        "raw",
        "--duration",
        str(secs),
        "--output",
        str(out),
    ]
    spy_p = bench.procs.spawn(
        "py-spy",
        ["sh", "-c", f"sleep {PROFILE_DELAY_S}; exec " + " ".join(shlex.quote(x) for x in cmd)],
        kind="profiler",
    )
    s = bench.driver(f"{tag}-python-r{rate}-profiled", env.urls, rate, bench.a.duration, env.watch)
    spy_p.wait(secs + 30)
    bench.procs.stop(spy_p)
    if not out.exists():
        bench.profile_md = f"py-spy wrote nothing; see {spy_p.log_path}"
        print(bench.profile_md)
        return
    got = ""
    if s:
        pt = Point(int(tag[1:]), "python", rate, 0, s)
        evaluate(pt, WORKLOAD["clients"])
        got = (
            f" The profiled point: {s['deliveries_per_s']:,.0f} deliveries/s, delivery "
            f"p99 {s['delivery_ms']['p99']} ms, pass: {pt.passed}."
        )
    bench.profile_md = (
        f"py-spy (100 Hz, nonblocking, CPU samples only) on {node.name} of "
        f"the {tag[1:]}-node python topology at {rate} sends/s for {secs} s "
        f"from {PROFILE_DELAY_S} s after the driver started (sending only); "
        f"collapsed stacks: `{out.relative_to(REPO)}` (open in speedscope.app "
        f"or flamegraph.pl).{got}\n\n{profile_summary(out)}"
    )
    print("\n" + bench.profile_md, flush=True)


def profile_rate(bench: Bench) -> int:
    """Python's first failing rate, else the top rate it ran, else the top of the sweep."""
    py = sorted(p.rate for p in bench.points if p.backend == "python")
    failed = [p.rate for p in bench.points if p.backend == "python" and not p.passed]
    return min(failed) if failed else (py[-1] if py else bench.a.rates[-1])
