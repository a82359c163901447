"""Benchmark of the load generator: one Locust worker process, against the Node driver.

For each step of concurrent chat users N (500, 1000, 2000, 3000, ... by default), one
load process (processes=1) runs N users at 1 message per user per 10 s, every room of
``--room`` members (so N/10 sends/s and 5N received messages/s with rooms of 50), with
the full history recorded. Then the Node driver (/tmp/node-peer/driver.js, socket.io-client)
runs the same workload against the same backend. Measured:

  (a) whether the process *holds* N: every user connected and joined, no unexpected
      disconnect, every send acked on its first attempt (no timeout, fail or info), and
      delivery p99 under 1 s (whole run, 1 % histogram);
  (b) received messages/s in the steady window (ramp + 3 s to the end), and received
      messages per CPU-second of the load process (utime + stime from /proc/<pid>/stat
      over the same window: the robust figure on a shared machine);
  (c) the recording overhead: runs with ``record=False`` at the largest N held, alternated
      with more recorded runs (``--overhead-pairs``), compared on received messages per
      CPU-second summed over the runs of each kind;
  (d) the Node driver's deliveries/s and deliveries per CPU-second, as ratios;
  (e) a user's receive throughput with and without recording, without network noise: a
      subprocess replays the same ``message`` packets through two ChatUsers (lean client
      packet handler, client algorithm, recorder), one recording and one not, alternating
      batches, and compares their CPU time (``--replay``).

The backend: an own redis-server and ``--nodes`` nodes of the Node peer server
(/tmp/node-peer/server.js; ``--backend python`` for ``python -m reference_backend``), all
on free loopback ports, killed at the end. Setup once:
``cp -r /work/shared/peers/node-socketio /tmp/node-peer && (cd /tmp/node-peer && npm ci)``.

    .venv/bin/python bench/load.py                       # about 15 minutes
    .venv/bin/python bench/load.py --steps 500,1000 --duration 15 --no-node   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the _load_* helpers beside this file
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, first
from _bench_procs import Procs
from _load_backend import NODE_PEER, SECRET, Backend
from _load_report import markdown, recording_overhead

from pigeon_lab.history.io import read_history
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.launcher import run_load

CLK = os.sysconf("SC_CLK_TCK")
SETTLE_S = 3.0


def cpu_s(pid: int) -> float:
    """utime + stime of a process, seconds (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def run_python(
    urls: list[str], n: int, args: argparse.Namespace, record: bool, out: Path
) -> dict[str, Any]:
    """One load process at ``n`` users; figures of the steady window and the hold verdict."""
    cfg = LoadConfig.build(
        urls=urls,
        jwt_secret=SECRET,
        workspaces=1,
        channels_per_workspace=max(1, n // args.room),
        users=n,
        channels_per_user=1,
        channel_skew=0.0,
        send_rate_per_user=args.rate,
        send_schedule="uniform",
        body_bytes=64,
        ramp_s=args.ramp,
        duration_s=args.duration,
        record=record,
        seed=1,
        out_dir=out,
        send_deadline_ms=10_000,
        connect_timeout_s=30,
    )
    samples: list[tuple[float, int, float, int]] = []  # (elapsed, recv, cpu_s, users)

    def on_progress(p: dict[str, Any]) -> None:
        samples.append(
            (float(p["elapsed_s"]), int(p["recv"]), cpu_s(int(p["pid"])), int(p["users"]))
        )

    s = run_load(cfg, on_progress)
    lo, hi = args.ramp + SETTLE_S, args.ramp + args.duration + 0.5
    win = [x for x in samples if lo <= x[0] <= hi]
    (t0, r0, c0, _), (t1, r1, c1, _) = win[0], win[-1]
    recv, cpu = r1 - r0, c1 - c0
    res: dict[str, Any] = {
        "who": "python",
        "users": n,
        "record": record,
        "window_s": round(t1 - t0, 1),
        "recv_per_s": round(recv / (t1 - t0), 1),
        "cpu_pct": round(100 * cpu / (t1 - t0), 1),
        "recv_per_cpu_s": round(recv / cpu, 1) if cpu else None,
        "peak_users": max(x[3] for x in samples),
        "sends": s.sends,
        "acks": s.acks,
        "send_fail": s.send_fail,
        "send_info": s.send_info,
        "recv": s.recv,
        "deliver": s.deliver,
        "rows": s.rows,
        "delivery_ms": getattr(s, "delivery_ms", {}),
        "ack_ms": getattr(s, "ack_ms", {}),
    }
    res.update(_verdict(res, s.history_path if record else None, n))
    return res


def _verdict(res: dict[str, Any], history: Path | None, n: int) -> dict[str, Any]:
    why: list[str] = []
    if history is not None:
        h = read_history(history)
        kind = h["kind"].astype(str)
        joined = h.loc[kind == "join_ok", "client"].nunique()
        if joined < n:
            why.append(f"joined {joined}/{n}")
        if (kind == "connect_error").any():
            why.append(f"{int((kind == 'connect_error').sum())} connect errors")
        lost = h[(kind == "disconnect") & (h["error"] != "client disconnect")]
        if len(lost):
            why.append(f"{len(lost)} disconnects")
        retries = int((h.loc[kind == "send_invoke", "attempt"] > 1).sum())
        if retries:
            why.append(f"{retries} send retries (ack timeouts)")
    elif res["peak_users"] < n:
        why.append(f"users {res['peak_users']}/{n}")
    if res["send_fail"] or res["send_info"] or res["acks"] < res["sends"]:
        why.append(
            f"acks {res['acks']}/{res['sends']}, fail {res['send_fail']}, info {res['send_info']}"
        )
    p99 = (res.get("delivery_ms") or {}).get("p99")
    if p99 is None or p99 >= 1000:
        why.append(f"delivery p99 {p99} ms")
    return {"holds": not why, "why": "; ".join(why)}


def run_node_driver(
    procs: Procs, urls: list[str], n: int, args: argparse.Namespace, out: Path
) -> dict[str, Any]:
    """The peer's driver on the same workload (same users, rooms, rate, body, duration)."""
    out_json = out / f"node-driver-{n}.json"
    argv = [
        "node",
        str(NODE_PEER / "driver.js"),
        "--urls",
        ",".join(urls),
        "--clients",
        str(n),
        "--workspaces",
        "1",
        "--channels",
        str(max(1, n // args.room)),
        "--join",
        "1",
        "--rate",
        str(n * args.rate),
        "--duration",
        str(args.duration),
        "--warmup",
        "2",
        "--drain",
        "3",
        "--body",
        "64",
        "--secret",
        SECRET,
        "--out",
        str(out_json),
    ]
    driver = procs.spawn(f"node-driver-{n}", argv, kind="driver", cwd=Path.cwd())
    timeout_s = args.duration + 300
    rc = driver.wait(timeout_s)
    procs.stop(driver, grace_s=1.0)
    if rc != 0:
        raise driver.failure("failed" if rc is not None else f"did not finish in {timeout_s} s")
    d = json.loads(out_json.read_text())
    cpu = sum(d["driver_cpu_s"])
    p99 = d["delivery_ms"]["p99"]
    ok = (
        d["clients_connected"] == n
        and d["errors"] == 0
        and d["acked"] == d["sends"]
        and p99 is not None
        and p99 < 1000
    )
    return {
        "who": "node-driver",
        "users": n,
        "recv_per_s": d["deliveries_per_s"],
        "recv_per_cpu_s": round(d["deliveries"] / cpu, 1) if cpu else None,
        "cpu_pct": round(100 * cpu / (args.duration + 3), 1),
        "sends": d["sends"],
        "acks": d["acked"],
        "errors": d["errors"],
        "delivery_ms": d["delivery_ms"],
        "delivery_ratio": d["delivery_ratio"],
        "holds": ok,
    }


def replay_worker(n: int, batches: int = 10, room: int = 20) -> dict[str, Any]:
    """(e) in this process (Locust imported): two rooms of ``room`` ChatUsers, one recording
    and one not, each user fed its own copy of the same ``n / room`` message packets."""
    import orjson
    from locust.env import Environment

    from pigeon_lab.history.recorder import Recorder
    from pigeon_lab.load.chat_users import user_classes
    from pigeon_lab.load.context import ContextSlot, LoadContext

    env = Environment(user_classes=[])
    users: dict[bool, list[Any]] = {}
    for record in (True, False):
        cfg = LoadConfig.build(
            urls=["http://127.0.0.1:9"],
            jwt_secret=SECRET,
            users=room,
            channels_per_workspace=1,
            channels_per_user=1,
            record=record,
        )
        (chat_user,) = user_classes(ContextSlot(LoadContext(cfg, Recorder(record))), cfg)
        users[record] = [chat_user(env) for _ in range(room)]
        for u in users[record]:
            u.algo.join(u.plan.channels[0], 0.0)
            (join,) = u.algo.on_connect(0.0)
            u.algo.on_ack(join.op, {"ok": True, "head_seq": 0, "messages": []}, 0.0)
    per = n // batches // room
    cpu = {True: 0.0, False: 0.0}
    for b in range(batches):
        packets = [
            b"42"
            + orjson.dumps(
                [
                    "message",
                    {
                        "channel": "ch0",
                        "seq": b * per + i + 1,
                        "id": f"m-{b}-{i}-0000-0000-000000000000",
                        "client_msg_id": f"c-{b}-{i}-0000-0000-000000000000",
                        "sender": "u7",
                        "body": f"{time.time_ns()}|" + "x" * 44,
                        "ts": int(time.time() * 1000),
                    },
                ]
            )
            for i in range(per)
        ]
        for record in (True, False) if b % 2 else (False, True):
            handles = [u.sio._on_packet for u in users[record]]
            t0 = time.process_time()
            for p in packets:
                for handle in handles:
                    handle(p, None)  # each user decodes its own copy of the message
            cpu[record] += time.process_time() - t0
    on, off = n / cpu[True], n / cpu[False]
    return {
        "who": "replay",
        "messages": n,
        "recv_per_cpu_s_on": round(on),
        "recv_per_cpu_s_off": round(off),
        "overhead_pct": round(100 * (1 - on / off), 1),
        "room": room,
        "rows": len(users[True][0].rec),
    }


def run_replay(n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--replay-worker", str(n)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", default="500,1000,2000,3000,4000", help="users per step")
    ap.add_argument("--rate", type=float, default=0.1, help="messages per user per second")
    ap.add_argument("--room", type=int, default=50, help="members per channel")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--ramp", type=float, default=15)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--backend", choices=("node", "python"), default="node")
    ap.add_argument("--no-node", action="store_true", help="skip the Node driver")
    ap.add_argument(
        "--overhead-pairs",
        type=int,
        default=2,
        help="record=False runs at the top N (alternated with recorded ones)",
    )
    ap.add_argument("--replay", type=int, default=200_000, help="messages for (e); 0: skip")
    ap.add_argument("--replay-worker", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--keep-going", action="store_true", help="step on after a failure")
    ap.add_argument("--out", type=Path, default=Path("bench/results/load.txt"))
    ap.add_argument("--md", type=Path, default=Path("bench/results/load.md"))
    args = ap.parse_args()
    if args.replay_worker:
        print(json.dumps(replay_worker(args.replay_worker)))
        return
    steps = [int(x) for x in args.steps.split(",")]
    head = (
        f"bench/load.py {time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()} "
        f"({os.cpu_count()} cpus, {platform.processor() or platform.machine()}), "
        f"load average before: {os.getloadavg()[0]:.2f}; backend: {args.nodes} x "
        f"{args.backend} + redis; command: {' '.join(sys.argv)}"
    )
    print(head, flush=True)
    results: list[dict[str, Any]] = []
    overhead: dict[str, Any] | None = None
    if args.replay:
        results.append(run_replay(args.replay))
        print(json.dumps(results[-1]), flush=True)
    with tempfile.TemporaryDirectory(prefix="pl-bench-load-") as tmp:
        backend = Backend(args.backend, args.nodes, Path(tmp))
        try:
            for n in steps:
                backend.flush()
                r = run_python(backend.urls, n, args, True, Path(tmp) / f"py-{n}")
                results.append(r)
                print(json.dumps(r), flush=True)
                if not args.no_node:
                    backend.flush()
                    driver = run_node_driver(backend.procs, backend.urls, n, args, Path(tmp))
                    results.append(driver)
                    print(json.dumps(results[-1]), flush=True)
                if not r["holds"] and not args.keep_going:
                    break
            held = [x for x in results if x["who"] == "python" and x["holds"]]
            top = held[-1] if held else results[0]
            runs = {True: [top], False: []}
            for i in range(args.overhead_pairs):
                for record in (False, True) if i < args.overhead_pairs - 1 else (False,):
                    backend.flush()
                    r = run_python(
                        backend.urls,
                        top["users"],
                        args,
                        record,
                        Path(tmp) / f"py-overhead-{i}-{record}",
                    )
                    r["overhead_run"] = True
                    runs[record].append(r)
                    results.append(r)
                    print(json.dumps(r), flush=True)
            overhead = recording_overhead(top["users"], runs)
        finally:
            backend.stop()
    text = (
        "\n".join(
            [
                f"# {head}",
                *(json.dumps(r) for r in results),
                f"recording overhead: {json.dumps(overhead)}",
                f"load average after: {os.getloadavg()[0]:.2f}",
            ]
        )
        + "\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(text + "\n")
    args.md.write_text(markdown(results, overhead, head, args))
    print(args.md.read_text())


if __name__ == "__main__":
    main()
