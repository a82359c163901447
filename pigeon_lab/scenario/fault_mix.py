"""The seeded fault mix, Jepsen's nemesis generator: ``faults: {random: {...}}``.

Before the run the mix expands to a concrete schedule, which the scenario then holds (and
the run folder's ``scenario.yaml`` with it), so ``scenario run RUN_DIR/scenario.yaml``
reproduces a failing mix exactly. The generator sleeps ``interval_s``, starts one fault
(a kind and a target drawn among those that fit each other), lets it run for a duration
drawn from ``duration_s: [min, max]`` (instantaneous kinds take none), heals it, and so
on until the load ends; one fault at a time, every window inside the load.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen, unknown
from pigeon_lab.faults import FAULT_KINDS, FaultKind, NetGraph

Targets = tuple[str, ...] | Literal["links", "processes", "all"]


class RandomMix(Frozen):
    """What the generator draws from (``faults.random``)."""

    kinds: tuple[str | dict[str, dict[str, Any]], ...] = Field(
        min_length=1, description="kind names, or {kind: params} for kinds that need params"
    )
    targets: Targets = Field(
        default="links",
        description="processes, links or shapes to draw from; or links, processes, all",
    )
    interval_s: float = Field(default=3, gt=0, description="quiet time before each fault")
    duration_s: tuple[float, float] = Field(default=(2, 5), description="[min, max] window")
    seed: int | None = Field(default=None, description="default: the scenario's seed")

    @field_validator("duration_s")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1]:
            raise ValueError(f"expected 0 < min <= max, got [{value[0]:g}, {value[1]:g}]")
        return value

    @model_validator(mode="after")
    def _kinds_known(self) -> RandomMix:
        for i, entry in enumerate(self.kinds):
            name, params = _entry(entry)
            kind = FAULT_KINDS.get(name)
            if kind is None:
                raise FieldProblem(("kinds", i), unknown("fault kind", name, list(FAULT_KINDS)))
            try:
                kind.check_params(params)
            except ValueError as exc:
                raise FieldProblem(("kinds", i), str(exc)) from None
        return self


def _entry(entry: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if len(entry) != 1:
        raise FieldProblem((), "a kind with params is a mapping of one kind to its params")
    ((name, params),) = entry.items()
    return str(name), dict(params or {})


def _pool(mix: RandomMix, graph: NetGraph, processes: Mapping[str, str]) -> list[str]:
    if mix.targets == "links":
        return list(graph.names)
    if mix.targets == "processes":
        return list(processes)
    if mix.targets == "all":
        return [*processes, *graph.names]
    return list(mix.targets)


def _fits(kind: FaultKind, target: str, graph: NetGraph, processes: Mapping[str, str]) -> bool:
    if target in kind.shapes:
        return True
    klass = "link" if graph.link(target) is not None else processes.get(target)
    return klass is not None and klass in kind.targets


def expand(
    raw: object,
    *,
    graph: NetGraph,
    processes: Mapping[str, str],
    load_s: float,
    seed: int,
) -> list[dict[str, Any]]:
    """The concrete schedule of ``{random: {...}}`` (FieldProblem paths under ``faults``)."""
    if not isinstance(raw, Mapping) or set(raw) != {"random"}:
        raise FieldProblem((), "a mapping here must be {random: {kinds, targets, ...}}")
    try:
        mix = RandomMix.model_validate(raw["random"])
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        loc = tuple(first.get("loc", ()))
        if isinstance(cause, FieldProblem):
            raise FieldProblem(("random", *loc, *cause.path), cause.reason) from None
        raise FieldProblem(("random", *loc), str(first.get("msg"))) from None
    pool = _pool(mix, graph, processes)
    for i, target in enumerate(pool):
        if (
            target not in processes
            and graph.link(target) is None
            and not any(target in k.shapes for k in FAULT_KINDS.values())
        ):
            raise FieldProblem(("random", "targets", i), f"no {target!r} in this topology")
    choices = []
    for i, entry in enumerate(mix.kinds):
        name, params = _entry(entry)
        kind = FAULT_KINDS[name]
        fitting = [t for t in pool if _fits(kind, t, graph, processes)]
        if not fitting:
            raise FieldProblem(("random", "kinds", i), f"{name} fits none of the targets")
        choices.append((kind, params, fitting))
    rng = random.Random(f"fault-mix-{seed if mix.seed is None else mix.seed}")
    low, high = mix.duration_s
    out: list[dict[str, Any]] = []
    at = mix.interval_s
    while at < load_s:
        kind, params, fitting = rng.choice(choices)
        fault: dict[str, Any] = {"at_s": round(at, 3), "kind": kind.name}
        fault["target"] = rng.choice(fitting)
        if params:
            fault["params"] = params
        if kind.takes_duration:
            length = min(round(rng.uniform(low, high), 3), round(load_s - at, 3))
            if length < low / 2 or length <= 0:
                break
            fault["duration_s"] = length
            at += length
        out.append(fault)
        at += mix.interval_s
    return out


__all__ = ["RandomMix", "expand"]
