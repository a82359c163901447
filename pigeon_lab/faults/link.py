"""Link faults: latency, bandwidth, slicing, resets, slow closes and data limits on links.

Each is a window on a link (``haproxy->node-2``) or on every link of a process or client
group (``node-2``: everything into and out of it), applied through the fault proxy's
toxics on both streams unless ``stream`` says one; the heal removes the toxics. The run
proxies the links its faults name (``links``). Partitions are in ``partition.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pigeon_lab.config_model import FieldProblem
from pigeon_lab.faults.base import (
    PROCESS_TARGETS,
    FaultEnv,
    FaultKind,
    Heal,
    LinkControl,
    ParamSpec,
    PlannedFault,
    TargetClass,
)
from pigeon_lab.faults.netgraph import NetGraph
from pigeon_lab.faults.registry import register_fault_kind

LINKY: frozenset[TargetClass] = PROCESS_TARGETS | {"link", "clients"}
STREAM = ParamSpec(
    "stream",
    "str",
    "which bytes: both, upstream (to the dialled process) or downstream",
    default="both",
    choices=("both", "upstream", "downstream"),
)


def links_of_target(graph: NetGraph, fault: PlannedFault) -> frozenset[str]:
    """The link named by the target, or every link of the process or group it names."""
    if graph.link(fault.target) is not None:
        return frozenset({fault.target})
    if fault.target in graph.processes:
        found = graph.links_of(fault.target)
        if not found:
            raise FieldProblem(("target",), f"{fault.target} has no link in this topology")
        return found
    pool = graph.names if "->" in fault.target else graph.processes
    head = fault.target.split("->")[0].split("-")[0]
    same = [t for t in pool if t.startswith(head)] or list(pool)
    what = "link" if "->" in fault.target else "process"
    raise FieldProblem(
        ("target",),
        f"no {what} {fault.target!r} in this topology; this topology has: {', '.join(same)}",
    )


def link_env(env: FaultEnv) -> tuple[LinkControl, NetGraph]:
    """The fault proxy's links of the cluster (a fault on links needs them)."""
    if env.links is None or env.graph is None:
        raise ValueError("this cluster has no proxied links (the run proxies the faults' links)")
    return env.links, env.graph


def streams_of(fault: PlannedFault) -> tuple[str, ...]:
    stream = str(fault.params.get("stream", "both"))
    return ("upstream", "downstream") if stream == "both" else (stream,)


Toxics = Callable[[Mapping[str, object]], list[tuple[str, dict[str, int]]]]


def toxic_kind(
    name: str,
    help: str,
    params: tuple[ParamSpec, ...],
    toxics: Toxics,
) -> FaultKind:
    """A window kind that puts its toxics (type, attributes) on each of its links' proxies."""

    def inject(env: FaultEnv, fault: PlannedFault) -> Heal:
        control, graph = link_env(env)
        links = links_of_target(graph, fault)
        heals: list[Heal] = []
        try:
            for toxic, attributes in toxics(fault.params):
                heals.append(control.toxic(links, toxic, attributes, streams_of(fault)))
        except Exception:
            for heal in reversed(heals):
                heal()
            raise

        def heal_all() -> None:
            for heal in reversed(heals):
                heal()

        return heal_all

    return register_fault_kind(
        FaultKind(
            name,
            help,
            LINKY,
            window="required",
            inject=inject,
            params=(*params, STREAM),
            links=links_of_target,
        )
    )


def _int(params: Mapping[str, object], key: str) -> int:
    value = params.get(key, 0)
    return int(value) if isinstance(value, (int, float)) else 0


def _latency(p: Mapping[str, object]) -> tuple[str, dict[str, int]]:
    return "latency", {"latency": _int(p, "latency_ms"), "jitter": _int(p, "jitter_ms")}


def one(toxic: str, attributes: Callable[[Mapping[str, object]], dict[str, int]]) -> Toxics:
    return lambda p: [(toxic, attributes(p))]


LATENCY = toxic_kind(
    "latency",
    "Add latency (and jitter) to each stream of a link, or of every link of a process.",
    (
        ParamSpec("latency_ms", "int", "added delay in ms", required=True, minimum=0),
        ParamSpec("jitter_ms", "int", "random +/- delay in ms", default=0, minimum=0),
    ),
    lambda p: [_latency(p)],
)
BANDWIDTH = toxic_kind(
    "bandwidth",
    "Limit each stream of a link (or of every link of a process) to rate_kbps KB/s; with "
    "latency_ms it is also that slow to answer (a bad mobile link).",
    (
        ParamSpec("rate_kbps", "int", "bandwidth in KB/s", required=True, minimum=1),
        ParamSpec("latency_ms", "int", "added delay in ms", default=0, minimum=0),
        ParamSpec("jitter_ms", "int", "random +/- delay in ms", default=0, minimum=0),
    ),
    lambda p: (
        [("bandwidth", {"rate": _int(p, "rate_kbps")})]
        + ([_latency(p)] if _int(p, "latency_ms") else [])
    ),
)
SLICER = toxic_kind(
    "slicer",
    "Cut the bytes of a link into small pieces with a delay between them (fragmented frames).",
    (
        ParamSpec("average_size", "int", "average piece in bytes", default=64, minimum=1),
        ParamSpec("size_variation", "int", "+/- bytes per piece", default=32, minimum=0),
        ParamSpec("delay_us", "int", "delay between pieces in microseconds", default=500),
    ),
    one(
        "slicer",
        lambda p: {
            "average_size": _int(p, "average_size"),
            "size_variation": _int(p, "size_variation"),
            "delay": _int(p, "delay_us"),
        },
    ),
)
RESET = toxic_kind(
    "reset",
    "Reset (TCP RST) a link's connections: each is closed at its first bytes after timeout_ms "
    "(new ones with a RST), so clients reconnect over and over during the window.",
    (ParamSpec("timeout_ms", "int", "delay before the reset", default=0, minimum=0),),
    one("reset_peer", lambda p: {"timeout": _int(p, "timeout_ms")}),
)
SLOW_CLOSE = toxic_kind(
    "slow-close",
    "Delay the closing of a link's connections by delay_ms (half-open peers).",
    (ParamSpec("delay_ms", "int", "close delay in ms", required=True, minimum=0),),
    one("slow_close", lambda p: {"delay": _int(p, "delay_ms")}),
)
LIMIT_DATA = toxic_kind(
    "limit-data",
    "Close each connection of a link once it has carried `bytes` bytes (per stream).",
    (ParamSpec("bytes", "int", "bytes a connection may carry", required=True, minimum=1),),
    one("limit_data", lambda p: {"bytes": _int(p, "bytes")}),
)

__all__ = [
    "BANDWIDTH",
    "LATENCY",
    "LIMIT_DATA",
    "LINKY",
    "RESET",
    "SLICER",
    "SLOW_CLOSE",
    "link_env",
    "links_of_target",
]
