"""What a run checks: the checkers by name and the gate policy (SLO thresholds)."""

from __future__ import annotations

from pydantic import Field, field_validator

from pigeon_lab.report.policy import GatePolicy
from pigeon_lab.scenario._common import FieldProblem, Frozen, unknown

INVARIANTS: tuple[str, ...] = (
    "durability",
    "order",
    "gaps",
    "delivery",
    "idempotence",
    "isolation",
    "slo",
)
"""Checker names in report order (the registry of ``pigeon_lab.checkers``)."""

SLO_SERIES: tuple[str, ...] = ("ack_latency_ms", "delivery_latency_ms", "reconnect_ms")
SLO_STATS: tuple[str, ...] = ("n", "p50", "p95", "p99", "max", "mean")
SLO_METRICS: tuple[str, ...] = (
    *(f"{s}.{t}" for s in SLO_SERIES for t in SLO_STATS),
    "availability",
)
"""Metric paths a gate threshold may name (the ``slo`` verdict's metrics)."""


class Checks(Frozen):
    """Which checkers run and what fails the gate."""

    invariants: tuple[str, ...] = Field(
        default=INVARIANTS, description="checker names, run in this order"
    )
    bucket_s: float = Field(default=1.0, gt=0, description="width of the SLO timeline buckets")
    gate: GatePolicy = Field(
        default_factory=lambda: GatePolicy.model_validate({}),
        description="SLO thresholds, strictness",
    )

    @field_validator("invariants")
    @classmethod
    def _known_checkers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"name at least one checker; known: {', '.join(INVARIANTS)}")
        for i, name in enumerate(value):
            if name not in INVARIANTS:
                raise FieldProblem((i,), unknown("checker", name, INVARIANTS))
            if name in value[:i]:
                raise FieldProblem((i,), f"checker {name!r} is listed twice")
        return value

    @field_validator("gate")
    @classmethod
    def _known_metrics(cls, value: GatePolicy) -> GatePolicy:
        for metric in value.thresholds:
            if metric not in SLO_METRICS:
                raise FieldProblem(("thresholds", metric), unknown("metric", metric, SLO_METRICS))
        return value
