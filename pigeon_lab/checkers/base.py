"""What every checker shares: its input, its verdict and the registry.

A checker is a pure function ``check(history, context) -> Verdict``. It reads
the whole history after the run; it never raises past ``run_checker``, which
turns an exception into ``unknown`` (a crashing checker proves nothing, so it
must never read as ``pass``).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from pigeon_lab.checkers.metrics import Metrics


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Counterexample:
    """One violation, with the rows that prove it (as plain dicts, JSON-ready)."""

    summary: str
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """A checker's answer: outcome, counts, the first counterexamples, and metrics.

    ``metrics`` holds figures that are reported but not judged (e.g. live-push
    gaps the client repaired, latency percentiles).
    """

    name: str
    outcome: Outcome
    summary: str
    counts: dict[str, int] = field(default_factory=dict)
    counterexamples: list[Counterexample] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class FaultWindow:
    """A fault as it ran: kind, target and its window on the history's clock (ns).

    ``params``: the fault's parameters as scheduled (``{"latency_ms": 200}``); ``error``:
    why injecting or healing it failed, None when it ran; ``label``: how the report names
    the window (``"latency 200 ms haproxy->node-2"``), ``"<kind> <target>"`` when not given.
    """

    kind: str
    target: str
    start_t: int
    end_t: int | None
    params: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", f"{self.kind} {self.target}")


CAPABILITIES: frozenset[str] = frozenset({"acks", "seqs", "history", "client_ids", "server_sender"})
"""What a target can show (a target profile's ``capabilities``; the bundled backend has all)."""


@dataclass(frozen=True)
class ResourceSample:
    """A process's resident memory at ``t`` (ns, history clock), from ``resources.json``."""

    t: int
    process: str
    rss_bytes: int


@dataclass(frozen=True)
class CheckContext:
    """Everything a checker may read besides the history.

    ``final_log``: the quiescent read-back (FINAL_LOG_SCHEMA), or None when it is
    missing; ``readback``: one row per channel read back (READBACK_SCHEMA), or None.
    ``complete``: False when the history was cut short (load aborted).
    ``client_groups``: which client group each user is in (the slo checker's per-group
    figures); empty when the topology declares none.
    ``settle_ms``: how long a correct client may take to deliver a committed message
    (live push, or the repair of a lost one); the gaps checker requires of a client
    only the messages acknowledged at least this long before it stopped.
    ``capabilities``: what the target can show; a checker that needs one it lacks says
    ``unknown`` and names it (``NEEDS``), a checker that can degrade reads this set.
    """

    final_log: pd.DataFrame | None
    readback: pd.DataFrame | None = None
    faults: tuple[FaultWindow, ...] = ()
    complete: bool = True
    ack_timeout_ms: float = 5000.0
    bucket_s: float = 1.0
    max_counterexamples: int = 10
    settle_ms: float = 5000.0
    capabilities: frozenset[str] = CAPABILITIES
    client_groups: Mapping[str, str] = field(default_factory=dict)
    """User -> client group (``topology.client_groups``); users not named are ``clients``."""
    resources: tuple[ResourceSample, ...] = ()
    """The cluster's processes' memory over the run (empty when not sampled)."""
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    """Other workloads' read-back tables in the run folder, by file name
    (``voice_rooms.parquet``); absent files are absent here."""


Checker = Callable[[pd.DataFrame, CheckContext], Verdict]

REGISTRY: dict[str, Checker] = {}
"""Checker name -> checker, in report order: the order the modules register in
(``pigeon_lab.checkers`` imports them in that order)."""

METRICS: dict[str, type[Metrics]] = {}
"""Checker name -> the typed metrics its verdict carries (``Verdict.metrics`` is that
type's ``to_dict()``); the schema of the metric paths a gate threshold may name.
Checkers without figures are absent."""


@dataclass(frozen=True)
class Description:
    """What a checker's pass proves, and what it cannot see (shown beside its verdict)."""

    proves: str
    blind_spots: tuple[str, ...] = ()


DESCRIPTIONS: dict[str, Description] = {}
"""Checker name -> its description, when declared with ``declare_description``; otherwise
``describe`` reads the ``PROVES`` / ``BLIND_SPOTS`` constants of the checker's module."""


NEEDS: dict[str, tuple[str, ...]] = {}
"""Checker name -> the target capabilities it cannot decide without (``CAPABILITIES``)."""

WORKLOAD_OF: dict[str, str | None] = {}
"""Checker name -> the workload whose history it judges (None: every scenario's). A
scenario's default ``checks.invariants`` are the checkers of the workloads it runs."""


def register(
    name: str,
    *,
    metrics: type[Metrics] | None = None,
    needs: tuple[str, ...] = (),
    workload: str | None = "chat",
) -> Callable[[Checker], Checker]:
    """Add a checker to the registry under ``name``; its docstring is its help text.

    ``metrics``: the dataclass its verdict's metrics are built from (see ``declare_metrics``).
    ``needs``: the capabilities without which it can only say ``unknown``.
    ``workload``: the workload it judges (chat, the default workload, unless said otherwise;
    None: it runs by default whatever the scenario runs).
    """
    unknown_caps = set(needs) - CAPABILITIES
    if unknown_caps:
        raise ValueError(f"checker {name!r} needs unknown capabilities {sorted(unknown_caps)}")

    def deco(fn: Checker) -> Checker:
        REGISTRY[name] = fn
        NEEDS[name] = tuple(needs)
        WORKLOAD_OF[name] = workload
        if metrics is not None:
            declare_metrics(name, metrics)
        return fn

    return deco


def missing_capabilities(name: str, capabilities: frozenset[str]) -> list[str]:
    """What checker ``name`` needs that a target with ``capabilities`` lacks."""
    return [c for c in NEEDS.get(name, ()) if c not in capabilities]


def declare_metrics(name: str, metrics: type[Metrics]) -> None:
    """Declare the typed metrics checker ``name`` produces (what gate thresholds may name)."""
    METRICS[name] = metrics


def declare_description(name: str, proves: str, blind_spots: tuple[str, ...] = ()) -> None:
    """Say what checker ``name`` proves and cannot see (for a checker whose module has no
    ``PROVES`` / ``BLIND_SPOTS``, or to override them)."""
    DESCRIPTIONS[name] = Description(proves, tuple(blind_spots))


def describe(name: str) -> Description | None:
    """What checker ``name`` proves and cannot see: its declared description, else its
    module's ``PROVES`` (a str) and ``BLIND_SPOTS`` (strings); None when it says nothing."""
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    fn = REGISTRY.get(name)
    module = sys.modules.get(fn.__module__) if fn is not None else None
    proves = getattr(module, "PROVES", None)
    if not isinstance(proves, str) or not proves:
        return None
    spots = getattr(module, "BLIND_SPOTS", ())
    return Description(proves, tuple(s for s in spots if isinstance(s, str)))


def checker_names(workloads: Iterable[str] | None = None) -> tuple[str, ...]:
    """Every registered checker's name, in report order; with ``workloads``, only those
    that judge one of them (or every workload)."""
    if workloads is None:
        return tuple(REGISTRY)
    wanted = set(workloads)
    return tuple(n for n in REGISTRY if WORKLOAD_OF.get(n, "chat") in wanted | {None})


def run_checker(name: str, history: pd.DataFrame, context: CheckContext) -> Verdict:
    """Run one checker; an exception becomes ``unknown`` with the error, never ``pass``; a
    checker that needs a capability the target lacks is ``unknown`` naming it."""
    fn = REGISTRY[name]
    missing = missing_capabilities(name, context.capabilities)
    if missing:
        return Verdict(
            name=name,
            outcome=Outcome.UNKNOWN,
            summary=f"cannot decide: the target has no {', '.join(missing)} "
            "(its profile's capabilities)",
        )
    try:
        return fn(history, context)
    except Exception as exc:  # a crashing checker must yield unknown
        return Verdict(
            name=name,
            outcome=Outcome.UNKNOWN,
            summary=f"checker crashed: {type(exc).__name__}: {exc}",
            error="".join(traceback.format_exception(exc))[-4000:],
        )
