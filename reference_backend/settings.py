"""One validated settings object for a backend node, read from CLI flags with env fallbacks.

Every flag `--some-flag` can also be given as `PIGEON_BACKEND_SOME_FLAG`; the flag wins.
The flag table in docs/interfaces.md is a contract other parts build against: keep both equal.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reference_backend.addrmap import AddressMap
from reference_backend.flaws import FLAW_NAMES

ENV_PREFIX = "PIGEON_BACKEND_"


class Settings(BaseModel):
    """Everything a node needs to know, validated once at start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    node_name: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_username: str = ""
    redis_password: str = Field("", repr=False)
    sentinel_username: str = ""
    sentinel_password: str = Field("", repr=False)
    redis_max_connections: int = Field(64, ge=8, le=10_000)
    redis_address_map: str = ""
    jwt_secret: str = Field(min_length=1, repr=False)
    durability: Literal["fast", "replicated"] = "fast"
    wait_replicas: int = Field(1, ge=1, le=16)
    wait_timeout_ms: int = Field(500, ge=1, le=60_000)
    retention: int = Field(10_000, ge=1)
    dedupe_ttl_s: int = Field(3600, ge=1)
    log_ttl_s: int = Field(30 * 86400, ge=1)
    max_body: int = Field(4096, ge=1, le=512 * 1024)
    conn_rate: float = Field(200.0, gt=0)
    conn_burst: float = Field(400.0, ge=1)
    user_rate: float = Field(400.0, gt=0)
    user_burst: float = Field(800.0, ge=1)
    ws_rate: float = Field(5000.0, gt=0)
    ws_burst: float = Field(10_000.0, ge=1)
    max_output_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024)
    poll_budget_bytes: int = Field(1024 * 1024, ge=1024)
    max_frames_per_s: int = Field(2000, ge=10)
    max_reads_per_conn: int = Field(4, ge=1)
    max_reads_per_workspace: int = Field(8, ge=1)
    max_reads: int = Field(32, ge=1)
    ping_interval: float = Field(25.0, gt=0)
    ping_timeout: float = Field(20.0, gt=0)
    drain_s: float = Field(5.0, ge=0)
    cutoff_disconnect_s: float = Field(5.0, ge=0)
    flaws: frozenset[str] = frozenset()
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "redis+sentinel://", "unix://")):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
        return value

    @field_validator("redis_address_map")
    @classmethod
    def _address_map(cls, value: str) -> str:
        AddressMap.parse(value)  # ValueError names the bad pair
        return value

    @property
    def address_map(self) -> AddressMap:
        """Where to dial instead of each Redis/Sentinel address (``--redis-address-map``)."""
        return AddressMap.parse(self.redis_address_map)

    @field_validator("flaws")
    @classmethod
    def _known_flaws(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - FLAW_NAMES)
        if unknown:
            raise ValueError(f"unknown flaw(s) {unknown}; known: {sorted(FLAW_NAMES)}")
        return value

    @model_validator(mode="after")
    def _default_node_name(self) -> Settings:
        if not self.node_name:
            object.__setattr__(self, "node_name", f"node-{self.port}")
        return self

    @model_validator(mode="after")
    def _reads_fit_the_pool(self) -> Settings:
        if self.max_reads + 4 > self.redis_max_connections:
            raise ValueError(
                f"--max-reads ({self.max_reads}) must leave 4 of --redis-max-connections "
                f"({self.redis_max_connections}) to sends, pings and the rate-limit sync"
            )
        return self


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reference_backend",
        description="Pigeon protocol v1 reference backend (python-socketio + Redis). "
        f"Every flag may also be set as env var {ENV_PREFIX}<FLAG_UPPER_SNAKE>.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = p.add_argument
    add("--host", default="127.0.0.1", help="address to listen on")
    add("--port", type=int, default=8000, help="port to listen on")
    add("--node-name", default="", help="name in join acks and /metrics (default node-<port>)")
    add(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="redis://h:p/db or redis+sentinel://h1:p1,h2:p2/db/<master> (adapter and store)",
    )
    add("--redis-username", default="", help="the node's Redis ACL user (servers)")
    add(
        "--redis-password",
        default="",
        help=f"its password (prefer the env var {ENV_PREFIX}REDIS_PASSWORD: argv is public)",
    )
    add("--sentinel-username", default="", help="the node's ACL user on the Sentinels")
    add(
        "--sentinel-password",
        default="",
        help=f"its password (prefer {ENV_PREFIX}SENTINEL_PASSWORD)",
    )
    add(
        "--redis-max-connections",
        type=int,
        default=64,
        help="pool size of the store's Redis client (past it: unavailable)",
    )
    add(
        "--redis-address-map",
        default="",
        metavar="FROM=TO,...",
        help="dial TO instead of FROM (HOST:PORT each) for every Redis and Sentinel address, "
        "also those Sentinel reports (a fault proxy per node and link)",
    )
    add("--jwt-secret", default=None, help="HS256 secret of the tokens (required)")
    add(
        "--durability",
        choices=["fast", "replicated"],
        default="fast",
        help="fast: ack once on the primary; replicated: also WAIT for replicas",
    )
    add("--wait-replicas", type=int, default=1, help="replicas WAIT needs (replicated)")
    add("--wait-timeout-ms", type=int, default=500, help="WAIT timeout; short -> not_durable")
    add("--retention", type=int, default=10_000, help="messages kept per channel (MAXLEN ~)")
    add("--dedupe-ttl-s", type=int, default=3600, help="dedupe window of client_msg_id (s)")
    add(
        "--log-ttl-s",
        type=int,
        default=30 * 86400,
        help="a channel's log expires this long after its last message (its seq counter stays)",
    )
    add("--max-body", type=int, default=4096, help="max body size in UTF-8 bytes -> too_large")
    add("--conn-rate", type=float, default=200.0, help="events/s per connection (on this node)")
    add("--conn-burst", type=float, default=400.0, help="burst per connection")
    add("--user-rate", type=float, default=400.0, help="events/s per user, cluster-wide")
    add("--user-burst", type=float, default=800.0, help="burst per user, cluster-wide")
    add("--ws-rate", type=float, default=5000.0, help="events/s per workspace, cluster-wide")
    add("--ws-burst", type=float, default=10_000.0, help="burst per workspace, cluster-wide")
    add(
        "--max-output-bytes",
        type=int,
        default=16 * 1024 * 1024,
        help="unsent output per connection; past it the connection is cut (slow_consumer)",
    )
    add(
        "--poll-budget-bytes",
        type=int,
        default=1024 * 1024,
        help="what one long-polling response carries at most (the packet crossing it is last)",
    )
    add(
        "--max-frames-per-s",
        type=int,
        default=2000,
        help="websocket frames a connection may send in a second; past it: cut (flood)",
    )
    add("--max-reads-per-conn", type=int, default=4, help="reads in flight per connection")
    add("--max-reads-per-workspace", type=int, default=8, help="reads in flight per workspace")
    add("--max-reads", type=int, default=32, help="reads in flight on this node")
    add("--ping-interval", type=float, default=25.0, help="Engine.IO ping interval (s)")
    add("--ping-timeout", type=float, default=20.0, help="Engine.IO ping timeout (s)")
    add(
        "--drain-s",
        type=float,
        default=5.0,
        help="on SIGTERM: readiness 503 and listener closed at once, clients dropped after this",
    )
    add(
        "--cutoff-disconnect-s",
        type=float,
        default=5.0,
        help="cut off from Redis this long: disconnect the clients (they reconnect elsewhere) "
        "and refuse new ones until it is back; 0: never",
    )
    add(
        "--flaw",
        action="append",
        default=None,
        metavar="NAME",
        help=f"deliberate flaw for self-tests, repeatable (env: comma-separated): "
        f"{', '.join(sorted(FLAW_NAMES))}",
    )
    add("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    return p


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge flags over env vars over defaults; exit 2 with a named field on bad input."""
    env = os.environ if environ is None else environ
    parser = _parser()
    # Env vars become parser defaults so that explicit flags still win.
    defaults: dict[str, object] = {}
    env_flaws: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value = env.get(ENV_PREFIX + action.dest.upper())
        if value is None:
            continue
        if action.dest == "flaw":  # `append` would add flags to a list default: merge below
            env_flaws = [v.strip() for v in value.split(",") if v.strip()]
        else:
            defaults[action.dest] = value
    parser.set_defaults(**defaults)
    ns = vars(parser.parse_args(argv))
    flaws = ns.pop("flaw") or env_flaws
    if ns["jwt_secret"] is None:
        parser.error(f"--jwt-secret (or {ENV_PREFIX}JWT_SECRET) is required")
    try:
        return Settings(**ns, flaws=frozenset(flaws))
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}"
            for e in exc.errors()
        )
        parser.error(problems)
