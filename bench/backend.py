#!/usr/bin/env python3
"""Benchmark the Python reference backend side by side with the Node.js peer.

The peer's Node driver (socket.io-client) is the load source for both backends. For each
topology (1 node; 3 nodes behind HAProxy, or the driver round-robin on node URLs) both
backends are started fresh, primed, and measured point by point, alternating python and
node, over a rate sweep; then idle-connection capacity (RSS per connection) is measured on
one fresh node per run. Everything started here is stopped on exit, error or Ctrl-C.

    .venv/bin/python bench/backend.py --quick          # smoke run, a few minutes, noisy
    .venv/bin/python bench/backend.py                  # full run (about 30-40 minutes)

See bench/README.md for what is measured and how to read the results.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_procs import REPO, Proc, Procs, flushall, proc_rss_kb, wait_idle
from _bench_report import (
    BACKENDS,
    Cap,
    Point,
    capacity_table,
    capacity_verdict,
    evaluate,
    points_table,
    profile_summary,
    ratio_verdicts,
    throughput_table,
    topo_label,
)

RESULTS = REPO / "bench" / "results"
SECRET = "bench-secret-not-for-production-0123456789"  # >= 32 bytes: no PyJWT warning
PROFILE_DELAY_S = 3.5  # the driver connects (~1-2 s) and warms up (1 s) first
WORKLOAD = dict(clients=200, workspaces=2, channels=10, join=2, body=100)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; --quick fills in short defaults for anything not given."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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


class Bench:
    """One benchmark run: the processes, the raw results and the driver invocations."""

    def __init__(self, args: argparse.Namespace, procs: Procs, raw: Path) -> None:
        self.a, self.procs, self.raw = args, procs, raw
        self.points: list[Point] = []
        self.caps: list[Cap] = []
        self.profile_md = ""
        self.notes: list[str] = []
        self.problems = False  # a process died or a driver failed: keep the logs

    # ------------------------------------------------------------------ driver
    def driver(
        self,
        label: str,
        urls: list[str],
        rate: int,
        duration: float,
        watch: dict[str, int],
        clients: int = WORKLOAD["clients"],
        join: int = 2,
        warmup: float = 1.0,
        drain: float = 3.0,
        keep: bool = True,
    ) -> dict[str, Any] | None:
        """Run the peer's driver once; returns its JSON summary (None if it failed)."""
        out = (self.raw if keep else self.procs.workdir) / f"{label}.json"
        argv = [
            "node",
            str(self.a.peer_dir / "driver.js"),
            "--urls",
            ",".join(urls),
            "--clients",
            str(clients),
            "--workspaces",
            str(WORKLOAD["workspaces"]),
            "--channels",
            str(WORKLOAD["channels"]),
            "--join",
            str(join),
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
            "--drain",
            str(drain),
            "--body",
            str(WORKLOAD["body"]),
            "--procs",
            "1",
            "--secret",
            SECRET,
            "--label",
            label,
            "--out",
            str(out),
        ]
        if watch:
            argv += ["--watch-pids", ",".join(f"{n}:{p}" for n, p in watch.items())]
        p = self.procs.spawn("driver", argv, cwd=self.a.peer_dir)
        timeout = 60 + clients / 40 + warmup + duration + drain
        try:
            rc = p.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        self.procs.stop(p, grace_s=1.0)
        if rc != 0 or not out.exists():
            print(f"    driver {label} failed (rc={rc}); see {p.log}", flush=True)
            return None
        return dict(json.loads(out.read_text()))

    # --------------------------------------------------------------- backends
    def start_backend(self, backend: str, topo: int, tag: str) -> dict[str, Any]:
        """Redis + topo nodes (+ HAProxy for topo > 1 with --via lb), all ready."""
        redis, rport = self.procs.redis(f"{tag}-{backend}-redis")
        nodes: list[Proc] = []
        for i in range(1, topo + 1):
            name = f"{tag}-{backend}-node-{i}"
            if backend == "python":
                nodes.append(
                    self.procs.python_node(
                        name, rport, SECRET, ["--drain-s", "1", *self.a.backend_arg]
                    )
                )
            else:
                nodes.append(self.procs.node_peer(name, self.a.peer_dir, rport, SECRET))
        self.procs.wait_ready(nodes)
        lb = None
        if topo > 1 and self.a.via == "lb":
            lb = self.procs.haproxy(f"{tag}-{backend}-haproxy", [n.url for n in nodes])
            self.procs.wait_ready([lb])
            time.sleep(1.5)  # let every server pass its first health check
        urls = [lb.url] if lb else [n.url for n in nodes]
        watch = {"redis": redis.pid, **{f"node{i + 1}": n.pid for i, n in enumerate(nodes)}}
        if lb:
            watch["haproxy"] = lb.pid
        return {
            "redis": redis,
            "rport": rport,
            "nodes": nodes,
            "lb": lb,
            "urls": urls,
            "watch": watch,
        }

    def alive(self, env: dict[str, Any]) -> str:
        """'' if every process of a backend is running, else what died (with its log tail)."""
        for p in [env["redis"], *env["nodes"], *([env["lb"]] if env["lb"] else [])]:
            if p.popen.poll() is not None:
                tail = p.log.read_text(errors="replace")[-1500:]
                return f"{p.name} exited ({p.popen.returncode}); log tail:\n{tail}"
        return ""

    # ------------------------------------------------------------- the sweep
    def run_topology(self, topo: int) -> None:
        """Start both backends fresh, prime them, and sweep the rates alternating backends."""
        a, tag = self.a, f"n{topo}"
        print(f"\n== {topo_label(topo, a.via)}: starting {', '.join(a.backends)}", flush=True)
        envs = {b: self.start_backend(b, topo, tag) for b in a.backends}
        for b, env in envs.items():
            s = self.driver(f"{tag}-{b}-prime", env["urls"], 500, a.prime_s, {}, keep=False)
            print(f"  primed {b}: {'ok' if s else 'driver failed'}", flush=True)
            wait_idle([p.pid for p in env["nodes"]])
        fails = {b: 0 for b in a.backends}
        skip: dict[str, str] = {}
        for rate in a.rates:
            rate_pass = {b: False for b in a.backends}
            for rep in range(1, a.repeats + 1):
                for b, env in envs.items():
                    if b in skip:
                        continue
                    flushall(env["rport"])
                    label = f"{tag}-{b}-r{rate}-{rep}"
                    s = self.driver(label, env["urls"], rate, a.duration, env["watch"])
                    pt = Point(topo, b, rate, rep, s or _empty(rate, a.duration))
                    evaluate(pt, WORKLOAD["clients"])
                    if s is None:
                        pt.reasons.insert(0, "driver failed")
                        self.problems = True
                    self.points.append(pt)
                    rate_pass[b] |= pt.passed
                    _print_point(pt)
                    waited = wait_idle([p.pid for p in env["nodes"]] + [env["redis"].pid])
                    if waited > 5:
                        print(f"    ({b} needed {waited:.0f} s to go idle after the point)")
                    died = self.alive(env)
                    if died:
                        self.problems = True
                        skip[b] = f"{b}: {died}"
                        self.notes.append(f"{topo_label(topo, a.via)}: {died}")
                        print(f"  !! {died}", flush=True)
                    elif s and s["ack_timeouts"] > 0.05 * max(1, s["sends"]) and not a.keep_going:
                        skip[b] = f"{b} overloaded at {rate}/s (ack timeouts)"
            for b in a.backends:
                fails[b] = 0 if rate_pass[b] else fails[b] + 1
                if fails[b] >= 2 and b not in skip and not a.keep_going:
                    skip[b] = f"{b} failed 2 rates in a row"
        for b, why in skip.items():
            ran = max(p.rate for p in self.points if p.topo == topo and p.backend == b)
            if ran == max(a.rates) and "exited" not in why:
                continue  # nothing was left to skip
            print(f"  skipped the higher rates: {why.splitlines()[0]}")
            self.notes.append(
                f"{topo_label(topo, a.via)}: higher rates skipped, {why.splitlines()[0]}"
            )
        if a.profile and "python" in envs and topo == a.topologies[0]:
            self.profile(envs["python"], tag)
        for env in envs.values():
            for p in [*([env["lb"]] if env["lb"] else []), *env["nodes"], env["redis"]]:
                self.procs.stop(p)

    # ------------------------------------------------------------- profiling
    def profile(self, env: dict[str, Any], tag: str) -> None:
        """py-spy record python node-1 during one extra point (not in the tables)."""
        spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        if not spy:
            self.profile_md = "py-spy is not installed (`.venv/bin/pip install py-spy`)."
            print(self.profile_md)
            return
        rate = self.a.profile_rate or self._profile_rate()
        stamp = self.raw.name.removeprefix("backend-")
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"backend-profile-{stamp}-{tag}-r{rate}.txt"
        node = env["nodes"][0]
        flushall(env["rport"])
        secs = max(2, int(self.a.duration) - 1)
        print(f"  profiling {node.name} (pid {node.pid}) at {rate}/s for {secs} s", flush=True)
        # Start after the 200 connects and the 1 s warmup, so that only sending is sampled.
        cmd = [
            spy,
            "record",
            "--pid",
            str(node.pid),
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
        spy_p = self.procs.spawn(
            "py-spy",
            ["sh", "-c", f"sleep {PROFILE_DELAY_S}; exec " + " ".join(shlex.quote(x) for x in cmd)],
        )
        s = self.driver(
            f"{tag}-python-r{rate}-profiled", env["urls"], rate, self.a.duration, env["watch"]
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            spy_p.popen.wait(secs + 30)
        self.procs.stop(spy_p)
        if not out.exists():
            self.profile_md = f"py-spy wrote nothing; see {spy_p.log}"
            print(self.profile_md)
            return
        got = ""
        if s:
            pt = Point(int(tag[1:]), "python", rate, 0, s)
            evaluate(pt, WORKLOAD["clients"])
            got = (
                f" The profiled point: {s['deliveries_per_s']:,.0f} deliveries/s, delivery "
                f"p99 {s['delivery_ms']['p99']} ms, pass: {pt.passed}."
            )
        self.profile_md = (
            f"py-spy (100 Hz, nonblocking, CPU samples only) on {node.name} of "
            f"the {tag[1:]}-node python topology at {rate} sends/s for {secs} s "
            f"from {PROFILE_DELAY_S} s after the driver started (sending only); "
            f"collapsed stacks: `{out.relative_to(REPO)}` (open in speedscope.app "
            f"or flamegraph.pl).{got}\n\n{profile_summary(out)}"
        )
        print("\n" + self.profile_md, flush=True)

    def _profile_rate(self) -> int:
        py = sorted(p.rate for p in self.points if p.backend == "python")
        failed = [p.rate for p in self.points if p.backend == "python" and not p.passed]
        return min(failed) if failed else (py[-1] if py else self.a.rates[-1])

    # -------------------------------------------------------------- capacity
    def run_capacity(self) -> None:
        """N idle websocket clients on one fresh node per run; RSS before/after (like cap.sh)."""
        a = self.a
        print(f"\n== idle capacity: N = {a.cap}, hold {a.hold:.0f} s", flush=True)
        redis = {b: self.procs.redis(f"cap-{b}-redis") for b in a.backends}
        for n in a.cap:
            for rep in range(1, a.repeats + 1):
                for b in a.backends:
                    rproc, rport = redis[b]
                    flushall(rport)
                    name = f"cap-{b}-node-1"
                    node = (
                        self.procs.python_node(
                            name, rport, SECRET, ["--drain-s", "1", *a.backend_arg]
                        )
                        if b == "python"
                        else self.procs.node_peer(name, a.peer_dir, rport, SECRET)
                    )
                    self.procs.wait_ready([node])
                    time.sleep(1.0)
                    s = self.driver(
                        f"cap-{b}-c{n}-{rep}",
                        [node.url],
                        0,
                        a.hold,
                        {"node1": node.pid},
                        clients=n,
                        join=1,
                        warmup=5,
                        drain=0,
                    )
                    rss_now = proc_rss_kb(node.pid)
                    if node.popen.poll() is not None:
                        self.notes.append(f"capacity {b} N={n}: the node exited")
                        self.problems = True
                    self.procs.stop(node)
                    if not s:
                        continue
                    c = Cap(b, n, rep, s)
                    self.caps.append(c)
                    w = c.w
                    print(
                        f"  {b:6} N={n:<6} connected={s['clients_connected']} "
                        f"connect_s={s['connect_s']} disconnects={s.get('disconnects')} "
                        f"rss MiB {w.get('rss_kb_before', 0) / 1024:.1f} -> "
                        f"{w.get('rss_kb_ready', 0) / 1024:.1f} -> "
                        f"{(rss_now or 0) / 1024:.1f}  KiB/conn connected="
                        f"{w.get('rss_kb_per_conn_ready')} end={w.get('rss_kb_per_conn_end')}",
                        flush=True,
                    )
        for rproc, _ in redis.values():
            self.procs.stop(rproc)


def _empty(rate: int, duration: float) -> dict[str, Any]:
    """A summary for a point whose driver failed: counts as a failure everywhere."""
    h = {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {
        "params": {"duration_s": duration, "rate": rate},
        "clients_connected": 0,
        "connect_s": 0,
        "connect_errors": {"driver": 1},
        "join_errors": {},
        "sends": 0,
        "sends_per_s": 0,
        "acked": 0,
        "acked_per_s": 0,
        "ack_timeouts": 0,
        "ack_errors": {},
        "deliveries_per_s": 0,
        "delivery_ratio": None,
        "missing_at_end": 0,
        "ack_ms": h,
        "delivery_ms": h,
        "gaps": 0,
        "out_of_order": 0,
        "driver_cpu_s": [0],
        "watch": {},
    }


def _print_point(p: Point) -> None:
    s = p.s
    cpu = " ".join(f"{n}={w['cpu_pct_window']}%" for n, w in s.get("watch", {}).items() if w)
    print(
        f"  {p.topo} {p.backend:6} r{p.rate:<5} #{p.rep} send/s={s['sends_per_s']} "
        f"deliv/s={s['deliveries_per_s']:,.0f} ratio={s['delivery_ratio']} "
        f"ack_p99={s['ack_ms']['p99']} deliv_p50/p99={s['delivery_ms']['p50']}/"
        f"{s['delivery_ms']['p99']} gaps={s['gaps']} {cpu} driver={p.driver_cpu:.0f}% "
        f"{'PASS' if p.passed else 'FAIL: ' + '; '.join(p.reasons)}",
        flush=True,
    )


def _versions(peer: Path) -> str:
    def meta(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    def npm(pkg: str) -> str:
        try:
            return str(
                json.loads((peer / "node_modules" / pkg / "package.json").read_text())["version"]
            )
        except OSError:
            return "?"

    def cmd(*argv: str) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
            return out.split("\n")[0].strip()
        except OSError:
            return "?"

    return (
        f"Python {sys.version.split()[0]}: python-socketio {meta('python-socketio')}, "
        f"python-engineio {meta('python-engineio')}, uvicorn {meta('uvicorn')}, redis-py "
        f"{meta('redis')}. Node {cmd('node', '--version')}: socket.io {npm('socket.io')}, "
        f"@socket.io/redis-adapter {npm('@socket.io/redis-adapter')}, socket.io-client "
        f"{npm('socket.io-client')}. {cmd('redis-server', '--version')[:40]}. "
        f"{cmd('haproxy', '-v')[:22]}. nproc {os.cpu_count()}."
    )


def _backend_rev() -> str:
    """The repo commit plus a digest of reference_backend/ (it may be uncommitted)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((REPO / "reference_backend").glob("*.[pl]*")):
        if f.suffix in (".py", ".lua"):
            h.update(f.name.encode() + f.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        head = "?"
    return f"repo HEAD {head or '?'}, reference_backend/*.py,*.lua sha256 {h.hexdigest()[:12]}"


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def preflight(a: argparse.Namespace) -> None:
    """Fail early (exit 2) when a tool or the peer or the python backend is missing."""
    missing = [t for t in ("node", "redis-server", "haproxy") if not shutil.which(t)]
    if missing:
        sys.exit(f"missing tools: {', '.join(missing)}")
    if "node" in a.backends and not (a.peer_dir / "node_modules" / "socket.io").exists():
        sys.exit(
            f"the Node peer is not installed in {a.peer_dir}: cp -r "
            f"/work/shared/peers/node-socketio {a.peer_dir} && cd {a.peer_dir} && npm ci"
        )
    if not (a.peer_dir / "driver.js").exists():
        sys.exit(f"no driver.js in {a.peer_dir} (--peer-dir)")
    if "python" in a.backends:
        r = subprocess.run(
            [sys.executable, "-m", "reference_backend", "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if r.returncode != 0:
            sys.exit(f"python -m reference_backend --help failed:\n{r.stderr[-1500:]}")


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
        f". Load average (1/5/15 min) at start {load0}, at end {_loadavg()}. "
        f"{_versions(a.peer_dir)} Python backend: {_backend_rev()}.",
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
    load0 = _loadavg()
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
            bench.run_capacity()
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
        new = not a.md.exists()
        with open(a.md, "a") as f:
            if new:
                f.write(
                    "# Reference backend vs Node.js peer\n\nWritten by `bench/backend.py`; "
                    "newest run last. See bench/README.md.\n\n"
                )
            f.write(md + "\n")
        print(f"appended to {a.md}")
    if not (interrupted or failed or bench.problems):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs kept in {work}")
    return 130 if interrupted else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
