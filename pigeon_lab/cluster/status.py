"""ProcessStatus and the probes behind `status()`, usable from any process given a ClusterInfo."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from pigeon_lab.cluster import health
from pigeon_lab.cluster.info import ClusterInfo, ProcessInfo
from pigeon_lab.cluster.procfs import pid_state


@dataclass(frozen=True)
class ProcessStatus:
    """What one process is doing now. state: alive | paused | dead | not-started."""

    name: str
    kind: str
    pid: int | None
    port: int | None
    state: str
    health: str
    exit_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_health(proc: ProcessInfo, info: ClusterInfo, state: str) -> str:
    """A one-word-ish health for a process: readiness, Redis role, HAProxy view."""
    if state != "alive" or proc.port is None:
        return "-"
    if proc.kind == "node":
        ready = health.http_ready(
            info.node_urls.get(proc.name, f"http://{health.HOST}:{proc.port}")
        )
        return "ready" if ready else "unready"
    if proc.kind in ("redis-primary", "redis-replica"):
        return health.redis_health(proc.port, login=info.admin_login)
    if proc.kind == "sentinel":
        return health.sentinel_health(proc.port, info.master_name, login=info.admin_login)
    if proc.kind == "haproxy" and info.haproxy_stats_url:
        states = health.haproxy_server_states(info.haproxy_stats_url)
        if not states:
            return "unreachable"
        return " ".join(f"{name}={st}" for name, st in sorted(states.items()))
    return "-"


def statuses(
    info: ClusterInfo, states: dict[str, str], exit_codes: dict[str, int | None]
) -> list[ProcessStatus]:
    """Probe every process of `info` in parallel (each probe times out in ~0.5 s)."""

    def one(proc: ProcessInfo) -> ProcessStatus:
        state = states.get(proc.name, "dead")
        return ProcessStatus(
            proc.name,
            proc.kind,
            proc.pid,
            proc.port,
            state,
            probe_health(proc, info, state),
            exit_codes.get(proc.name),
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, info.processes))


def statuses_from_info(info: ClusterInfo) -> list[ProcessStatus]:
    """Status of a cluster run by another process (pids from its state file)."""
    return statuses(info, {p.name: pid_state(p.pid) for p in info.processes}, {})
