"""What a fault kind is: its params schema, its targets, its window, inject and heal.

A fault is a package (Jepsen's nemesis packages; style.md): one ``FaultKind`` says
what a scenario may write about it (``params``, which ``targets`` it takes, whether it
is a window) and how to run it (``inject`` returns the ``Heal`` that undoes it). The
scheduler calls ``inject`` at the fault's time and the heal at the end of its window,
and heals whatever is still open when the load ends, whatever happens. The report
names each window with ``label``. A kind without ``inject`` validates in scenario
files but cannot run in this version (``needs`` says what it waits for).

Targets are named like the supervisor's processes (``node-N``, ``redis-primary``,
``redis-replica-N``, ``sentinel-N``, ``haproxy``), client groups (``clients``,
``clients-<name>``), links ``A->B`` between them (``netgraph.py``), or a shape a kind
names (``grudge``). A kind that acts on links says which (``links``), so that the run
proxies them and the validator can refuse two faults on one link at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pigeon_lab.faults.netgraph import NetGraph

TargetClass = Literal[
    "node", "redis-primary", "redis-replica", "sentinel", "haproxy", "link", "clients", "shape"
]
ParamType = Literal["int", "float", "str", "list"]
Window = Literal["required", "optional", "none"]
"""``required``: a window, ``duration_s`` needed; ``optional``: without ``duration_s`` it
lasts until the load ends; ``none``: instantaneous, ``duration_s`` refused."""

PROCESS_TARGETS: frozenset[TargetClass] = frozenset(
    {"node", "redis-primary", "redis-replica", "sentinel", "haproxy"}
)


Heal = Callable[[], None]


class ClusterControl(Protocol):
    """The part of the supervisor that process and Redis faults drive (``Cluster``)."""

    def kill(self, name: str) -> None: ...
    def pause(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def restart(self, name: str) -> None: ...
    def drain(self, name: str) -> int | None: ...
    def failover(self) -> str: ...


class LinkControl(Protocol):
    """The fault proxy's side of the cluster (``pigeon_lab.cluster.link_faults.LinkFaults``):
    each call acts on every proxy of the links named and returns the heal."""

    def cut(self, links: Collection[str], mode: str) -> Heal: ...
    def toxic(
        self,
        links: Collection[str],
        type: str,
        attributes: Mapping[str, int],
        streams: Sequence[str] = ...,
        toxicity: float = ...,
    ) -> Heal: ...
    def heal_all(self) -> None: ...


@dataclass(frozen=True)
class FaultEnv:
    """What faults act on: the supervised cluster and its proxied links (None: none)."""

    cluster: ClusterControl
    links: LinkControl | None = None
    graph: NetGraph | None = None


Inject = Callable[["FaultEnv", "PlannedFault"], Heal]
LinksOf = Callable[[NetGraph, "PlannedFault"], frozenset[str]]
"""The links a fault acts on; raises ``FieldProblem`` (path under the fault) when its
target or params name nothing of the topology."""


@dataclass(frozen=True)
class PlannedFault:
    """A fault of the scenario: at ``at_s`` after load start, for ``duration_s`` (None:
    instantaneous, or until the load ends), with its validated ``params``."""

    kind: str
    target: str
    at_s: float
    duration_s: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TopologyFacts:
    """What a kind may check about the topology (no import of the scenario model)."""

    nodes: int
    replicas: int
    sentinels: int
    load_balancer: bool
    proxied_links: tuple[str, ...] = ()
    client_groups: tuple[str, ...] = ()
    shared_fronts: bool = False
    """The fault proxy has no per-source proxies (a real toxiproxy-server)."""

    def graph(self) -> NetGraph:
        return NetGraph(
            self.nodes, self.replicas, self.sentinels, self.load_balancer, self.client_groups
        )


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a fault kind, with its type, bounds and default."""

    name: str
    type: ParamType
    help: str
    required: bool = False
    default: int | float | str | None = None
    minimum: float | None = None
    choices: tuple[str, ...] = ()

    def coerce(self, value: object) -> int | float | str | list[str]:
        """Check ``value`` against this spec; raise ValueError with the reason."""
        out: int | float | str
        if self.type == "list":
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise ValueError(f"expected a list of names, got {value!r}")
            bad = [v for v in value if not isinstance(v, str)]
            if bad:
                raise ValueError(f"expected names (strings), got {bad[0]!r}")
            return list(value)
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"expected an integer, got {value!r}")
            out = value
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expected a number, got {value!r}")
            out = float(value)
        elif isinstance(value, str):
            out = value
        else:
            raise ValueError(f"expected a string, got {value!r}")
        if self.minimum is not None and not isinstance(out, str) and out < self.minimum:
            raise ValueError(f"must be >= {self.minimum:g}, got {out!r}")
        if self.choices and out not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {out!r}")
        return out


def default_label(fault: PlannedFault) -> str:
    """``kill node-2`` or ``latency haproxy->node-2 (latency_ms=200)``."""
    params = ", ".join(f"{k}={v}" for k, v in fault.params.items())
    return f"{fault.kind} {fault.target}" + (f" ({params})" if params else "")


@dataclass(frozen=True)
class FaultKind:
    """What a scenario may say about one kind of fault, and how to run it.

    ``help`` is its help text (``scenario kinds``). ``check_topology(facts, target)``
    returns a reason when the topology cannot run it (e.g. a failover without Sentinels).
    """

    name: str
    help: str
    targets: frozenset[TargetClass]
    window: Window
    inject: Inject | None = None
    params: tuple[ParamSpec, ...] = ()
    default_target: str | None = None
    needs: str = ""
    label: Callable[[PlannedFault], str] = default_label
    check_topology: Callable[[TopologyFacts, str], str | None] | None = None
    links: LinksOf | None = None
    shapes: tuple[str, ...] = ()
    """Target names that are shapes, not processes or links (``grudge``)."""

    @property
    def available(self) -> bool:
        """Whether this version can run it (it has an injector)."""
        return self.inject is not None

    @property
    def needs_duration(self) -> bool:
        return self.window == "required"

    @property
    def takes_duration(self) -> bool:
        return self.window != "none"

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params`` and fill defaults; raise ValueError naming the param."""
        known = {p.name: p for p in self.params}
        for name in params:
            if name not in known:
                names = ", ".join(known) or "none"
                raise ValueError(f"unknown param {name!r} for {self.name}; known: {names}")
        out: dict[str, Any] = {}
        for spec in self.params:
            if spec.name in params:
                try:
                    out[spec.name] = spec.coerce(params[spec.name])
                except ValueError as exc:
                    raise ValueError(f"param {spec.name!r}: {exc}") from None
            elif spec.required:
                raise ValueError(f"missing param {spec.name!r} for {self.name} ({spec.help})")
            elif spec.default is not None:
                out[spec.name] = spec.default
        return out


__all__ = [
    "PROCESS_TARGETS",
    "ClusterControl",
    "FaultEnv",
    "FaultKind",
    "Heal",
    "Inject",
    "LinkControl",
    "LinksOf",
    "ParamSpec",
    "PlannedFault",
    "TargetClass",
    "TopologyFacts",
    "Window",
    "default_label",
]
