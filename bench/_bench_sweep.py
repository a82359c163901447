"""The throughput sweep of bench/backend.py: one topology's backends, point by point.

`Bench` holds one run's processes and results; `driver()` runs the peer's driver once,
`start_backend()` brings up one backend (Redis, its nodes, HAProxy) and `run_topology()` sweeps
the rates alternating the backends. The capacity runs and the profile are in their own modules.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bench_args import SECRET, WORKLOAD
from _bench_procs import Procs, flushall, pid, url, wait_idle
from _bench_profile import profile
from _bench_report import Cap, Point, evaluate, topo_label

from pigeon_lab.cluster.process import ManagedProcess


@dataclass
class BackendEnv:
    """One running backend: Redis, its nodes, HAProxy (or None), where the driver connects."""

    redis: ManagedProcess
    rport: int
    nodes: list[ManagedProcess]
    lb: ManagedProcess | None
    urls: list[str]
    watch: dict[str, int] = field(default_factory=dict)  # driver --watch-pids name -> pid

    @property
    def processes(self) -> list[ManagedProcess]:
        """Redis, the nodes, HAProxy: the order in which they started."""
        return [self.redis, *self.nodes, *([self.lb] if self.lb else [])]


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
        p = self.procs.spawn("driver", argv, kind="driver", cwd=self.a.peer_dir)
        rc = p.wait(60 + clients / 40 + warmup + duration + drain)
        self.procs.stop(p, grace_s=1.0)
        if rc != 0 or not out.exists():
            print(f"    driver {label} failed (rc={rc}); see {p.log_path}", flush=True)
            return None
        return dict(json.loads(out.read_text()))

    # --------------------------------------------------------------- backends
    def node(self, backend: str, name: str, rport: int) -> ManagedProcess:
        """One started (not yet ready) node of `backend` on the Redis at `rport`."""
        if backend == "python":
            return self.procs.python_node(
                name, rport, SECRET, ["--drain-s", "1", *self.a.backend_arg]
            )
        return self.procs.node_peer(name, self.a.peer_dir, rport, SECRET)

    def start_backend(self, backend: str, topo: int, tag: str) -> BackendEnv:
        """Redis + topo nodes (+ HAProxy for topo > 1 with --via lb), all ready."""
        redis, rport = self.procs.redis(f"{tag}-{backend}-redis")
        nodes = [self.node(backend, f"{tag}-{backend}-node-{i}", rport) for i in range(1, topo + 1)]
        self.procs.wait_ready(nodes)
        lb = None
        if topo > 1 and self.a.via == "lb":
            lb = self.procs.haproxy(f"{tag}-{backend}-haproxy", nodes)
            self.procs.wait_ready([lb])
            time.sleep(1.5)  # let every server pass its first health check
        urls = [url(lb)] if lb else [url(n) for n in nodes]
        watch = {"redis": pid(redis), **{f"node{i + 1}": pid(n) for i, n in enumerate(nodes)}}
        if lb:
            watch["haproxy"] = pid(lb)
        return BackendEnv(redis, rport, nodes, lb, urls, watch)

    def alive(self, env: BackendEnv) -> str:
        """'' if every process of a backend is running, else what died (with its log tail)."""
        for p in env.processes:
            if p.returncode is not None:
                return str(p.failure("exited"))
        return ""

    # ------------------------------------------------------------- the sweep
    def run_topology(self, topo: int) -> None:
        """Start both backends fresh, prime them, and sweep the rates alternating backends."""
        a, tag = self.a, f"n{topo}"
        print(f"\n== {topo_label(topo, a.via)}: starting {', '.join(a.backends)}", flush=True)
        envs = {b: self.start_backend(b, topo, tag) for b in a.backends}
        for b, env in envs.items():
            s = self.driver(f"{tag}-{b}-prime", env.urls, 500, a.prime_s, {}, keep=False)
            print(f"  primed {b}: {'ok' if s else 'driver failed'}", flush=True)
            wait_idle([pid(p) for p in env.nodes])
        fails = {b: 0 for b in a.backends}
        skip: dict[str, str] = {}
        for rate in a.rates:
            rate_pass = {b: False for b in a.backends}
            for rep in range(1, a.repeats + 1):
                for b, env in envs.items():
                    if b not in skip:
                        rate_pass[b] |= self._point(topo, b, env, rate, rep, skip)
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
            profile(self, envs["python"], tag)
        for env in envs.values():
            for p in [*([env.lb] if env.lb else []), *env.nodes, env.redis]:
                self.procs.stop(p)

    def _point(
        self, topo: int, b: str, env: BackendEnv, rate: int, rep: int, skip: dict[str, str]
    ) -> bool:
        """One measured point of backend `b`; marks `b` in `skip` when it died or overloaded."""
        a = self.a
        flushall(env.rport)
        label = f"n{topo}-{b}-r{rate}-{rep}"
        s = self.driver(label, env.urls, rate, a.duration, env.watch)
        pt = Point(topo, b, rate, rep, s or _empty(rate, a.duration))
        evaluate(pt, WORKLOAD["clients"])
        if s is None:
            pt.reasons.insert(0, "driver failed")
            self.problems = True
        self.points.append(pt)
        _print_point(pt)
        waited = wait_idle([pid(p) for p in env.nodes] + [pid(env.redis)])
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
        return pt.passed


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
