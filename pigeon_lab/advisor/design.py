"""The design file: an architecture as the review reads it (YAML).

Every section and field is optional: what a design does not say, the rules that need it
judge ``unknown`` ("the design does not say"), never ``pass``. Unknown fields are
refused, and every error names the file, the field (``load_balancer.stickiness[1]``)
and the reason, with its line, as the scenario loader does. ``designs/reference.yaml``
is the reference architecture (the bundled cluster), which passes every rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from pigeon_lab.config_model import Frozen
from pigeon_lab.errors import ConfigError
from pigeon_lab.scenario._errors import translate, yaml_error

DESIGNS_DIR = Path(__file__).resolve().parents[2] / "designs"
"""Design files shipped with pigeon-lab (the reference architecture)."""

Adapter = Literal[
    "redis-pubsub", "redis-sharded-pubsub", "redis-streams", "postgres", "mongo", "nats",
    "kafka", "none",
]  # fmt: skip
Transport = Literal["websocket", "polling"]
Stickiness = Literal["cookie", "sid", "ip-hash"]


class Components(Frozen):
    """What runs: the backend and how many nodes."""

    backend: str | None = Field(default=None, description="what serves Socket.IO (free text)")
    nodes: int | None = Field(default=None, ge=1, description="backend nodes")


class AdapterSection(Frozen):
    """How a broadcast reaches the other nodes."""

    kind: Adapter | None = Field(default=None, description="the Socket.IO adapter")


class LoadBalancer(Frozen):
    """What sits in front of the nodes."""

    kind: str | None = Field(default=None, description="haproxy, nginx, aws-alb, ... or none")
    stickiness: tuple[Stickiness, ...] | None = Field(
        default=None, description="how a polling session stays on its node; [] = none"
    )
    health_check: Literal["readiness", "liveness", "tcp", "none"] | None = Field(
        default=None, description="what takes a node out of rotation"
    )
    transports: tuple[Transport, ...] | None = Field(
        default=None, description="the Engine.IO transports clients use"
    )
    idle_timeout_s: float | None = Field(
        default=None, gt=0, description="how long an idle connection (tunnel) may stay open"
    )


class Redis(Frozen):
    """Redis: topology, persistence, and what an ack waits for."""

    topology: Literal["single", "replicated", "sentinel", "cluster"] | None = None
    replicas: int | None = Field(default=None, ge=0)
    persistence: Literal["none", "rdb", "aof"] | None = None
    durability: Literal["fast", "replicated"] | None = Field(
        default=None,
        description="fast: ack once on the primary; replicated: also on a replica (WAIT)",
    )


class Acks(Frozen):
    """The server's side of a send."""

    after: Literal["durable-write", "receive", "publish"] | None = Field(
        default=None, description="when the server acknowledges a send"
    )
    dedupe: bool | None = Field(default=None, description="sends deduplicated by client id")
    dedupe_window_s: float | None = Field(default=None, gt=0)
    sequencing: Literal["central", "node-local", "none"] | None = Field(
        default=None, description="where a channel's seq comes from"
    )


class Reconnect(Frozen):
    backoff: Literal["exponential", "fixed", "none"] | None = None
    jitter: Literal["full", "equal", "none"] | None = None
    max_delay_s: float | None = Field(default=None, gt=0)


class Client(Frozen):
    """The client's side: ack timeout, retries, resume, reconnect."""

    ack_timeout_ms: int | None = Field(default=None, ge=0, description="0: no timeout")
    retry: Literal["same-id", "new-id", "none"] | None = Field(
        default=None, description="what a client does when an ack does not come"
    )
    retry_deadline_ms: int | None = Field(default=None, gt=0)
    resume: Literal["after-seq", "connection-state-recovery", "none"] | None = Field(
        default=None, description="how a reconnecting client gets what it missed"
    )
    max_offline_s: float | None = Field(
        default=None, gt=0, description="the longest disconnection it must recover from"
    )
    reconnect: Reconnect = Field(default_factory=Reconnect)


class Heartbeat(Frozen):
    ping_interval_s: float | None = Field(default=None, gt=0)
    ping_timeout_s: float | None = Field(default=None, gt=0)


