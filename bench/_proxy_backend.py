"""bench/proxy.py's last part: the reference backend with every link through the fault
proxy, against the same cluster with none, in one run.

Each round starts the bundled cluster (2 nodes behind HAProxy, 1 replica, 3 Sentinels)
twice, unproxied and then with `proxied_links` = every link of the topology (clients ->
HAProxy -> nodes -> Redis and Sentinels, Redis's own links), and drives the
same load through it; the figure is deliveries per second over the load's steady window
(after the ramp), and its ratio proxied / unproxied per round.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from pigeon_lab.cluster import Cluster, ClusterSpec
from pigeon_lab.faults.netgraph import NetGraph
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.launcher import run_load

GRAPH = NetGraph(2, 1, 3, True)


def one_point(proxied: bool, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    spec = ClusterSpec(
        run_dir=out / "cluster",
        nodes=2,
        replicas=1,
        sentinels=3,
        proxied_links=tuple(GRAPH.names) if proxied else (),
    )
    with Cluster.start(spec) as cluster:
        (url,) = cluster.info.client_urls["clients"]
        cfg = LoadConfig.build(
            urls=[url],
            jwt_secret=cluster.jwt_secret,
            workspaces=1,
            channels_per_workspace=max(1, args.backend_users // 20),
            users=args.backend_users,
            channels_per_user=1,
            send_rate_per_user=args.backend_rate,
            send_schedule="uniform",
            body_bytes=64,
            ramp_s=3,
            duration_s=args.backend_s,
            seed=1,
            out_dir=out,
            send_deadline_ms=10_000,
            connect_timeout_s=30,
        )
        samples: list[tuple[float, int]] = []
        summary = run_load(cfg, lambda p: samples.append((float(p["elapsed_s"]), int(p["recv"]))))
    window = [s for s in samples if s[0] >= 3 + 2]
    (t0, r0), (t1, r1) = window[0], window[-1]
    delivery = summary.model_dump().get("delivery_ms") or {}
    return {
        "proxies": len(cluster.info.links),
        "deliveries_per_s": (r1 - r0) / (t1 - t0),
        "delivery_p99_ms": delivery.get("p99"),
        "acks": summary.acks,
        "sends": summary.sends,
    }


def backend_ratio(args: argparse.Namespace, note: Any) -> list[str]:
    """The markdown lines of the backend comparison."""
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for i in range(args.backend_rounds):
        with tempfile.TemporaryDirectory(prefix="bench-proxy-backend-") as tmp:
            plain = one_point(False, args, Path(tmp) / "plain")
            through = one_point(True, args, Path(tmp) / "proxied")
        rounds.append((plain, through))
        note(
            f"backend round {i + 1}: unproxied {plain['deliveries_per_s']:.0f}/s, "
            f"every link proxied {through['deliveries_per_s']:.0f}/s"
        )
    ratios = [t["deliveries_per_s"] / p["deliveries_per_s"] for p, t in rounds]
    offered = args.backend_users * args.backend_rate * 20  # 20 members a channel
    lines = [
        "",
        "## The reference backend with every link proxied",
        "",
        f"2 nodes behind HAProxy, 1 replica, 3 Sentinels; {args.backend_users} users, rooms "
        f"of 20, {args.backend_rate:g} sends/s each (about {offered:,.0f} deliveries/s "
        f"offered), {args.backend_s:g} s a point, rounds alternating unproxied and proxied "
        f"(every link of the topology: {rounds[0][1]['proxies']} proxies); deliveries/s over "
        "the steady window.",
        "",
        "| round | unproxied deliveries/s | p99 ms | every link proxied deliveries/s | p99 ms "
        "| ratio |",
        "|---|---|---|---|---|---|",
    ]
    for i, ((p, t), r) in enumerate(zip(rounds, ratios, strict=True), start=1):
        lines.append(
            f"| {i} | {p['deliveries_per_s']:,.0f} | {p['delivery_p99_ms']} | "
            f"{t['deliveries_per_s']:,.0f} | {t['delivery_p99_ms']} | {r:.2f}x |"
        )
    lines += ["", f"Proxied / unproxied: median {statistics.median(ratios):.2f}x."]
    return lines


__all__ = ["backend_ratio"]
