"""Faults: the kinds a scenario may schedule (one module per family) and the scheduler.

Importing this package registers the built-in families: ``process`` (kill, pause,
restart, drain), ``redis_failover``, ``link`` (latency, bandwidth, slicer, reset,
slow-close, limit-data), ``partition`` and ``voice`` (kill-floor-holder); ``netgraph`` is
the topology's links.
"""

# Registration order is the order in which ``scenario kinds`` and messages list the kinds.
# isort: off
from pigeon_lab.faults import process, redis_failover, link, partition, voice  # noqa: F401

# isort: on
from pigeon_lab.faults.base import (
    PROCESS_TARGETS,
    ClusterControl,
    FaultEnv,
    FaultKind,
    Heal,
    LinkControl,
    ParamSpec,
    PlannedFault,
    TopologyFacts,
)
from pigeon_lab.faults.netgraph import NetGraph
from pigeon_lab.faults.registry import (
    FAULT_KINDS,
    link_targets,
    process_targets,
    register_fault_kind,
    target_class,
)

__all__ = [
    "FAULT_KINDS",
    "PROCESS_TARGETS",
    "ClusterControl",
    "FaultEnv",
    "FaultKind",
    "Heal",
    "LinkControl",
    "NetGraph",
    "ParamSpec",
    "PlannedFault",
    "TopologyFacts",
    "link_targets",
    "process_targets",
    "register_fault_kind",
    "target_class",
]