class Tenancy(Frozen):
    """How tenants share the deployment."""

    model: Literal["shared", "namespace-per-tenant", "deployment-per-tenant", "single"] | None = (
        None
    )
    rooms: Literal["prefixed", "unprefixed"] | None = Field(
        default=None, description="whether room and key names carry the tenant"
    )
    tenant_from: Literal["token", "payload"] | None = None
    sender_from: Literal["token", "payload"] | None = None


class Auth(Frozen):
    token: Literal["jwt", "session-cookie", "api-key", "none"] | None = None
    algorithms: tuple[str, ...] | None = None
    carried_in: Literal["connect-payload", "cookie", "query", "header"] | None = None
    expiry_on_live_sockets: Literal["disconnect", "refuse-events", "none"] | None = None


class Limits(Frozen):
    max_body_bytes: int | None = Field(default=None, gt=0)
    max_payload_bytes: int | None = Field(default=None, gt=0)
    rate_limit: Literal["none", "per-connection", "per-connection-and-tenant"] | None = None
    slow_consumers: Literal["disconnect", "drop", "unbounded"] | None = Field(
        default=None, description="what happens to a client that does not read"
    )


class Cors(Frozen):
    origins: tuple[str, ...] | None = Field(default=None, description="allowed origins, or *")
    credentials: bool | None = None


class Shutdown(Frozen):
    drain_s: float | None = Field(default=None, ge=0, description="0: no drain on SIGTERM")


class Retention(Frozen):
    messages_per_channel: int | None = Field(default=None, ge=0)
    peak_msgs_per_s: float | None = Field(
        default=None, gt=0, description="the busiest channel's message rate"
    )


class Testing(Frozen):
    scenarios: tuple[str, ...] | None = Field(
        default=None, description="the failure scenarios the design was load tested under"
    )


class Design(Frozen):
    """One architecture (see the module docstring)."""

    name: str = ""
    description: str = ""
    components: Components = Field(default_factory=Components)
    adapter: AdapterSection = Field(default_factory=AdapterSection)
    load_balancer: LoadBalancer = Field(default_factory=LoadBalancer)
    redis: Redis = Field(default_factory=Redis)
    acks: Acks = Field(default_factory=Acks)
    client: Client = Field(default_factory=Client)
    heartbeat: Heartbeat = Field(default_factory=Heartbeat)
    tenancy: Tenancy = Field(default_factory=Tenancy)
    auth: Auth = Field(default_factory=Auth)
    limits: Limits = Field(default_factory=Limits)
    cors: Cors = Field(default_factory=Cors)
    shutdown: Shutdown = Field(default_factory=Shutdown)
    retention: Retention = Field(default_factory=Retention)
    testing: Testing = Field(default_factory=Testing)

    def nodes(self) -> int | None:
        return self.components.nodes

    def has_load_balancer(self) -> bool | None:
        kind = self.load_balancer.kind
        return None if kind is None else kind.lower() != "none"


def design_path(ref: str | Path) -> Path:
    """A design file: a path, or a name in ``./designs`` or the shipped ``designs/``."""
    path = Path(ref)
    if path.is_file():
        return path
    for folder in (Path.cwd() / "designs", DESIGNS_DIR):
        for suffix in (".yaml", ".yml"):
            if (folder / f"{ref}{suffix}").is_file():
                return folder / f"{ref}{suffix}"
    raise ConfigError("no such design file", source=str(ref))


def design_from_mapping(data: object, source: str, text: str | None = None) -> Design:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a design file is a mapping of sections", source=source)
    try:
        return Design.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, Design, source, text) from None


def load_design(ref: str | Path) -> Design:
    """Read and validate a design file (ConfigError naming file, field and reason)."""
    path = design_path(ref)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the design file: {exc}", source=str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, str(path)) from None
    design = design_from_mapping(data, str(path), text)
    return design if design.name else design.model_copy(update={"name": path.stem})


__all__ = ["DESIGNS_DIR", "Design", "design_from_mapping", "design_path", "load_design"]
