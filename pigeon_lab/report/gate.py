"""The gate: invariant verdicts and SLO thresholds -> pass or fail (exit code 0 or 1).

Invariants: one check per verdict except ``slo`` (gated by policy, not by law).
``fail`` fails its check; ``unknown`` fails it unless ``policy.allow_unknown``.
The gate fails when more invariant checks fail than ``invariant_failures_max``.
A run with no verdict at all fails: a checker that never ran proves nothing.

Thresholds: ``metric path -> condition`` (k6 style, ``"< 250"``). The path is
dotted into the ``slo`` verdict's metrics (``ack_latency_ms.p99``,
``availability``); a first segment naming another checker reaches that
checker's metrics instead (``gaps.live_gaps_repaired``, ``slo.availability``).
A segment may be a list index (``faults.0.time_to_recovery_s``) or ``*``, which
takes every element or value and requires each to meet the condition
(``per_workspace.*.ack_p99``). The grammar, and which paths the checkers can
produce at all, is ``pigeon_lab.gate_policy``'s (the scenario validator's too).
A missing metric, a null value or a non-number fails the check, with a message
that says so; a path no checker produces says that, with a suggestion.

Faults: a fault that could not be injected or healed (its ``error`` in ``faults.json``)
is one more check, ``faults[i]``, observed ``unknown``: the run did not test what its
scenario says, so the gate fails whatever the policy (``allow_unknown`` is about
checkers that could not decide, not about a schedule that did not run).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pigeon_lab.checkers.base import Outcome, Verdict, checker_names
from pigeon_lab.errors import ConfigError
from pigeon_lab.gate_policy import (
    CONDITION_RE,
    GatePolicy,
    metric_path_problem,
    split_metric_path,
)
from pigeon_lab.gate_policy import SLO as SLO  # re-exported: the name readers import
from pigeon_lab.report.model import FaultSpan, GateCheck, GateResult

NOT_INVARIANTS = frozenset({SLO})

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class _Missing:
    """Where a metric path leads nowhere: the reason why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def evaluate_gate(
    verdicts: Sequence[Verdict], policy: GatePolicy, faults: Sequence[FaultSpan] = ()
) -> GateResult:
    """Judge the verdicts against the policy: one check per invariant and per threshold,
    and one per fault that failed to inject or heal."""
    checks = [
        _invariant_check(v, policy.allow_unknown) for v in verdicts if v.name not in NOT_INVARIANTS
    ]
    failures = sum(not c.passed for c in checks)
    if not verdicts:
        checks.append(
            GateCheck("verdicts", "invariant", None, "pass", None, False, "no checker ran")
        )
        failures += 1
    threshold_checks = [
        threshold_check(verdicts, metric, condition)
        for metric, condition in policy.thresholds.items()
    ]
    fault_checks = [fault_check(i, f) for i, f in enumerate(faults) if f.error]
    passed = failures <= policy.invariant_failures_max and all(c.passed for c in threshold_checks)
    if not verdicts or fault_checks:
        passed = False
    return GateResult(
        passed=passed,
        checks=checks + threshold_checks + fault_checks,
        invariant_failures=failures,
        invariant_failures_max=policy.invariant_failures_max,
        allow_unknown=policy.allow_unknown,
    )


def fault_check(index: int, fault: FaultSpan) -> GateCheck:
    """A fault whose injection or heal failed: the run's result is unknown (gate fails)."""
    return GateCheck(
        f"faults[{index}]",
        "fault",
        None,
        "injected and healed",
        "unknown",
        False,
        f"unknown: {fault.label}: {fault.error} (the run did not test what the scenario says)",
    )


def exit_code(gate: GateResult) -> int:
    """0 when the gate passed, 1 when it failed."""
    return 0 if gate.passed else 1


def _invariant_check(verdict: Verdict, allow_unknown: bool) -> GateCheck:
    outcome = verdict.outcome
    if outcome is Outcome.PASS:
        passed, message = True, verdict.summary or "pass"
    elif outcome is Outcome.UNKNOWN:
        passed = allow_unknown
        why = "allowed by policy" if allow_unknown else "unknown is not pass"
        message = f"unknown ({why}): {verdict.summary}"
    else:
        passed, message = False, f"fail: {verdict.summary}"
    condition = "pass or unknown" if allow_unknown else "pass"
    return GateCheck(
        verdict.name, "invariant", None, condition, str(outcome.value), passed, message
    )


def threshold_check(verdicts: Sequence[Verdict], metric: str, condition: str) -> GateCheck:
    """Judge one threshold: resolve ``metric`` and compare it with ``condition``."""
    op, bound = parse_condition(condition)
    cond = f"{op} {condition.strip()[len(op) :].strip()}"

    def check(observed: Any, passed: bool, message: str) -> GateCheck:
        return GateCheck(metric, "threshold", metric, cond, observed, passed, message)

    value = resolve_metric(verdicts, metric)
    if isinstance(value, _Missing):
        never = metric_path_problem(metric)  # no checker can produce it: say so, suggest
        reason = f"metric not found ({never})" if never else value.reason
        return check(None, False, f"{metric}: {reason}")
    values = value if isinstance(value, _Many) else _Many([(metric, value)])
    if not values.items:
        return check(None, False, f"{metric}: '*' matched nothing")
    worst: tuple[str, Any] | None = None
    for where, v in values.items:
        if v is None:
            return check(None, False, f"{where} is null (not measured)")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return check(str(v), False, f"{where} is {v!r}, not a number")
        if isinstance(v, float) and math.isnan(v):
            return check(None, False, f"{where} is NaN (not measured)")
        if not OPS[op](v, bound):
            return check(v, False, f"{where} = {_fmt(v)}, needs {cond}")
        if worst is None or _closer(v, worst[1], op, bound):
            worst = (where, v)
    assert worst is not None
    where, v = worst
    return check(v, True, f"{where} = {_fmt(v)}, meets {cond}")


