"""Benchmark of the load generator (a script, not a test).

Measures, for one Locust process (processes=1) against reference backend node(s)
started here (redis-server + N nodes on free loopback ports, killed at the end):
  - how many chat users it holds at a steady 1 message per user per 10 s;
  - messages received per second, and per CPU-second of the load process
    (resource.getrusage(RUSAGE_CHILDREN) around the run), with the full history;
  - the recording overhead: the same run with ``record=False``.
The micro-benchmark of ``Recorder.record`` alone is printed too.

    .venv/bin/python bench/load.py --users 2000 --duration 30 --nodes 2 --out bench/results/load.txt

TODO (Node comparison): copy /work/shared/peers/node-socketio to /tmp/node-peer, `npm ci`
there, and run its driver on the same workload (same users, channels, rate) in the same run;
not done yet (see bench/results/load.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pigeon_lab.history.recorder import Recorder  # noqa: E402
from pigeon_lab.load.config import LoadConfig  # noqa: E402
from pigeon_lab.load.launcher import run_load  # noqa: E402

SECRET = "bench-load-secret-0123456789abcdef0123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_backend(nodes: int, logdir: Path) -> tuple[list[str], list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    rport = free_port()
    procs.append(subprocess.Popen(["/usr/bin/redis-server", "--port", str(rport), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, start_new_session=True))
    urls = []
    for i in range(nodes):
        port = free_port()
        log = open(logdir / f"node-{i + 1}.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "reference_backend", "--port", str(port), "--redis-url",
             f"redis://127.0.0.1:{rport}/0", "--jwt-secret", SECRET, "--node-name",
             f"node-{i + 1}", "--conn-rate", "1000", "--ws-rate", "100000", "--ws-burst", "200000",
             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready")
            time.sleep(0.2)
    return urls, procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def run_once(urls: list[str], args: argparse.Namespace, record: bool, out: Path) -> dict[str, float]:
    cfg = LoadConfig(urls=urls, jwt_secret=SECRET, workspaces=args.workspaces,
                     channels_per_workspace=args.channels, users=args.users, channels_per_user=1,
                     channel_skew=0.0, send_rate_per_user=args.rate, send_schedule="uniform",
                     body_bytes=64, ramp_s=args.ramp, duration_s=args.duration, record=record,
                     seed=1, out_dir=out, send_deadline_ms=10_000, connect_timeout_s=30)
    peak_users = [0]
    recv_at: list[tuple[float, int]] = []

    def on_progress(p: dict[str, object]) -> None:
        peak_users[0] = max(peak_users[0], int(p["users"]))  # type: ignore[call-overload]
        recv_at.append((float(p["elapsed_s"]), int(p["recv"])))  # type: ignore[arg-type]

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = run_load(cfg, on_progress)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    steady = [(t, n) for t, n in recv_at if t >= args.ramp + 2]
    rate = ((steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
            if len(steady) >= 2 and steady[-1][0] > steady[0][0] else 0.0)
    return {"record": record, "users": peak_users[0], "sends": s.sends, "acks": s.acks,
            "send_info": s.send_info, "recv": s.recv, "rows": s.rows,
            "steady_recv_per_s": round(rate, 1), "cpu_s": round(cpu, 2),
            "recv_per_cpu_s": round(s.recv / cpu, 1) if cpu else 0.0,
            "elapsed_s": s.elapsed_s}


def micro_recorder(n: int = 200_000) -> float:
    r = Recorder()
    t0 = time.perf_counter()
    for i in range(n):
        r.record("recv", "u1", "u1", "ws0", "node-1", "ch0", "cmid", i, "mid", "u2", None,
                 "0123456789abcdef", None, None, None, 1)
    return (time.perf_counter() - t0) / n * 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--rate", type=float, default=0.1, help="messages per user per second")
    ap.add_argument("--workspaces", type=int, default=1)
    ap.add_argument("--channels", type=int, default=10)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--ramp", type=float, default=10)
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("bench/results/load.txt"))
    args = ap.parse_args()
    lines = [f"# bench/load.py {time.strftime('%Y-%m-%d %H:%M:%S')} cpus={os.cpu_count()} "
             f"args={vars(args)}",
             f"recorder.record: {micro_recorder():.0f} ns/row (micro-benchmark)"]
    with tempfile.TemporaryDirectory(prefix="pigeon-bench-") as tmp:
        urls, procs = start_backend(args.nodes, Path(tmp))
        try:
            results = [run_once(urls, args, rec, Path(tmp) / f"run-{rec}") for rec in (True, False)]
        finally:
            stop(procs)
    for r in results:
        lines.append(json.dumps(r))
    on, off = results
    if off["recv_per_cpu_s"]:
        overhead = 1 - on["recv_per_cpu_s"] / off["recv_per_cpu_s"]
        lines.append(f"recording overhead (recv per CPU-second, with vs without): {overhead:.1%}")
    lines.append("node comparison: TODO (see the module docstring)")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
