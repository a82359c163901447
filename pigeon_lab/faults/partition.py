"""Partitions, with Jepsen's shapes by name, on the fault proxy's links.

- ``target: <process>``: isolate it (every link into and out of it is cut);
- ``target: <A->B>``: cut that one link;
- ``target: grudge``: cut every link between ``params.side_a`` and ``params.side_b``
  (default: every other process), e.g. the Redis primary and node-1 against the rest;
- ``target: majorities-ring``: each of ``params.members`` (default: the Redis servers and
  Sentinels, in order) keeps a majority of its neighbours around the ring, no two the same.

``params.mode``: ``drop`` (a timeout toxic: bytes vanish, connections hang until the
peers' own timeouts; a real partition) or ``reject`` (the proxies disabled: connections
closed, new ones refused; a dead host). The heal removes the toxics or enables the
proxies (a drop's connections are closed when its toxic goes, as Toxiproxy does).
"""

from __future__ import annotations

from collections.abc import Sequence

from pigeon_lab.config_model import FieldProblem
from pigeon_lab.faults.base import FaultEnv, FaultKind, Heal, ParamSpec, PlannedFault
from pigeon_lab.faults.link import LINKY, link_env, links_of_target
from pigeon_lab.faults.netgraph import NetGraph
from pigeon_lab.faults.registry import register_fault_kind

GRUDGE = "grudge"
RING = "majorities-ring"
SHAPES = (GRUDGE, RING)
_ONLY = {"side_a": GRUDGE, "side_b": GRUDGE, "members": RING}


def _names(graph: NetGraph, fault: PlannedFault, param: str) -> list[str] | None:
    """A list param's process names, each known to the topology (None when not given)."""
    raw = fault.params.get(param)
    if raw is None:
        return None
    names = [str(n) for n in raw] if isinstance(raw, (list, tuple)) else []
    for i, name in enumerate(names):
        if name not in graph.processes:
            raise FieldProblem(
                ("params", param, i),
                f"no process {name!r} in this topology; it has: {', '.join(graph.processes)}",
            )
    if not names:
        raise FieldProblem(("params", param), "names no process")
    return names


def partition_links(graph: NetGraph, fault: PlannedFault) -> frozenset[str]:
    """The links a partition cuts (FieldProblem when it names nothing of the topology)."""
    for param, shape in _ONLY.items():
        if param in fault.params and fault.target != shape:
            raise FieldProblem(("params", param), f"is only for target: {shape}")
    if fault.target == GRUDGE:
        side_a = _names(graph, fault, "side_a")
        if side_a is None:
            raise FieldProblem(("params", "side_a"), "a grudge needs side_a (process names)")
        side_b = _names(graph, fault, "side_b") or [p for p in graph.processes if p not in side_a]
        both = sorted(set(side_a) & set(side_b))
        if both:
            raise FieldProblem(("params", "side_b"), f"{', '.join(both)} on both sides")
        found = graph.between(side_a, side_b)
    elif fault.target == RING:
        members = _names(graph, fault, "members") or [*graph.redis_names, *graph.sentinel_names]
        if len(set(members)) < 4:
            raise FieldProblem(
                ("params", "members"),
                f"a majorities ring needs 4 or more processes ({len(set(members))} given: "
                "with 3 every one sees every other)",
            )
        found = graph.majorities_ring(list(dict.fromkeys(members)))
    else:
        found = links_of_target(graph, fault)
    if not found:
        raise FieldProblem(("target",), "this partition cuts no link of the topology")
    return found


def _inject(env: FaultEnv, fault: PlannedFault) -> Heal:
    control, graph = link_env(env)
    return control.cut(partition_links(graph, fault), str(fault.params.get("mode", "drop")))


def _label(fault: PlannedFault) -> str:
    mode = fault.params.get("mode", "drop")
    if fault.target == GRUDGE:
        a = " ".join(_seq(fault.params.get("side_a")))
        b = " ".join(_seq(fault.params.get("side_b"))) or "the rest"
        return f"partition {mode} {a} | {b}"
    if fault.target == RING:
        return f"partition {mode} majorities-ring"
    shape = "" if "->" in fault.target else "isolate "
    return f"partition {mode} {shape}{fault.target}"


def _seq(value: object) -> Sequence[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


PARTITION = register_fault_kind(
    FaultKind(
        "partition",
        "Cut links for duration_s (without it, until the load ends): isolate a process, cut "
        "a link, a grudge between side_a and side_b, or a majorities-ring; mode drop "
        "(packets vanish) or reject (refused).",
        LINKY | {"shape"},
        window="optional",
        inject=_inject,
        params=(
            ParamSpec(
                "mode",
                "str",
                "drop: black hole (connections hang); reject: connections refused",
                default="drop",
                choices=("drop", "reject"),
            ),
            ParamSpec("side_a", "list", "grudge: the processes on one side"),
            ParamSpec("side_b", "list", "grudge: the other side (default: every other)"),
            ParamSpec("members", "list", "majorities-ring: the ring, in order"),
        ),
        label=_label,
        links=partition_links,
        shapes=SHAPES,
    )
)

__all__ = ["GRUDGE", "PARTITION", "RING", "SHAPES", "partition_links"]
