"""The backend of bench/load.py: its own redis-server plus N nodes (the Node peer server or
the reference backend) on free loopback ports, each in its own process group (started and
stopped by bench/_bench_procs.py on the cluster's ManagedProcess, as for bench/backend.py)."""

from __future__ import annotations

from pathlib import Path

from _bench_procs import Procs, flushall, url

SECRET = "bench-load-secret-0123456789abcdef0123"
NODE_PEER = Path("/tmp/node-peer")
PYTHON_NODE_ARGS = [
    "--conn-rate",
    "1000",
    "--ws-rate",
    "100000",
    "--ws-burst",
    "200000",
    "--log-level",
    "warning",
]


class Backend:
    """Our own redis-server plus N backend nodes; ``stop()`` ends every process group."""

    def __init__(self, kind: str, nodes: int, logdir: Path) -> None:
        self.procs = Procs(logdir)
        try:
            _, self.redis_port = self.procs.redis("redis")
            started = [
                self.procs.python_node(f"load-node-{i}", self.redis_port, SECRET, PYTHON_NODE_ARGS)
                if kind != "node"
                else self.procs.node_peer(f"node-{i}", NODE_PEER, self.redis_port, SECRET)
                for i in range(1, nodes + 1)
            ]
            self.procs.wait_ready(started, timeout_s=30.0)
        except BaseException:
            self.procs.stop_all()
            raise
        self.urls = [url(p) for p in started]

    def flush(self) -> None:
        flushall(self.redis_port)

    def stop(self) -> None:
        self.procs.stop_all()
