"""What a run checks: the checkers by name, how they judge, and the gate policy.

Checker names and metric paths come from the checker registry
(``pigeon_lab.checkers``) and what each checker declares it measures; this module
imports neither the report layer nor a list of its own.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from pigeon_lab.checkers import checker_names
from pigeon_lab.gate_policy import GatePolicy, known_metric_paths, metric_path_problem
from pigeon_lab.scenario._common import FieldProblem, Frozen, unknown

INVARIANTS: tuple[str, ...] = checker_names()
"""Checker names in report order (the registry of ``pigeon_lab.checkers``)."""

DEFAULT_INVARIANTS: tuple[str, ...] = checker_names(("chat",))
"""What ``checks.invariants`` defaults to on its own: the default workload's checkers. A
scenario replaces it with the checkers of the workloads it runs (``default_invariants``)."""


def default_invariants(workloads: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The checkers a scenario running ``workloads`` checks unless it names its own: those
    that judge one of them, each as it registered itself (``register(..., workload=)``)."""
    return checker_names(workloads) or DEFAULT_INVARIANTS


SLO_METRICS: tuple[str, ...] = known_metric_paths()
"""Numeric metric paths a gate threshold may name (``*``: any list index or workspace),
as the checkers declare them; see ``pigeon_lab.gate_policy``."""


class Checks(Frozen):
    """Which checkers run, how they judge, and what fails the gate."""

    invariants: tuple[str, ...] = Field(
        default=DEFAULT_INVARIANTS,
        description="checker names, run in this order (default: the checkers of the "
        "workloads the scenario runs)",
    )
    bucket_s: float = Field(default=1.0, gt=0, description="width of the SLO timeline buckets")
    max_counterexamples: int = Field(
        default=10, ge=1, description="counterexamples a failing checker reports at most"
    )
    settle_ms: float = Field(
        default=5000.0,
        ge=0,
        description="how long a correct client may take to deliver a committed message",
    )
    gate: GatePolicy = Field(
        default_factory=lambda: GatePolicy.model_validate({}),
        description="SLO thresholds, strictness",
    )

    @field_validator("invariants")
    @classmethod
    def _known_checkers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = checker_names()
        if not value:
            raise ValueError(f"name at least one checker; known: {', '.join(known)}")
        for i, name in enumerate(value):
            if name not in known:
                raise FieldProblem((i,), unknown("checker", name, known))
            if name in value[:i]:
                raise FieldProblem((i,), f"checker {name!r} is listed twice")
        return value

    @field_validator("gate")
    @classmethod
    def _known_metrics(cls, value: GatePolicy) -> GatePolicy:
        for metric in value.thresholds:
            problem = metric_path_problem(metric)
            if problem is not None:
                raise FieldProblem(("thresholds", metric), problem)
        return value
