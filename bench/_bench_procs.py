"""Process helpers for the benchmarks: Redis, backend nodes, the Node peer and HAProxy on loopback.

Every process is a `pigeon_lab.cluster.process.ManagedProcess`, as in the cluster: its own
process group, PR_SET_PDEATHSIG (it dies with the benchmark even when that is SIGKILLed),
log `<workdir>/logs/<name>.log`. Redis and HAProxy get the cluster's configs
(`pigeon_lab.cluster.redis`, `pigeon_lab.cluster.haproxy`), python nodes the cluster's command
line (`pigeon_lab.cluster.nodes.backend_node`). `Procs.stop_all` ends every one of them on
exit, error or Ctrl-C.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pigeon_lab.cluster import health
from pigeon_lab.cluster import redis as cluster_redis
from pigeon_lab.cluster.haproxy import haproxy_process
from pigeon_lab.cluster.nodes import backend_node
from pigeon_lab.cluster.ports import free_port, free_ports
from pigeon_lab.cluster.process import ManagedProcess, ReadyCheck, stop_all

REPO = Path(__file__).resolve().parent.parent
HOST = health.HOST


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process in seconds, from /proc (None if it is gone)."""
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = st[st.rindex(")") + 2 :].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kb(pid: int) -> int | None:
    """VmRSS of a process in KiB (None if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def url(proc: ManagedProcess) -> str:
    """The HTTP URL of a node or HAProxy process."""
    return f"http://{HOST}:{proc.port}"


def pid(proc: ManagedProcess) -> int:
    """The pid of a started process."""
    assert proc.pid is not None, f"{proc.name} was never started"
    return proc.pid


@dataclass
class Procs:
    """Every process this benchmark started; `stop_all` ends them by process group."""

    workdir: Path
    live: list[ManagedProcess] = field(default_factory=list)

    def start(self, proc: ManagedProcess) -> ManagedProcess:
        """Start `proc` (it is stopped by `stop_all` from now on); does not wait for readiness."""
        self.live.append(proc)
        proc.start()
        return proc

    def spawn(
        self,
        name: str,
        argv: list[str],
        *,
        kind: str = "tool",
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        port: int | None = None,
        ready_check: ReadyCheck | None = None,
    ) -> ManagedProcess:
        """Start argv (cwd: the repository) with `env` added to this environment."""
        return self.start(
            ManagedProcess(
                name,
                kind,
                argv,
                log_path=self.workdir / "logs" / f"{name}.log",
                cwd=cwd or REPO,
                port=port,
                env={**os.environ, **(env or {})},
                ready_check=ready_check,
            )
        )

    def stop(self, p: ManagedProcess, grace_s: float = 3.0) -> None:
        """SIGTERM the process group, SIGKILL it after grace_s (also any child left in it)."""
        p.terminate(grace_s)
        p.kill_group()
        p.close()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self) -> None:
        """Stop everything still running (SIGTERM to all, SIGKILL after 1 s), newest first."""
        procs = list(reversed(self.live))
        for problem in stop_all(procs, grace_s=1.0):
            print(f"bench: teardown: {problem}", flush=True)
        for p in procs:
            p.kill_group()
        self.live.clear()

    # ---------------------------------------------------------------- services
    def redis(self, name: str) -> tuple[ManagedProcess, int]:
        """redis-server on a free loopback port, no persistence (the cluster's redis.conf)."""
        port = free_port()
        conf = cluster_redis.server_config(
            port, self.workdir / "redis" / name, replica_of=None, aof=False
        )
        p = self.start(cluster_redis.redis_process(name, "redis", conf, port, self.workdir))
        self.wait_ready([p], timeout_s=10.0)
        return p, port

    def python_node(
        self, name: str, redis_port: int, secret: str, extra: Sequence[str]
    ) -> ManagedProcess:
        """One reference_backend node; its --node-name is `name` without its first part."""
        return self.start(
            backend_node(
                name,
                free_port(),
                run_dir=self.workdir,
                redis_url=f"redis://{HOST}:{redis_port}/0",
                jwt_secret=secret,
                args=list(extra),
                node_name=name.split("-", 1)[-1],
            )
        )

    def node_peer(self, name: str, peer_dir: Path, redis_port: int, secret: str) -> ManagedProcess:
        """One Node.js peer server (node server.js with PORT/REDIS_URL/JWT_SECRET)."""
        port = free_port()
        base = f"http://{HOST}:{port}"
        env = {
            "PORT": str(port),
            "REDIS_URL": f"redis://{HOST}:{redis_port}",
            "JWT_SECRET": secret,
            "DRAIN_MS": "500",
        }
        return self.spawn(
            name,
            ["node", str(peer_dir / "server.js")],
            kind="node",
            env=env,
            cwd=peer_dir,
            port=port,
            ready_check=lambda: health.http_ready(base),
        )

    def haproxy(self, name: str, backends: Sequence[ManagedProcess]) -> ManagedProcess:
        """The cluster's HAProxy (GET /readyz checks, tunnel 1h) with roundrobin over backends.

        Ready once every backend is UP on its stats page.
        """
        port, stats_port = free_ports(2)
        servers = {f"n{i + 1}": b.port or 0 for i, b in enumerate(backends)}
        lb = haproxy_process(
            self.workdir,
            port,
            stats_port,
            servers,
            lambda: list(servers),
            name=name,
            balance="roundrobin",
        )
        return self.start(lb)

    def wait_ready(self, procs: Sequence[ManagedProcess], timeout_s: float = 60.0) -> None:
        """Wait until each process passes its ready check (ClusterError with its log tail)."""
        deadline = time.monotonic() + timeout_s
        for p in procs:
            p.wait_ready(deadline)


def flushall(redis_port: int) -> None:
    """FLUSHALL on the benchmark's Redis."""
    client = health.redis_client(redis_port, timeout_s=5.0)
    try:
        client.flushall()
    finally:
        client.close()


def wait_idle(pids: list[int], max_pct: float = 8.0, timeout_s: float = 30.0) -> float:
    """Wait until pids together use < max_pct of a core over 0.5 s; returns seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        a = sum(c or 0.0 for c in map(proc_cpu_s, pids))
        time.sleep(0.5)
        b = sum(c or 0.0 for c in map(proc_cpu_s, pids))
        if 100 * (b - a) / 0.5 < max_pct:
            break
    return time.monotonic() - t0
