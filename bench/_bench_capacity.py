"""The idle-connection capacity runs of bench/backend.py (like the peer's cap.sh).

For each N and repeat, one fresh node of each backend gets N idle websocket clients; the
driver reads the node's RSS when it starts, once everyone joined and at the end of the hold.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from _bench_procs import flushall, pid, proc_rss_kb, url
from _bench_report import Cap

if TYPE_CHECKING:
    from _bench_sweep import Bench


def run_capacity(bench: Bench) -> None:
    """N idle websocket clients on one fresh node per run; RSS before/after (like cap.sh)."""
    a = bench.a
    print(f"\n== idle capacity: N = {a.cap}, hold {a.hold:.0f} s", flush=True)
    redis = {b: bench.procs.redis(f"cap-{b}-redis") for b in a.backends}
    for n in a.cap:
        for rep in range(1, a.repeats + 1):
            for b in a.backends:
                _, rport = redis[b]
                flushall(rport)
                node = bench.node(b, f"cap-{b}-node-1", rport)
                bench.procs.wait_ready([node])
                time.sleep(1.0)
                s = bench.driver(
                    f"cap-{b}-c{n}-{rep}",
                    [url(node)],
                    0,
                    a.hold,
                    {"node1": pid(node)},
                    clients=n,
                    join=1,
                    warmup=5,
                    drain=0,
                )
                rss_now = proc_rss_kb(pid(node))
                if node.returncode is not None:
                    bench.notes.append(f"capacity {b} N={n}: the node exited")
                    bench.problems = True
                bench.procs.stop(node)
                if not s:
                    continue
                c = Cap(b, n, rep, s)
                bench.caps.append(c)
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
        bench.procs.stop(rproc)
