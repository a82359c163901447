"""Redis faults: a Sentinel failover of the primary."""

from __future__ import annotations

from pigeon_lab.faults.base import FaultEnv, FaultKind, Heal, PlannedFault, TopologyFacts
from pigeon_lab.faults.registry import register_fault_kind


def _failover(env: FaultEnv, fault: PlannedFault) -> Heal:
    env.cluster.failover()
    return lambda: None


def _needs_sentinels(facts: TopologyFacts, target: str) -> str | None:
    if facts.sentinels == 0 or facts.replicas == 0:
        return "redis-failover needs topology.redis.sentinels > 0 and replicas >= 1"
    return None


REDIS_FAILOVER = register_fault_kind(
    FaultKind(
        "redis-failover",
        "Ask the Sentinels to fail the Redis primary over to a replica and wait for it.",
        frozenset({"redis-primary"}),
        window="none",
        inject=_failover,
        default_target="redis-primary",
        label=lambda f: "redis-failover",
        check_topology=_needs_sentinels,
    )
)

__all__ = ["REDIS_FAILOVER"]
