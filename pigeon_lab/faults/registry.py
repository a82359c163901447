"""The fault kinds a scenario may schedule: name -> FaultKind (validation only).

The scenario validator, ``scenario list`` and the CLI all read ``FAULT_KINDS``.
Injection lives elsewhere (one module per fault family); a kind marked
``available=False`` validates but cannot run yet (it needs the fault proxy).

Targets are named like the supervisor's processes (``node-N``,
``redis-primary``, ``redis-replica-N``, ``sentinel-N``, ``haproxy``) or are
links ``A->B`` between them (``clients->haproxy``, ``haproxy->node-N``,
``node-N->redis``, ``redis-replica-N->redis-primary``; ``clients->node-N``
without a load balancer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

TargetClass = Literal["node", "redis-primary", "redis-replica", "sentinel", "haproxy", "link"]
ParamType = Literal["int", "float", "str"]

PROCESS_TARGETS: frozenset[TargetClass] = frozenset(
    {"node", "redis-primary", "redis-replica", "sentinel", "haproxy"}
)
_INDEXED = re.compile(r"^(node|redis-replica|sentinel)-(\d+)$")


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

    def coerce(self, value: object) -> int | float | str:
        """Check ``value`` against this spec; raise ValueError with the reason."""
        out: int | float | str
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


@dataclass(frozen=True)
class FaultKind:
    """What a scenario may say about one kind of fault; ``help`` is its help text.

    ``needs_duration``: the fault is a window and ``duration_s`` is required.
    ``takes_duration``: False for instantaneous kinds (``duration_s`` is refused).
    """

    name: str
    help: str
    targets: frozenset[TargetClass]
    needs_duration: bool
    takes_duration: bool = True
    params: tuple[ParamSpec, ...] = ()
    available: bool = True
    default_target: str | None = None
    needs: str = ""

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


FAULT_KINDS: dict[str, FaultKind] = {}


def register_fault_kind(kind: FaultKind) -> FaultKind:
    """Add ``kind`` to the registry (replacing one of the same name)."""
    FAULT_KINDS[kind.name] = kind
    return kind


_PROXY = "the fault proxy (not available yet)"
_LINKY: frozenset[TargetClass] = frozenset({"link", "node"})

for _kind in (
    FaultKind(
        "kill",
        "SIGKILL a process; with duration_s it is started again at the end of the window, "
        "otherwise it stays down until the load ends.",
        PROCESS_TARGETS,
        needs_duration=False,
    ),
    FaultKind(
        "pause",
        "SIGSTOP a process for duration_s, then SIGCONT (clients see a hung peer).",
        PROCESS_TARGETS,
        needs_duration=True,
    ),
    FaultKind(
        "restart",
        "Kill a process and start it again at once (a crash and a fast restart).",
        PROCESS_TARGETS,
        needs_duration=False,
        takes_duration=False,
    ),
    FaultKind(
        "drain",
        "SIGTERM a backend node (graceful drain: readiness 503, clients disconnected); "
        "with duration_s it is started again at the end of the window.",
        frozenset({"node"}),
        needs_duration=False,
    ),
    FaultKind(
        "redis-failover",
        "Ask the Sentinels to fail the Redis primary over to a replica and wait for it.",
        frozenset({"redis-primary"}),
        needs_duration=False,
        takes_duration=False,
        default_target="redis-primary",
    ),
    FaultKind(
        "partition",
        "Cut a link (or every link of a node) for duration_s: connections are refused.",
        _LINKY,
        needs_duration=True,
        available=False,
        needs=_PROXY,
    ),
    FaultKind(
        "latency",
        "Add latency (and jitter) to a link for duration_s.",
        _LINKY,
        needs_duration=True,
        params=(
            ParamSpec("latency_ms", "int", "added delay in ms", required=True, minimum=0),
            ParamSpec("jitter_ms", "int", "random +/- delay in ms", default=0, minimum=0),
        ),
        available=False,
        needs=_PROXY,
    ),
    FaultKind(
        "bandwidth",
        "Limit a link's bandwidth for duration_s.",
        _LINKY,
        needs_duration=True,
        params=(ParamSpec("rate_kbps", "int", "bandwidth in KB/s", required=True, minimum=1),),
        available=False,
        needs=_PROXY,
    ),
    FaultKind(
        "reset",
        "Reset (TCP RST) the connections of a link for duration_s.",
        _LINKY,
        needs_duration=True,
        params=(ParamSpec("timeout_ms", "int", "delay before the reset", default=0, minimum=0),),
        available=False,
        needs=_PROXY,
    ),
    FaultKind(
        "slow-close",
        "Delay the closing of a link's connections for duration_s.",
        _LINKY,
        needs_duration=True,
        params=(ParamSpec("delay_ms", "int", "close delay in ms", required=True, minimum=0),),
        available=False,
        needs=_PROXY,
    ),
):
    register_fault_kind(_kind)


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


def link_targets(nodes: int, replicas: int, load_balancer: bool) -> list[str]:
    """The links of a topology that the fault proxy could carry, as ``A->B``."""
    node_names = [f"node-{i}" for i in range(1, nodes + 1)]
    if load_balancer:
        links = ["clients->haproxy"] + [f"haproxy->{n}" for n in node_names]
    else:
        links = [f"clients->{n}" for n in node_names]
    links += [f"{n}->redis" for n in node_names]
    links += [f"redis-replica-{i}->redis-primary" for i in range(1, replicas + 1)]
    return links


def target_class(target: str) -> str:
    """A best-effort class of a target name, for messages ('node', 'link', ...)."""
    if "->" in target:
        return "link"
    match = _INDEXED.match(target)
    return match.group(1) if match else target
