"""Cluster: start the bundled cluster, control its processes by name, always tear it down.

Start order: Redis primary, replicas (ready when synced), Sentinels, backend
nodes, HAProxy (ready when every node is UP in it); the Sentinel mesh (each
knows the replicas and the other Sentinels) is awaited while the nodes boot.
Teardown runs on leaving the `with` block for any reason, on SIGTERM (turned
into SystemExit while the context is active, when the process had no handler
of its own), and at interpreter exit; if the supervisor is SIGKILLed its
children die by PR_SET_PDEATHSIG.

Redis security (redis_secrets.py, redis_acl.py): with `spec.redis_acl` one ACL user and
password per role, configs with passwords outside the run folder, the nodes' password in
their environment, the supervisor's probes and failover as the admin user.
"""

from __future__ import annotations

import atexit
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from pigeon_lab.cluster import health
from pigeon_lab.cluster import redis as rds
from pigeon_lab.cluster.haproxy import haproxy_process
from pigeon_lab.cluster.info import ClusterInfo, ProcessInfo
from pigeon_lab.cluster.link_faults import LinkFaults
from pigeon_lab.cluster.links import LinkWiring
from pigeon_lab.cluster.nodes import node_process
from pigeon_lab.cluster.ports import HOST, free_ports
from pigeon_lab.cluster.process import ManagedProcess, stop_all
from pigeon_lab.cluster.redis_acl import Login, RedisCredentials
from pigeon_lab.cluster.redis_secrets import RedisSecrets
from pigeon_lab.cluster.signals import sigterm_as_exit
from pigeon_lab.cluster.spec import ClusterSpec
from pigeon_lab.cluster.status import ProcessStatus, statuses
from pigeon_lab.errors import ClusterError, ProcessNotFound


