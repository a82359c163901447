"""The gate policy: SLO thresholds and how strict to be about invariants.

Thresholds follow k6's shape: a metric path into the SLO checker's metrics and
a condition, e.g. ``{"ack_latency_ms.p99": "< 250", "availability": ">= 0.999"}``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

CONDITION_RE = re.compile(r"^\s*(<=|>=|<|>|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$")


class GatePolicy(BaseModel):
    """What makes a run fail: invariant verdicts and SLO thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invariant_failures_max: int = Field(
        default=0, ge=0, description="invariant verdicts allowed to fail"
    )
    allow_unknown: bool = Field(
        default=False, description="treat an `unknown` invariant verdict as passing the gate"
    )
    thresholds: dict[str, str] = Field(
        default_factory=dict,
        description='metric path -> condition, e.g. {"ack_latency_ms.p99": "< 250"}',
    )

    @field_validator("thresholds")
    @classmethod
    def _conditions_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for metric, condition in value.items():
            if not CONDITION_RE.match(condition):
                raise ValueError(
                    f"threshold {metric!r}: condition {condition!r} is not "
                    "'<op> <number>' with op one of < <= > >= == !="
                )
        return value