class _Many:
    """Several values reached through a ``*`` segment, each with its concrete path."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items


def parse_condition(condition: str) -> tuple[str, float]:
    """``"< 250"`` -> ``("<", 250.0)``; a malformed condition raises ConfigError."""
    match = CONDITION_RE.match(condition)
    if not match:
        raise ConfigError(
            f"condition {condition!r} is not '<op> <number>' with op one of < <= > >= == !=",
            source="gate policy",
        )
    return match.group(1), float(match.group(2))


def resolve_metric(verdicts: Sequence[Verdict], path: str) -> Any:
    """The value at ``path`` (see module docstring), a ``_Many`` for ``*``, or ``_Missing``."""
    by_name = {v.name: v for v in verdicts}
    where = split_metric_path(path, {*checker_names(), *by_name})
    if not where.parts:
        return _Missing("empty metric path")
    verdict = by_name.get(where.checker)
    if verdict is None:
        name = where.checker
        return _Missing(f"no '{name}' verdict in this run (is the {name} checker enabled?)")
    if verdict.outcome is Outcome.UNKNOWN and not verdict.metrics:
        return _Missing(f"the {verdict.name} checker did not decide: {verdict.summary}")
    rest = list(where.parts)
    found = _walk(verdict.metrics, rest, where.prefix)
    if isinstance(found, _Missing) or "*" not in rest:
        return found if isinstance(found, _Missing) else found[0][1]
    return _Many(found)


def _walk(node: Any, parts: list[str], where: str) -> list[tuple[str, Any]] | _Missing:
    """Every (concrete path, value) that ``parts`` reaches from ``node``."""

    def join(a: str, b: str) -> str:
        return f"{a}.{b}" if a else b

    for i, part in enumerate(parts):
        if part == "*":
            if isinstance(node, Mapping):
                children = [(join(where, str(k)), v) for k, v in node.items()]
            elif isinstance(node, list):
                children = [(join(where, str(j)), v) for j, v in enumerate(node)]
            else:
                return _Missing(
                    f"'{where or 'metrics'}' is not a mapping or list, cannot expand '*'"
                )
            out: list[tuple[str, Any]] = []
            for child_where, child in children:
                got = _walk(child, parts[i + 1 :], child_where)
                if isinstance(got, _Missing):
                    return got
                out.extend(got)
            return out
        if isinstance(node, Mapping):
            if part not in node:
                known = ", ".join(sorted(map(str, node))[:12]) or "none"
                return _Missing(
                    f"metric not found: no '{part}' in '{where or 'metrics'}' (has: {known})"
                )
            node = node[part]
        elif isinstance(node, list) and part.isdigit():
            if int(part) >= len(node):
                return _Missing(f"metric not found: '{where}' has {len(node)} items, no [{part}]")
            node = node[int(part)]
        else:
            return _Missing(f"metric not found: '{where or 'metrics'}' has no '{part}'")
        where = join(where, part)
    return [(where, node)]


def _closer(v: float, other: float, op: str, bound: float) -> bool:
    """Whether ``v`` is nearer the bound than ``other`` (the worst value is reported)."""
    if op in ("<", "<="):
        return v > other
    if op in (">", ">="):
        return v < other
    return abs(v - bound) < abs(other - bound)


def _fmt(v: float) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def policy_from_mapping(data: Any, source: str = "gate policy") -> GatePolicy:
    """A GatePolicy from a dict; a bad one raises ConfigError naming source and field."""
    if data is None:
        return GatePolicy()
    if not isinstance(data, Mapping):
        raise ConfigError("the gate policy must be a mapping", source=source)
    try:
        return GatePolicy.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise ConfigError(str(first.get("msg", exc)), source=source, field=field) from exc


def gate_policy_of_scenario(
    scenario: Mapping[str, Any], source: str = "scenario.yaml"
) -> GatePolicy:
    """The policy at ``checks.gate`` of a scenario dict (defaults when absent)."""
    checks = scenario.get("checks") or {}
    if not isinstance(checks, Mapping):
        raise ConfigError("'checks' must be a mapping", source=source, field="checks")
    return policy_from_mapping(checks.get("gate"), source=f"{source}: checks.gate")


def load_policy(path: Path) -> GatePolicy:
    """Read a policy YAML: a GatePolicy mapping, or a scenario with ``checks.gate``."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read policy file: {exc.strerror}", source=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=str(path)) from exc
    if isinstance(data, Mapping) and "checks" in data:
        return gate_policy_of_scenario(data, source=str(path))
    if isinstance(data, Mapping) and "gate" in data:
        return policy_from_mapping(data["gate"], source=f"{path}: gate")
    return policy_from_mapping(data, source=str(path))
