"""A scenario's faults checked against its topology, before anything starts.

Each fault must name something of the topology (a process, a client group, a link, or a
shape its kind knows), fit its kind's targets and window, end by the load's end, and not
overlap another fault on the same process or on one link (what a fault's kind ``links``
says it acts on). Every reason names the field (``faults[2].params.side_a[0]``). The
links the faults act on are the links a run proxies (``proxied_links``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pigeon_lab.config_model import FieldProblem
from pigeon_lab.faults import NetGraph
from pigeon_lab.scenario.topology import Topology

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.scenario.model import FaultSpec


def target_class(topology: Topology, i: int, fault: FaultSpec) -> str:
    """The class of the fault's target (``node``, ``link``, ``shape``...), or FieldProblem."""
    kind, processes, links = fault.fault_kind, topology.processes(), topology.links()
    if fault.target in kind.shapes:
        return "shape"
    if fault.target in processes:
        return processes[fault.target]
    if fault.target in links:
        return "link"
    pool = links if "->" in fault.target else list(processes)
    same = [t for t in pool if t.split("-")[0] == fault.target.split("-")[0]]
    hint = f"; this topology has: {', '.join(same)}" if same else ""
    what = "link " if "->" in fault.target else ""
    raise FieldProblem(("faults", i, "target"), f"no {what}{fault.target!r} in this topology{hint}")


def fault_links(graph: NetGraph, i: int, fault: FaultSpec) -> frozenset[str]:
    """The links the fault acts on (empty for process faults); paths under ``faults[i]``."""
    kind = fault.fault_kind
    if kind.links is None:
        return frozenset()
    try:
        return kind.links(graph, fault.planned())
    except FieldProblem as exc:
        raise FieldProblem(("faults", i, *exc.path), exc.reason) from None


def check_fault(topology: Topology, load_s: float, i: int, fault: FaultSpec) -> frozenset[str]:
    """Refuse a fault the topology cannot run; returns the links it acts on."""
    kind = fault.fault_kind
    klass = target_class(topology, i, fault)
    if klass not in kind.targets:
        accepts = ", ".join(sorted(kind.targets - {"shape"}) + list(kind.shapes))
        raise FieldProblem(
            ("faults", i, "target"),
            f"{fault.kind} cannot target {fault.target!r}; it takes: {accepts}",
        )
    problem = kind.check_topology(topology.facts(), fault.target) if kind.check_topology else None
    if problem:
        raise FieldProblem(("faults", i, "kind"), problem)
    if fault.at_s >= load_s:
        raise FieldProblem(
            ("faults", i, "at_s"),
            f"fault at {fault.at_s:g} s starts after the load ends "
            f"(workload.duration_s = {load_s:g})",
        )
    if fault.end_s is not None and fault.end_s > load_s:
        raise FieldProblem(
            ("faults", i, "duration_s"),
            f"fault ends at {fault.end_s:g} s, after the load ends "
            f"(workload.duration_s = {load_s:g})",
        )
    graph = topology.graph()
    links = fault_links(graph, i, fault)
    if links and topology.shared_fronts:
        _refuse_spill_over(graph, i, links)
    return links


def _refuse_spill_over(graph: NetGraph, i: int, links: frozenset[str]) -> None:
    """Without per-source proxies all Redis/Sentinel links into one process are one proxy."""
    for name in sorted(links):
        link = graph.by_name[name]
        if not NetGraph.source_split(link):
            continue
        shared = {x.name for x in graph.links if x.dst == link.dst and NetGraph.source_split(x)}
        spilled = sorted(shared - links)
        if spilled:
            raise FieldProblem(
                ("faults", i, "target"),
                f"with topology.fault_proxy other than embedded, the links from Redis "
                f"servers and Sentinels into {link.dst} are one proxy (no per-source "
                f"proxies), so {name} would also cut {', '.join(spilled)}; use the embedded "
                f"fault proxy",
            )


def check_overlaps(
    faults: Sequence[FaultSpec], links: Sequence[frozenset[str]], load_s: float
) -> None:
    """No two faults at once on one process, nor on one link."""
    for i, fault in enumerate(faults):
        for j, other in enumerate(faults[:i]):
            if not _overlap(other, fault, load_s):
                continue
            on_process = other.fault_kind.links is None and fault.fault_kind.links is None
            if on_process and other.target == fault.target:
                raise FieldProblem(
                    ("faults", i),
                    f"overlaps faults[{j}] ({other.describe()}) on the same process",
                )
            common = sorted(links[i] & links[j])
            if common:
                raise FieldProblem(
                    ("faults", i),
                    f"overlaps faults[{j}] ({other.describe()}) on link {common[0]}"
                    + (f" and {len(common) - 1} more" if len(common) > 1 else ""),
                )


def _overlap(a: FaultSpec, b: FaultSpec, end: float) -> bool:
    """Whether two faults' windows overlap (open windows run to ``end``)."""

    def window(f: FaultSpec) -> tuple[float, float]:
        if not f.fault_kind.takes_duration:
            return (f.at_s, f.at_s)
        return (f.at_s, f.end_s if f.end_s is not None else end)

    (a0, a1), (b0, b1) = window(a), window(b)
    return a0 <= b1 and b0 <= a1


__all__ = ["check_fault", "check_overlaps", "fault_links", "target_class"]
