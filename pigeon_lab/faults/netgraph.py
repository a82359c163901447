"""The network of a bundled topology: who dials whom, as links ``A->B``, and partition shapes.

Pure (no sockets): the scenario validator, the link fault kinds and the cluster's link
wiring all read the same graph. A link ``A->B`` is every TCP connection process A dials
to process B, both directions of its bytes; cutting "A from B" cuts ``A->B`` and
``B->A``, whichever exist. Client groups (``clients``, or ``clients-<name>`` declared by
the topology) are the simulated users' side of the client links.

Links whose destination is a Redis server or a Sentinel and whose source is one too are
*source-split*: such processes learn each other's address from Redis and Sentinel (one
advertised address per destination), so their links can be told apart only by the
address each dials from (see ``source_ip`` and docs/architecture.md, "Links").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

CLIENTS = "clients"
PRIMARY = "redis-primary"
LB = "haproxy"


@dataclass(frozen=True, order=True)
class Link:
    """``src`` dials ``dst``."""

    src: str
    dst: str

    @property
    def name(self) -> str:
        return f"{self.src}->{self.dst}"

    @classmethod
    def parse(cls, name: str) -> Link | None:
        src, sep, dst = name.partition("->")
        return cls(src.strip(), dst.strip()) if sep and src.strip() and dst.strip() else None


def is_redis(name: str) -> bool:
    return name == PRIMARY or name.startswith("redis-replica-")


def is_sentinel(name: str) -> bool:
    return name.startswith("sentinel-")


def is_clients(name: str) -> bool:
    return name == CLIENTS or name.startswith(CLIENTS + "-")


@dataclass(frozen=True)
class NetGraph:
    """The processes of a topology and the links between them."""

    nodes: int
    replicas: int
    sentinels: int
    load_balancer: bool
    client_groups: tuple[str, ...] = ()
    """Declared groups (``clients-<name>``); the rest of the users are ``clients``."""

    @cached_property
    def node_names(self) -> list[str]:
        return [f"node-{i}" for i in range(1, self.nodes + 1)]

    @cached_property
    def redis_names(self) -> list[str]:
        return [PRIMARY, *(f"redis-replica-{i}" for i in range(1, self.replicas + 1))]

    @cached_property
    def sentinel_names(self) -> list[str]:
        return [f"sentinel-{i}" for i in range(1, self.sentinels + 1)]

    @cached_property
    def groups(self) -> list[str]:
        return [CLIENTS, *self.client_groups]

    @cached_property
    def processes(self) -> list[str]:
        """Every end of a link: client groups, the load balancer, nodes, Redis, Sentinels."""
        lb = [LB] if self.load_balancer else []
        return [*self.groups, *lb, *self.node_names, *self.redis_names, *self.sentinel_names]

    @cached_property
    def links(self) -> list[Link]:
        """Every link that can be proxied, in a stable order."""
        out: list[Link] = []
        for group in self.groups:
            if self.load_balancer:
                out.append(Link(group, LB))
            else:
                out += [Link(group, n) for n in self.node_names]
        if self.load_balancer:
            out += [Link(LB, n) for n in self.node_names]
        # without Sentinels a node only ever dials the primary (there is no failover)
        reached = (self.redis_names if self.sentinels else [PRIMARY]) + self.sentinel_names
        out += [Link(n, r) for n in self.node_names for r in reached]
        out += [Link(s, r) for s in self.sentinel_names for r in self.redis_names]
        out += [Link(s, t) for s in self.sentinel_names for t in self.sentinel_names if s != t]
        if self.sentinels:  # after a failover any server may replicate from any other
            out += [Link(a, b) for a in self.redis_names for b in self.redis_names if a != b]
        else:
            out += [Link(r, PRIMARY) for r in self.redis_names[1:]]
        return out

    @cached_property
    def by_name(self) -> dict[str, Link]:
        return {link.name: link for link in self.links}

    @cached_property
    def names(self) -> list[str]:
        return [link.name for link in self.links]

    def link(self, name: str) -> Link | None:
        return self.by_name.get(name)

    def links_of(self, process: str) -> frozenset[str]:
        """Every link into or out of ``process``."""
        return frozenset(x.name for x in self.links if process in (x.src, x.dst))

    def between(self, side_a: Iterable[str], side_b: Iterable[str]) -> frozenset[str]:
        """The links with one end in each side (both directions): a grudge."""
        a, b = set(side_a), set(side_b)
        return frozenset(
            x.name for x in self.links if (x.src in a and x.dst in b) or (x.src in b and x.dst in a)
        )

    def majorities_ring(self, members: Sequence[str]) -> frozenset[str]:
        """Jepsen's majorities ring over ``members`` (in ring order): each sees the members
        within ring distance ``ceil(floor(n / 2) / 2)`` of itself (a majority, its own; no
        two the same when n >= 4); the links between members farther apart are cut."""
        n = len(members)
        reach = -(-(n // 2) // 2)
        far = [
            (a, b)
            for i, a in enumerate(members)
            for j, b in enumerate(members)
            if i < j and min(j - i, n - (j - i)) > reach
        ]
        return frozenset(name for a, b in far for name in self.between([a], [b]))

    @staticmethod
    def source_split(link: Link) -> bool:
        """Dialled to an advertised address shared by several sources (see module doc)."""
        ends = (link.src, link.dst)
        return all(is_redis(e) or is_sentinel(e) for e in ends)

    def source_ip(self, process: str) -> str:
        """The loopback address a Redis server or Sentinel dials from (``bind-source-addr``)."""
        if process == PRIMARY:
            return "127.0.2.1"
        if is_redis(process):
            return f"127.0.2.{int(process.rsplit('-', 1)[1]) + 1}"
        if is_sentinel(process):
            return f"127.0.3.{int(process.rsplit('-', 1)[1])}"
        raise ValueError(f"{process} dials from 127.0.0.1 (not a Redis server or Sentinel)")


__all__ = [
    "CLIENTS",
    "LB",
    "PRIMARY",
    "Link",
    "NetGraph",
    "is_clients",
    "is_redis",
    "is_sentinel",
]
