"""The fault kinds a scenario may schedule: name -> FaultKind, and the topology's targets.

The scenario validator, ``scenario kinds`` and the scheduler all read ``FAULT_KINDS``.
Each fault family is one module that registers its kinds (``process.py``,
``redis_failover.py``, ``link.py``); ``pigeon_lab.faults`` imports them. A new kind is
one ``register_fault_kind`` call in a new module.
"""

from __future__ import annotations

import re

from pigeon_lab.faults.base import FaultKind, TargetClass
from pigeon_lab.faults.netgraph import NetGraph

FAULT_KINDS: dict[str, FaultKind] = {}

_INDEXED = re.compile(r"^(node|redis-replica|sentinel)-(\d+)$")


def register_fault_kind(kind: FaultKind) -> FaultKind:
    """Add ``kind`` to the registry (replacing one of the same name)."""
    FAULT_KINDS[kind.name] = kind
    return kind


def process_targets(
    nodes: int, replicas: int, sentinels: int, load_balancer: bool
) -> dict[str, TargetClass]:
    """The process names of a topology, each with its target class."""
    out: dict[str, TargetClass] = {f"node-{i}": "node" for i in range(1, nodes + 1)}
    out["redis-primary"] = "redis-primary"
    out.update({f"redis-replica-{i}": "redis-replica" for i in range(1, replicas + 1)})
    out.update({f"sentinel-{i}": "sentinel" for i in range(1, sentinels + 1)})
    if load_balancer:
        out["haproxy"] = "haproxy"
    return out


def link_targets(
    nodes: int,
    replicas: int,
    load_balancer: bool,
    sentinels: int = 0,
    client_groups: tuple[str, ...] = (),
) -> list[str]:
    """The links of a topology that the fault proxy could carry, as ``A->B`` (netgraph)."""
    return NetGraph(nodes, replicas, sentinels, load_balancer, client_groups).names


def target_class(target: str) -> str:
    """A best-effort class of a target name, for messages ('node', 'link', ...)."""
    if "->" in target:
        return "link"
    if target == "clients" or target.startswith("clients-"):
        return "clients"
    match = _INDEXED.match(target)
    return match.group(1) if match else target


__all__ = [
    "FAULT_KINDS",
    "link_targets",
    "process_targets",
    "register_fault_kind",
    "target_class",
]
