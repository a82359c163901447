"""The bundled cluster of a scenario: backend nodes and their settings, Redis, the load
balancer, the links the fault proxy carries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen, unknown
from pigeon_lab.faults import TopologyFacts, link_targets, process_targets

FLAWS: tuple[str, ...] = (
    "ack-before-persist",
    "local-seq",
    "unprefixed-rooms",
    "no-dedupe",
    "sender-from-payload",
)
FLAWS += (  # issue 8 (reference_backend/flaw_hooks.py)
    "phantom-message",
    "forged-push",
    "drop-tail-push",
    "stale-sync",
    "leak-one-push",
    "ghost-member",
    "lost-on-reconnect",
)
"""Deliberate flaws the reference backend can be started with (``--flaw``)."""


class Redis(Frozen):
    """Redis: one primary, optional replicas, optional Sentinels for failover."""

    replicas: int = Field(default=1, ge=0, le=5, description="replicas of the primary")
    sentinels: Literal[0, 3, 5] = Field(
        default=3, description="Sentinel processes (0 = no failover)"
    )


class Backend(Frozen):
    """Settings passed to every reference backend node."""

    retention: int = Field(default=10000, ge=1, description="messages kept per channel (MAXLEN)")
    dedupe_ttl_s: int = Field(
        default=3600, ge=1, description="idempotency window for client_msg_id"
    )
    max_body: int = Field(default=4096, ge=1, description="largest message body, bytes of UTF-8")
    ping_interval_s: float = Field(default=25, gt=0, description="Engine.IO ping interval")
    ping_timeout_s: float = Field(default=20, gt=0, description="Engine.IO ping timeout")
    flaws: tuple[str, ...] = Field(default=(), description=f"deliberate flaws: {', '.join(FLAWS)}")

    @field_validator("flaws")
    @classmethod
    def _known_flaws(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, flaw in enumerate(value):
            if flaw not in FLAWS:
                raise FieldProblem((i,), unknown("flaw", flaw, FLAWS))
        return value


class Topology(Frozen):
    """The bundled cluster: backend nodes, Redis, load balancer, proxied links."""

    nodes: int = Field(default=3, ge=1, le=16, description="backend nodes node-1..node-N")
    redis: Redis = Field(default_factory=Redis, description="Redis primary, replicas, Sentinels")
    durability: Literal["fast", "replicated"] = Field(
        default="fast",
        description="fast: acked once on the primary; replicated: also on a replica (WAIT)",
    )
    load_balancer: Literal["haproxy", "none"] = Field(
        default="haproxy",
        description="HAProxy in front of the nodes, or clients spread over the nodes",
    )
    proxied_links: tuple[str, ...] = Field(
        default=(), description="links (A->B) routed through the fault proxy, e.g. haproxy->node-1"
    )
    backend: Backend = Field(default_factory=Backend, description="backend node settings")

    @property
    def has_load_balancer(self) -> bool:
        return self.load_balancer != "none"

    def facts(self) -> TopologyFacts:
        """What fault kinds may check about this topology."""
        r = self.redis
        return TopologyFacts(
            self.nodes, r.replicas, r.sentinels, self.has_load_balancer, self.proxied_links
        )

    def processes(self) -> dict[str, str]:
        """Process name -> target class (``node``, ``redis-replica``, ...)."""
        r = self.redis
        return dict(process_targets(self.nodes, r.replicas, r.sentinels, self.has_load_balancer))

    def links(self) -> list[str]:
        """Every link of this topology that could be proxied."""
        return link_targets(self.nodes, self.redis.replicas, self.has_load_balancer)

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        if self.durability == "replicated" and self.redis.replicas == 0:
            raise FieldProblem(
                ("durability",), "'replicated' needs at least one replica (topology.redis.replicas)"
            )
        links = self.links()
        for i, link in enumerate(self.proxied_links):
            if link not in links:
                raise FieldProblem(("proxied_links", i), unknown("link", link, links))
        return self


__all__ = ["FLAWS", "Backend", "Redis", "Topology"]
