"""ClusterInfo: how to reach a running cluster (what `cluster up --json` prints)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pigeon_lab.cluster.redis_acl import Login, RedisCredentials


@dataclass
class ProcessInfo:
    """One supervised process as recorded for other tools (status, down, reports)."""

    name: str
    kind: str  # redis-primary | redis-replica | sentinel | node | haproxy
    pid: int | None
    port: int | None
    log: str


@dataclass
class ClusterInfo:
    """Addresses, secrets and processes of a running cluster.

    `redis_primary`/`redis_replicas` name the roles as of the last
    start/failover (process names keep their launch role). `lb_url` is the
    HAProxy URL, or node-1's URL without a load balancer. `redis_credentials`:
    the Redis ACL users (None without ACL); a secret, like `jwt_secret`.
    """

    lb_url: str
    node_urls: dict[str, str]
    redis_url: str
    redis_primary: str
    redis_replicas: list[str]
    sentinels: list[str]
    master_name: str
    jwt_secret: str
    run_dir: str
    durability: str = "fast"
    haproxy_stats_url: str | None = None
    supervisor_pid: int | None = None
    processes: list[ProcessInfo] = field(default_factory=list)
    redis_credentials: RedisCredentials | None = None
    client_urls: dict[str, list[str]] = field(default_factory=dict)
    """Each client group's entry URLs (through its proxies when its links are proxied)."""
    fault_proxy_url: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    """Proxied link -> the fault proxy's proxy that carries it."""

    def to_dict(self, *, include_secret: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not include_secret:
            data["jwt_secret"] = None
            data["redis_credentials"] = None
        return data

    def to_json(self, *, include_secret: bool = True, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(include_secret=include_secret), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterInfo:
        values = dict(data)
        values["processes"] = [ProcessInfo(**p) for p in values.get("processes", [])]
        creds = values.get("redis_credentials")
        values["redis_credentials"] = RedisCredentials.from_dict(creds) if creds else None
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ClusterInfo:
        return cls.from_dict(json.loads(text))

    @property
    def admin_login(self) -> Login | None:
        """The Redis admin login (health probes, failover), or None without ACL."""
        return self.redis_credentials.admin if self.redis_credentials else None

    def process(self, name: str) -> ProcessInfo | None:
        return next((p for p in self.processes if p.name == name), None)
