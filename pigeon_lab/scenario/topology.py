"""The bundled cluster of a scenario: backend nodes and their settings, Redis, the load
balancer, the client groups, the links the fault proxy carries."""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen, unknown
from pigeon_lab.faults import NetGraph, TopologyFacts, process_targets
from pigeon_lab.scenario.voice_backend import VoiceBackend

FLAWS: tuple[str, ...] = (
    "ack-before-persist",
    "local-seq",
    "unprefixed-rooms",
    "no-dedupe",
    "sender-from-payload",
    # --- network faults (issue 7) ---
    "ready-when-cut-off",
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

# ---- voice rooms (reference_backend/voice/): the voice flaws, one per voice checker -------
VOICE_FLAWS: tuple[str, ...] = (
    "voice-leave-on-disconnect",
    "voice-node-floor",
    "voice-no-fencing",
    "voice-no-session-check",
    "voice-unversioned-roster",
)
FLAWS = FLAWS + VOICE_FLAWS


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
    cutoff_disconnect_s: float = Field(
        default=5,
        ge=0,
        description="a node cut off from Redis this long disconnects its clients (0: never)",
    )
    flaws: tuple[str, ...] = Field(default=(), description=f"deliberate flaws: {', '.join(FLAWS)}")
    voice: VoiceBackend = Field(
        default_factory=VoiceBackend, description="voice rooms: leases, reaping, talk time"
    )

    @field_validator("flaws")
    @classmethod
    def _known_flaws(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, flaw in enumerate(value):
            if flaw not in FLAWS:
                raise FieldProblem((i,), unknown("flaw", flaw, FLAWS))
        return value


class ClientGroup(Frozen):
    """A share of the chat users behind links of their own (``clients-<name>->haproxy``)."""

    name: str = Field(
        pattern=r"^clients-[a-z0-9][a-z0-9-]{0,30}$",
        description="clients-<name>: the group's process name in link targets",
    )
    share: float = Field(gt=0, lt=1, description="share of the users in this group")


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
    proxied_links: tuple[str, ...] | Literal["all"] = Field(
        default=(),
        description="links (A->B) through the fault proxy besides those the faults name, or all",
    )
    client_groups: tuple[ClientGroup, ...] = Field(
        default=(), description="shares of the users behind links of their own"
    )
    fault_proxy: str = Field(
        default="embedded",
        pattern=r"^(embedded|toxiproxy-server|http://[^/\s]+:\d+/?)$",
        description="embedded (pigeon-lab's), toxiproxy-server (from PATH) or a server's URL",
    )
    sticky_sessions: bool = Field(
        default=True,
        description="HAProxy keeps each polling session on its node; false: no stickiness, "
        "round robin (a misconfigured load balancer)",
    )
    backend: Backend = Field(default_factory=Backend, description="backend node settings")

    @property
    def has_load_balancer(self) -> bool:
        return self.load_balancer != "none"

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.client_groups)

    @property
    def shared_fronts(self) -> bool:
        """A fault proxy without per-source proxies (not pigeon-lab's own)."""
        return self.fault_proxy != "embedded"

    def facts(self) -> TopologyFacts:
        """What fault kinds may check about this topology."""
        r = self.redis
        return TopologyFacts(
            self.nodes,
            r.replicas,
            r.sentinels,
            self.has_load_balancer,
            tuple(self.links()) if self.proxied_links == "all" else self.proxied_links,
            self.group_names,
            self.shared_fronts,
        )

    def graph(self) -> NetGraph:
        """Who dials whom (``pigeon_lab.faults.netgraph``)."""
        r = self.redis
        return NetGraph(
            self.nodes, r.replicas, r.sentinels, self.has_load_balancer, self.group_names
        )

    def processes(self) -> dict[str, str]:
        """Process name -> target class (``node``, ``redis-replica``, ``clients``, ...)."""
        r = self.redis
        out: dict[str, str] = dict(
            process_targets(self.nodes, r.replicas, r.sentinels, self.has_load_balancer)
        )
        out.update({g: "clients" for g in ("clients", *self.group_names)})
        return out

    def links(self) -> list[str]:
        """Every link of this topology that could be proxied."""
        return self.graph().names

    def user_groups(self, users: int, seed: int) -> list[str]:
        """The client group of each chat user ``u0..u<users-1>`` (seeded, exact shares)."""
        shares = tuple((g.name, g.share) for g in self.client_groups)
        return list(assign_groups(users, shares, seed))

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        if self.durability == "replicated" and self.redis.replicas == 0:
            raise FieldProblem(
                ("durability",), "'replicated' needs at least one replica (topology.redis.replicas)"
            )
        links = self.links()
        for i, link in enumerate(() if self.proxied_links == "all" else self.proxied_links):
            if link not in links:
                raise FieldProblem(("proxied_links", i), unknown("link", link, links))
        names = self.group_names
        for i, name in enumerate(names):
            if name in names[:i]:
                raise FieldProblem(("client_groups", i, "name"), f"{name} is declared twice")
        if sum(g.share for g in self.client_groups) >= 1:
            raise FieldProblem(
                ("client_groups",), "the shares add up to 1 or more; the rest are `clients`"
            )
        return self


@lru_cache(maxsize=64)
def assign_groups(users: int, shares: Sequence[tuple[str, float]], seed: int) -> tuple[str, ...]:
    """Each user's group: ``round(share * users)`` users per group, drawn by a seeded
    shuffle; the rest are ``clients``. The load and the checkers both call this."""
    order = list(range(users))
    random.Random(f"client-groups-{seed}").shuffle(order)
    out = ["clients"] * users
    at = 0
    for name, share in shares:
        count = min(users - at, round(share * users))
        for i in order[at : at + count]:
            out[i] = name
        at += count
    return tuple(out)


__all__ = [
    "FLAWS",
    "VOICE_FLAWS",
    "Backend",
    "ClientGroup",
    "Redis",
    "Topology",
    "assign_groups",
]
