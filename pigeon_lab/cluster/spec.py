"""ClusterSpec: what to start. Plain data so it can cross a process boundary (--detach)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pigeon_lab.errors import ConfigError

Durability = Literal["fast", "replicated"]
DURABILITIES = ("fast", "replicated")


@dataclass(frozen=True)
class BackendOptions:
    """Settings of every reference backend node; None keeps the backend's own default.

    ``to_args`` spells them as the backend's command-line flags (docs/interfaces.md), so
    that only the cluster package knows those flags.
    """

    retention: int | None = None
    dedupe_ttl_s: int | None = None
    max_body: int | None = None
    ping_interval_s: float | None = None
    ping_timeout_s: float | None = None
    cutoff_disconnect_s: float | None = None

    def to_args(self) -> tuple[str, ...]:
        flags = (
            ("--retention", self.retention),
            ("--dedupe-ttl-s", self.dedupe_ttl_s),
            ("--max-body", self.max_body),
            ("--ping-interval", self.ping_interval_s),
            ("--ping-timeout", self.ping_timeout_s),
            ("--cutoff-disconnect-s", self.cutoff_disconnect_s),
        )
        out: list[str] = []
        for flag, value in flags:
            if value is not None:
                out += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        return tuple(out)


@dataclass(frozen=True)
class ClusterSpec:
    """The topology of one bundled cluster.

    `backend` holds the nodes' settings (`BackendOptions`); `backend_args` are appended
    to every backend node's command line after them (e.g. `("--ping-interval", "2")`);
    `flaws` become one `--flaw` each.
    `redis_aof`: Redis keeps an append-only file (fsync every second), so a
    restarted primary comes back with its data instead of empty.
    `redis_acl`: ACL users per role with passwords generated per cluster (redis_acl.py);
    `redis_maxmemory_mb`: Redis's memory bound, `noeviction` (None: unbounded).
    `proxied_links`: links (`A->B`, `pigeon_lab.faults.netgraph`) that go through the
    fault proxy (`fault_proxy`: `embedded`, `toxiproxy-server` from PATH, or a server's
    URL; `proxy_seed` seeds its draws); `client_groups`: the `clients-<name>` groups of
    users, each with its own client links (`cluster/links.py`).
    `lb_sticky=False`: HAProxy without any stickiness, round robin (a misconfigured load
    balancer, for `pigeon-lab probe` and `review --prove`).
    """

    run_dir: Path
    nodes: int = 3
    replicas: int = 1
    sentinels: int = 3
    durability: Durability = "fast"
    load_balancer: bool = True
    jwt_secret: str | None = None
    backend: BackendOptions = field(default_factory=BackendOptions)
    backend_args: tuple[str, ...] = ()
    flaws: tuple[str, ...] = ()
    ready_timeout_s: float = 30.0
    master_name: str = "pigeon"
    redis_aof: bool = True
    redis_acl: bool = True
    redis_maxmemory_mb: int | None = 512
    down_after_ms: int = 2000
    failover_timeout_ms: int = 6000
    extra_env: dict[str, str] = field(default_factory=dict)
    proxied_links: tuple[str, ...] = ()
    client_groups: tuple[str, ...] = ()
    fault_proxy: str = "embedded"
    proxy_seed: int | None = None
    lb_sticky: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "proxied_links", tuple(self.proxied_links))
        object.__setattr__(self, "client_groups", tuple(self.client_groups))
        object.__setattr__(self, "run_dir", Path(self.run_dir).expanduser().resolve())
        object.__setattr__(self, "backend_args", tuple(self.backend_args))
        object.__setattr__(self, "flaws", tuple(self.flaws))
        for name in ("nodes", "replicas", "sentinels"):
            if getattr(self, name) < 0:
                raise ConfigError("must be >= 0", source="cluster spec", field=name)
        if self.load_balancer and self.nodes < 1:
            raise ConfigError(
                "a load balancer needs at least one node", source="cluster spec", field="nodes"
            )
        if self.durability not in DURABILITIES:
            raise ConfigError(
                f"{self.durability!r} is not one of {', '.join(DURABILITIES)}",
                source="cluster spec",
                field="durability",
            )
        if self.ready_timeout_s <= 0:
            raise ConfigError("must be > 0", source="cluster spec", field="ready_timeout_s")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["backend_args"] = list(self.backend_args)
        data["flaws"] = list(self.flaws)
        data["proxied_links"] = list(self.proxied_links)
        data["client_groups"] = list(self.client_groups)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterSpec:
        values = dict(data)
        values["run_dir"] = Path(values["run_dir"])
        values["backend_args"] = tuple(values.get("backend_args", ()))
        values["flaws"] = tuple(values.get("flaws", ()))
        for key in ("proxied_links", "client_groups"):
            values[key] = tuple(values.get(key, ()))
        values["backend"] = BackendOptions(**(values.get("backend") or {}))
        return cls(**values)
