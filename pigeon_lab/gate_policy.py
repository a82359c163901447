"""The gate policy and the grammar of its metric paths, shared by scenarios and the gate.

A policy says what makes a run fail: invariant verdicts, and thresholds in k6's
shape, a metric path and a condition (``{"ack_latency_ms.p99": "< 250"}``).

A metric path is dotted. Its first segment may name a checker, whose metrics it
then walks (``gaps.live_gaps_repaired``, ``slo.availability``); otherwise it walks
the ``slo`` checker's (``ack_latency_ms.p99``, ``availability``). A segment may be
a list index (``faults.0.time_to_recovery_s``), a map key (a workspace name:
``per_workspace.acme.ack_p99``) or ``*``: every element or value, each of which must
meet the condition (``per_workspace.*.ack_p99``).

Which paths exist is what each checker declares it produces (its typed metrics,
``pigeon_lab.checkers.METRICS``): :func:`metric_path_problem` decides from that
alone, for the scenario validator and for the gate's messages. This module sits
between the scenario and report layers: both import it, it imports only the
checkers' registry.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pigeon_lab.checkers import METRICS, checker_names
from pigeon_lab.checkers.metrics import Shape, leaf_paths, shape_of

CONDITION_RE = re.compile(r"^\s*(<=|>=|<|>|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$")
SLO = "slo"
"""The checker whose metrics a path without a checker prefix walks."""


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


@dataclass(frozen=True)
class MetricPath:
    """A threshold path split: the checker whose metrics it walks and the segments.

    ``prefix`` is the checker segment as written ("" when the path starts in the slo
    metrics without naming them), so messages can quote concrete paths as written.
    """

    checker: str
    parts: tuple[str, ...]
    prefix: str


def split_metric_path(path: str, checkers: Collection[str] | None = None) -> MetricPath:
    """Which checker's metrics ``path`` walks: a first segment naming one of ``checkers``
    (default: every registered checker) followed by more, else the slo metrics."""
    known = checker_names() if checkers is None else checkers
    parts = tuple(p for p in path.split(".") if p)
    if len(parts) > 1 and parts[0] in known:
        return MetricPath(parts[0], parts[1:], parts[0])
    return MetricPath(SLO, parts, "")


def metric_shapes() -> dict[str, Shape]:
    """Checker name -> the shape of the metrics it declares."""
    return {name: shape_of(cls) for name, cls in METRICS.items()}


def known_metric_paths() -> tuple[str, ...]:
    """Every numeric metric path the checkers declare (``*``: any index or key), slo's
    without a prefix, then the others' as ``<checker>.<path>``, in report order."""
    shapes = metric_shapes()
    out = leaf_paths(shapes[SLO]) if SLO in shapes else []
    for name in checker_names():
        if name != SLO and name in shapes:
            out += leaf_paths(shapes[name], name)
    return tuple(out)


def metric_path_problem(path: str) -> str | None:
    """Why no checker can produce a number at ``path``; None when it is a valid path.

    Pure: decided from what the checkers declare (their typed metrics), not from a run.
    """
    shapes = metric_shapes()
    where = split_metric_path(path)
    if not where.parts:
        return f"unknown metric {path!r}: the path is empty"
    shape = shapes.get(where.checker)
    if shape is None:
        return f"unknown metric {path!r}: the {where.checker} checker reports no metrics"
    done = [where.prefix] if where.prefix else []
    for i, part in enumerate(where.parts):
        here = ".".join(done) or "the slo metrics"
        rest = where.parts[i + 1 :]
        if shape.kind == "record":
            if part not in shape.fields:
                return _no_such(path, here, part, done, rest, shape, top=not done)
            shape = shape.fields[part]
        elif shape.kind == "list" and shape.item is not None:
            if part != "*" and not part.isdigit():
                return (
                    f"unknown metric {path!r}: '{here}' is a list; index it with a number "
                    f"or '*', not {part!r}"
                )
            shape = shape.item
        elif shape.kind == "map" and shape.item is not None:
            shape = shape.item  # any key (a workspace name), or '*'
        else:
            return f"unknown metric {path!r}: '{here}' is {_what(shape)}, it has no {part!r}"
        done.append(part)
    if shape.kind != "number":
        inside = leaf_paths(shape, path)
        example = f"; name one inside it, e.g. {inside[0]!r}" if inside else ""
        return f"metric {path!r} is {_what(shape)}, not a number{example}"
    return None


def _what(shape: Shape) -> str:
    if shape.kind == "record":
        return f"a group ({', '.join(shape.fields)})"
    return {"list": "a list", "map": "a map (one entry per name)", "text": "text"}.get(
        shape.kind, f"a {shape.kind}"
    )


def _no_such(
    path: str,
    here: str,
    part: str,
    done: Sequence[str],
    rest: Sequence[str],
    shape: Shape,
    *,
    top: bool,
) -> str:
    """``unknown metric 'x': 'y' has no 'z' (has: ...); did you mean '...'?``."""
    names = list(shape.fields)
    owner = "the slo metrics have" if top else f"{here!r} has"
    message = f"unknown metric {path!r}: {owner} no {part!r} (known: {', '.join(names)})"
    others = [n for n in checker_names() if n in METRICS and n != SLO] if top else []
    if others:
        message += f"; other checkers' metrics are '<checker>.<metric>': {', '.join(others)}"
    close = difflib.get_close_matches(part, names + others, n=1, cutoff=0.6)
    if close:
        return message + f"; did you mean {'.'.join([*done, close[0], *rest])!r}?"
    whole = difflib.get_close_matches(path, known_metric_paths(), n=1, cutoff=0.6)
    return message + (f"; did you mean {whole[0]!r}?" if whole else "")
