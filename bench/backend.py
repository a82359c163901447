#!/usr/bin/env python3
"""Benchmark the Python reference backend side by side with the Node.js peer.

The peer's Node driver (socket.io-client) is the load source for both backends. For each
topology (1 node; 3 nodes behind HAProxy, or the driver round-robin on node URLs) both
backends are started fresh, primed, and measured point by point, alternating python and
node, over a rate sweep; then idle-connection capacity (RSS per connection) is measured on
one fresh node per run. Everything started here is stopped on exit, error or Ctrl-C.

    .venv/bin/python bench/backend.py --quick          # smoke run, a few minutes, noisy
    .venv/bin/python bench/backend.py                  # full run (about 30-40 minutes)

See bench/README.md for what is measured and how to read the results. The parts: the command
line (_bench_args.py), the sweep of one topology (_bench_sweep.py), the capacity runs
(_bench_capacity.py), the profile (_bench_profile.py), the markdown (_bench_markdown.py,
tables in _bench_report.py), versions and preflight (_bench_meta.py), and the processes
(_bench_procs.py, on pigeon_lab.cluster's ManagedProcess).
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_args import RESULTS, parse_args
from _bench_capacity import run_capacity
from _bench_markdown import append_md, write_md
from _bench_meta import loadavg, preflight
from _bench_procs import Procs
from _bench_sweep import Bench


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    preflight(a)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = a.raw_dir or RESULTS / f"backend-{stamp}"
    raw.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pigeon-bench-"))
    procs = Procs(work)
    bench = Bench(a, procs, raw)
    load0 = loadavg()
    print(f"raw JSON -> {raw}\nlogs -> {work}\nload average {load0}", flush=True)

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: it may be ignored
        signal.signal(sig, on_term)  # when started in the background
    interrupted = failed = False
    try:
        for topo in a.topologies:
            bench.run_topology(topo)
        if a.cap:
            run_capacity(bench)
    except KeyboardInterrupt:
        interrupted = True
        bench.notes.append("interrupted: partial results")
        print("\ninterrupted; stopping everything", flush=True)
    except Exception as e:  # record what was measured, then fail
        failed = True
        bench.notes.append(f"error: {type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        procs.stop_all()
    md = write_md(bench, a, stamp, load0, argv)
    (raw / "summary.md").write_text(md)
    print("\n" + md)
    if str(a.md) not in ("", "."):
        append_md(a.md, md)
        print(f"appended to {a.md}")
    if not (interrupted or failed or bench.problems):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs kept in {work}")
    return 130 if interrupted else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