class Cluster:
    """A running cluster (use `Cluster.start(spec)`); every method names processes as in docs."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.run_dir = spec.run_dir
        self.jwt_secret = spec.jwt_secret or secrets.token_urlsafe(32)
        self.secrets = RedisSecrets.make(spec)
        self.processes: dict[str, ManagedProcess] = {}
        self.primary_name = "redis-primary"
        self.stats_url: str | None = None
        self._sentinel_ports: list[int] = []
        self.net = LinkWiring(spec)  # the fault proxy's links (inactive: nothing proxied)
        self.links: LinkFaults | None = None  # what link faults drive, once wired
        self.client_urls: dict[str, list[str]] = {}
        self._stopped = False
        self._lock = threading.RLock()

    # ----- lifecycle -----
    @classmethod
    @contextmanager
    def start(cls, spec: ClusterSpec) -> Iterator[Cluster]:
        """Start every process, yield the running cluster, tear everything down afterwards."""
        cluster = cls(spec)
        with sigterm_as_exit():
            try:
                cluster.up()
                yield cluster
            finally:
                cluster.down()

    def up(self) -> None:
        """Start everything and wait for readiness; on any failure stop what started and raise."""
        atexit.register(self.down)
        try:
            self._up()
        except BaseException:
            self.down()
            raise

    def _up(self) -> None:
        spec = self.spec
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + spec.ready_timeout_s
        n_ports = 1 + spec.replicas + spec.sentinels + spec.nodes + (2 if spec.load_balancer else 0)
        ports = iter(free_ports(n_ports))
        if self.net.active:  # the fault proxy first: every proxy exists before its client
            proxy = self.net.process(self.run_dir)
            self._launch([proxy] if proxy else [], deadline)
            self.net.connect()

        primary_port = next(ports)
        self._launch([self._redis_server("redis-primary", primary_port, None)], deadline)
        replicas = [
            self._redis_server(
                f"redis-replica-{i}", next(ports), self.net.advertised("redis-primary")
            )
            for i in range(1, spec.replicas + 1)
        ]
        self._launch(replicas, deadline)

        sentinels = []
        quorum = min(2, spec.sentinels) if spec.sentinels < 3 else spec.sentinels // 2 + 1
        for i in range(1, spec.sentinels + 1):
            port, name = next(ports), f"sentinel-{i}"
            conf = rds.sentinel_config(
                port,
                self.run_dir / "redis" / name,
                master_name=spec.master_name,
                primary_port=self.net.advertised("redis-primary"),
                quorum=max(1, quorum),
                down_after_ms=spec.down_after_ms,
                failover_timeout_ms=spec.failover_timeout_ms,
                acl=self.credentials,
            ) + _lines(self.net.server(name, port))
            files = self.secrets.process_files()
            sentinels.append(
                rds.redis_process(
                    name, "sentinel", conf, port, self.run_dir, sentinel=True, **files
                )
            )
            self._sentinel_ports.append(port)
        self._launch(sentinels, deadline)

        nodes = [self._node_process(f"node-{i}", next(ports)) for i in range(1, spec.nodes + 1)]
        for proc in nodes:
            self._add(proc).start()
        if self._sentinel_ports:
            self._wait_sentinel_mesh(deadline)
        for proc in nodes:
            proc.wait_ready(deadline)

        if spec.load_balancer:
            lb_port, stats_port = next(ports), next(ports)
            self.stats_url = f"http://{HOST}:{stats_port}/stats"
            lb = haproxy_process(
                self.run_dir,
                lb_port,
                stats_port,
                {p.name: self.net.lb_port(p.name, p.port or 0) for p in nodes},
                self._live_nodes,
                sticky=spec.lb_sticky,
            )
            self._launch([lb], deadline)
        entries = (
            {"haproxy": lb_port} if spec.load_balancer else {p.name: p.port or 0 for p in nodes}
        )
        self.client_urls = self.net.client_urls(entries)
        if self.net.active:
            self.links = self.net.faults()

    def down(self) -> None:
        """Stop every process (idempotent). Safe to call from atexit and after failures."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.down)
        order = sorted(self.processes.values(), key=lambda p: _STOP_ORDER.get(p.kind, 9))
        for problem in stop_all(order, grace_s=1.0):
            print(f"pigeon-lab: teardown: {problem}", file=sys.stderr)
        self.secrets.cleanup()

    # ----- Redis security (redis_secrets.py): kept apart from the process wiring above -----
    @property
    def credentials(self) -> RedisCredentials | None:
        return self.secrets.credentials

    @property
    def private_dir(self) -> Path | None:
        """Where the configs with passwords are (outside the run folder; None without ACL)."""
        return self.secrets.private_dir

    @property
    def admin_login(self) -> Login | None:
        """How the supervisor (and tests) log in to Redis and the Sentinels."""
        return self.secrets.admin_login

    def _launch(self, procs: list[ManagedProcess], deadline: float) -> None:
        for proc in procs:
            self._add(proc).start()
        for proc in procs:
            proc.wait_ready(deadline)

    def _add(self, proc: ManagedProcess) -> ManagedProcess:
        self.processes[proc.name] = proc
        return proc

    def _redis_server(self, name: str, port: int, replica_of: int | None) -> ManagedProcess:
        """The primary (replica_of None) or a replica, with the cluster's Redis secrets."""
        options = self.secrets.server_options(self.spec)
        conf = rds.server_config(port, self.run_dir / "redis" / name, replica_of=replica_of,
                                 **options) + _lines(self.net.server(name, port))  # fmt: skip
        kind = "redis-primary" if replica_of is None else "redis-replica"
        files = self.secrets.process_files()
        replica = replica_of is not None
        return rds.redis_process(name, kind, conf, port, self.run_dir, replica=replica, **files)

    def _node_process(self, name: str, port: int) -> ManagedProcess:
        spec = self.spec
        if self.net.active:  # the node dials its own proxies (--redis-address-map)
            spec = replace(spec, backend_args=(*spec.backend_args, *self.net.node_args(name)))
        return node_process(
            name,
            port,
            spec,
            redis_url=self.redis_url,
            jwt_secret=self.jwt_secret,
            secret_env=self.secrets.node_env(),
        )

    def _wait_sentinel_mesh(self, deadline: float) -> None:
        while not rds.sentinel_mesh_ready(
            self._sentinel_ports, self.spec.master_name, self.spec.replicas, self.admin_login
        ):
            for name in self._names("sentinel"):
                if self.processes[name].returncode is not None:
                    raise self.processes[name].failure("exited")
            if time.monotonic() >= deadline:
                raise ClusterError(
                    "sentinels did not discover each other and the replicas in time; logs: "
                    + ", ".join(str(self.processes[n].log_path) for n in self._names("sentinel"))
                )
            time.sleep(0.1)

    # ----- addresses -----
    @property
    def redis_url(self) -> str:
        """What the nodes use: Sentinel when there are Sentinels, else the primary directly."""
        if self._sentinel_ports:
            hosts = ",".join(f"{HOST}:{self.net.advertised(n)}" for n in self._names("sentinel"))
            return f"redis+sentinel://{hosts}/0/{self.spec.master_name}"
        return f"redis://{HOST}:{self.net.advertised('redis-primary')}/0"

    def node_url(self, name: str) -> str:
        proc = self._get(name)
        if proc.kind != "node":
            raise ProcessNotFound(f"{name} is not a backend node")
        return f"http://{HOST}:{proc.port}"

    @property
    def lb_url(self) -> str:
        if "haproxy" in self.processes:
            return f"http://{HOST}:{self.processes['haproxy'].port}"
        nodes = self._names("node")
        return self.node_url(nodes[0]) if nodes else ""

    @property
    def info(self) -> ClusterInfo:
        """A fresh snapshot (pids change on restart, roles on failover)."""
        redis_names = [self.primary_name] + [
            n for n in self._names("redis-primary", "redis-replica") if n != self.primary_name
        ]
        addr = [f"{HOST}:{self.processes[n].port}" for n in redis_names if n in self.processes]
        return ClusterInfo(
            lb_url=self.lb_url,
            node_urls={n: self.node_url(n) for n in self._names("node")},
            redis_url=self.redis_url if "redis-primary" in self.processes else "",
            redis_primary=addr[0] if addr else "",
            redis_replicas=addr[1:],
            sentinels=[f"{HOST}:{p}" for p in self._sentinel_ports],
            master_name=self.spec.master_name,
            jwt_secret=self.jwt_secret,
            run_dir=str(self.run_dir),
            durability=self.spec.durability,
            haproxy_stats_url=self.stats_url,
            supervisor_pid=os.getpid(),
            redis_credentials=self.credentials,
            processes=[
                ProcessInfo(p.name, p.kind, p.pid, p.port, str(p.log_path))
                for p in self.processes.values()
            ],
            client_urls=self.client_urls,
            fault_proxy_url=self.net.url if self.net.active else None,
            links=dict(self.links.link_proxy) if self.links else {},
        )

    # ----- process control -----
    @property
    def names(self) -> list[str]:
        return list(self.processes)

    def process(self, name: str) -> ManagedProcess:
        """The supervised process called `name` (ProcessNotFound otherwise)."""
        return self._get(name)

    def kill(self, name: str) -> None:
        """SIGKILL `name` and reap it; it stays dead until `restart`."""
        self._get(name).kill()

    def pause(self, name: str) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing."""
        self._get(name).pause()

    def resume(self, name: str) -> None:
        """SIGCONT a paused process."""
        self._get(name).resume()

    def restart(self, name: str, *, graceful: bool = False) -> None:
        """Stop `name` if running (SIGKILL; SIGTERM when graceful), start it on the same port."""
        proc = self._get(name)
        if proc.state() in ("alive", "paused"):
            if graceful:
                proc.terminate(grace_s=30.0)
            else:
                proc.kill()
        proc.start()
        proc.wait_ready(time.monotonic() + self.spec.ready_timeout_s)

    def drain(self, name: str, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait for the exit (a node drains its clients first); returns the code."""
        return self._get(name).terminate(grace_s=timeout_s)

    def heal(self) -> None:
        """Resume paused and restart dead processes, in start order; await readiness and the LB."""
        procs = sorted(self.processes.values(), key=lambda p: -_STOP_ORDER.get(p.kind, 9))
        deadline = time.monotonic() + self.spec.ready_timeout_s
        for proc in procs:
            if proc.state() == "paused":
                proc.resume()
            elif proc.state() in ("dead", "not-started"):
                proc.start()
                proc.wait_ready(deadline)
        for proc in procs:
            proc.wait_ready(deadline)
        for name in self._names("node") if self.stats_url else []:
            self.wait_lb_state(name, "UP", max(0.1, deadline - time.monotonic()))

    def failover(self, timeout_s: float = 30.0) -> str:
        """SENTINEL FAILOVER and wait for a new primary; returns its process name."""
        new_addr = rds.failover(
            self._sentinel_ports, self.spec.master_name, timeout_s, self.admin_login
        )
        for name in self._names("redis-primary", "redis-replica"):
            if f"{HOST}:{self.net.advertised(name)}" == new_addr:
                self.primary_name = name
                return name
        raise ClusterError(f"sentinels promoted {new_addr}, which is not a process of this cluster")

    def status(self) -> list[ProcessStatus]:
        """State (alive/paused/dead) and health of every process."""
        procs = self.processes.values()
        return statuses(
            self.info, {p.name: p.state() for p in procs}, {p.name: p.returncode for p in procs}
        )

    def lb_states(self) -> dict[str, str]:
        """HAProxy's view of each node ('UP', 'DOWN', ...); {} without a load balancer."""
        return health.haproxy_server_states(self.stats_url) if self.stats_url else {}

    def wait_lb_state(self, name: str, state: str, timeout_s: float = 10.0) -> None:
        """Block until HAProxy reports node `name` as `state` ('UP' or 'DOWN')."""
        self._get(name)
        deadline = time.monotonic() + timeout_s
        while self.lb_states().get(name) != state:
            if time.monotonic() >= deadline:
                raise ClusterError(f"haproxy did not report {name} {state} within {timeout_s}s")
            time.sleep(0.1)

    def _get(self, name: str) -> ManagedProcess:
        try:
            return self.processes[name]
        except KeyError:
            known = ", ".join(self.processes) or "none"
            raise ProcessNotFound(
                f"no process named {name!r} (this cluster has: {known})"
            ) from None

    def _names(self, *kinds: str) -> list[str]:
        return [n for n, p in self.processes.items() if p.kind in kinds]

    def _live_nodes(self) -> list[str]:
        return [n for n in self._names("node") if self.processes[n].state() == "alive"]


_STOP_ORDER = {
    "haproxy": 0,
    "node": 1,
    "sentinel": 2,
    "redis-replica": 3,
    "redis-primary": 4,
    "fault-proxy": 5,
}


def _lines(lines: list[str]) -> str:
    """Extra config lines (the fault proxy's addressing) to append to a generated config."""
    return "".join(f"{line}\n" for line in lines)


__all__ = ["Cluster"]
