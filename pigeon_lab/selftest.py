"""`pigeon-lab selftest`: prove that every checker can fail, and that none fails for nothing.

A checker that never fails proves nothing (invariants.md, "Trust in the verdicts").
Each case runs a short ``smoke`` scenario on the bundled cluster: the correct
backend (with adversaries, duplicate sends, and under faults) must pass every
checker; each deliberate flaw of the reference backend, under the workload that
exposes it, must make its checker fail with a counterexample. Other checkers
may fail too under a flaw (collateral damage); only the expected ones are judged.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pigeon_lab.errors import ConfigError
from pigeon_lab.events import Event
from pigeon_lab.report.model import Report
from pigeon_lab.scenario.loading import deep_merge, expand_dotted, load_scenario
from pigeon_lab.scenario.model import Scenario
from pigeon_lab.selftest_faults import network_cases
from pigeon_lab.selftest_flaws import ONE_NODE_BLIP, hook_flaw_cases
from pigeon_lab.selftest_voice import voice_cases

SCENARIO = "smoke"
"""The catalogue scenario every case starts from."""

BASE_OVERRIDES: dict[str, Any] = {"workload.duration_s": 6}
"""Applied to every case under its own overrides: short runs."""

ROLLING_KILLS: list[dict[str, Any]] = [
    {"kind": "kill", "target": "node-1", "at_s": 2, "duration_s": 2},
    {"kind": "kill", "target": "node-2", "at_s": 5.5, "duration_s": 2},
]
"""Kill each node in turn (10 s runs): every client is moved at least once, whichever node
HAProxy first gave it (placement is not deterministic: all clients may land on one node)."""

BASE_REQUIRES: dict[str, int] = {"run.sends": 1, "run.acks": 1, "run.deliveries": 1}
"""Every case must have done something: an empty history passes every invariant."""


@dataclass(frozen=True)
class SelftestCase:
    """One run: a backend flaw (or None) under scenario overrides, and the checkers that must fail.

    ``expect_fail`` empty means every checker must pass.
    """

    name: str
    flaw: str | None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    expect_fail: frozenset[str] = frozenset()
    why: str = ""
    requires: Mapping[str, int] = field(default_factory=dict)
    """Minimum counts the run must reach to prove anything: ``<checker>.<count>`` (a verdict's
    ``counts``) or ``run.<field>`` (the report's counts); ``base_requires`` always apply."""
    base: str = SCENARIO
    """The catalogue scenario the case starts from."""
    base_requires: Mapping[str, int] = field(default_factory=lambda: dict(BASE_REQUIRES))
    """What every run of this kind must have done (chat's: sends, acks and deliveries)."""

    def scenario_overrides(self) -> dict[str, Any]:
        """Nested overrides of the ``smoke`` scenario: the base, the case's, and its flaw."""
        out = deep_merge(expand_dotted(BASE_OVERRIDES), expand_dotted(self.overrides))
        if self.flaw is not None:
            out = deep_merge(out, {"topology": {"backend": {"flaws": [self.flaw]}}})
        return out

    def scenario(self) -> Scenario:
        """The resolved scenario this case runs (raises ConfigError when it does not validate)."""
        return load_scenario(self.base, overrides=self.scenario_overrides())


ISSUE8_CASES: tuple[SelftestCase, ...] = tuple(SelftestCase(**s) for s in hook_flaw_cases())
"""The flaws of reference_backend/flaw_hooks.py (``selftest_flaws``)."""


CASES: tuple[SelftestCase, ...] = (
    SelftestCase(
        "correct",
        None,
        {"workload.adversarial_users": 1, "workload.duplicate_send_ratio": 0.2},
        why="correct backend with adversaries and duplicate sends: every checker passes",
        requires={"idempotence.retried_acks": 1, "isolation.adversarial": 1},
    ),
    SelftestCase(
        "correct-node-kill",
        None,
        {"workload.duration_s": 10, "workload.duplicate_send_ratio": 0.2, "faults": ROLLING_KILLS},
        why="correct backend, each node killed and restarted in turn: clients move, nothing breaks",
        requires={"slo.reconnects": 1},
    ),
    SelftestCase(
        "correct-redis-failover",
        None,
        {
            "workload.duration_s": 8,
            "topology.durability": "replicated",
            "faults": [{"kind": "redis-failover", "target": "redis-primary", "at_s": 3}],
        },
        why="correct backend (replicated), Sentinel failover: no acked message lost, no seq reused",
    ),
    SelftestCase(
        "correct-blip",
        None,
        {**ONE_NODE_BLIP, "workload.catch_up": False, "checks.settle_ms": 1000},
        why="correct backend under what exposes drop-tail-push, stale-sync and lost-on-reconnect "
        "(a node dropped for a moment, no last sync, a 1 s settle): nothing breaks",
        requires={"slo.reconnects": 1},
    ),
    SelftestCase(
        "local-seq",
        "local-seq",
        {"workload.duration_s": 10, "faults": ROLLING_KILLS},
        frozenset({"order"}),
        why="node-local counters: the nodes (and a restarted node) hand out the same seqs; the "
        "rolling kills put writers on both nodes",
        requires={"slo.reconnects": 1},
    ),
    SelftestCase(
        "unprefixed-rooms",
        "unprefixed-rooms",
        {},
        frozenset({"isolation"}),
        why="both workspaces use ch0/ch1: pushes leak across tenants",
    ),
    SelftestCase(
        "sender-from-payload",
        "sender-from-payload",
        {"workload.adversarial_users": 1},
        frozenset({"isolation"}),
        why="the adversary's spoofed sender is stored",
        requires={"isolation.adversarial": 1},
    ),
    SelftestCase(
        "no-dedupe",
        "no-dedupe",
        {"workload.duplicate_send_ratio": 0.25},
        frozenset({"idempotence"}),
        why="duplicate sends are stored again under a new seq",
    ),
    *(SelftestCase(**spec) for spec in network_cases()),
    *ISSUE8_CASES,
    # ---- the first five flaws' last case stays last (tests/unit/test_selftest_registry.py)
    SelftestCase(
        "ack-before-persist",
        "ack-before-persist",
        {},
        frozenset({"durability"}),
        why="acks before the write; a share of acked writes is never stored",
    ),
)
"""The chat cases, in run order."""

# ---- voice rooms (pigeon_lab/selftest_voice.py): the correct backend, one case per flaw ----
# the first five flaws' last case stays last (tests/unit/test_selftest_registry.py)
CASES = CASES[:-1] + tuple(SelftestCase(**spec) for spec in voice_cases()) + CASES[-1:]
"""The registry, in run order: chat's cases, then voice's."""


def case_names() -> list[str]:
    return [c.name for c in CASES]


def select_cases(names: Iterable[str] | None = None) -> list[SelftestCase]:
    """The named cases in registry order (all when ``names`` is empty).

    Unknown names: ConfigError."""
    wanted = list(names or [])
    if not wanted:
        return list(CASES)
    unknown = [n for n in wanted if n not in case_names()]
    if unknown:
        raise ConfigError(
            f"unknown case(s) {', '.join(unknown)}; known: {', '.join(case_names())}",
            source="--case",
        )
    return [c for c in CASES if c.name in wanted]


@dataclass
class CaseResult:
    """What one case did: outcomes per checker, what failed, and whether that was expected."""

    case: SelftestCase
    ok: bool
    reason: str
    outcomes: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    counterexamples: dict[str, int] = field(default_factory=dict)
    run_dir: Path | None = None
    error: str | None = None
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.name,
            "flaw": self.case.flaw,
            "why": self.case.why,
            "expect_fail": sorted(self.case.expect_fail),
            "ok": self.ok,
            "reason": self.reason,
            "outcomes": self.outcomes,
            "failed": self.failed,
            "counterexamples": self.counterexamples,
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "error": self.error,
            "elapsed_s": round(self.elapsed_s, 1),
        }


@dataclass
class SelftestResult:
    """Every case's result; ``ok`` only if every case behaved as expected."""

    out: Path
    results: list[CaseResult]

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "out": str(self.out), "cases": [r.to_dict() for r in self.results]}


def judge(case: SelftestCase, report: Report) -> CaseResult:
    """Did the run behave as the case expects? (the run's reports are not judged here)."""
    outcomes = {v.name: str(v.outcome) for v in report.verdicts}
    failed = [v.name for v in report.verdicts if str(v.outcome) == "fail"]
    evidence = {v.name: len(v.counterexamples) for v in report.verdicts if v.name in failed}
    result = CaseResult(case, False, "", outcomes, failed, evidence)
    short = _short_of(case, report)
    if short:
        result.reason = "the run proves nothing: " + ", ".join(short)
        return result
    if not case.expect_fail:
        bad = {n: o for n, o in outcomes.items() if o != "pass"}
        if not outcomes:
            result.reason = "no verdict at all"
        elif bad:
            result.reason = "expected every checker to pass; " + ", ".join(
                f"{n} {o}" for n, o in bad.items()
            )
        else:
            result.ok, result.reason = True, f"all {len(outcomes)} checkers passed"
        return result
    missing = sorted(n for n in case.expect_fail if n not in failed)
    bare = sorted(n for n in case.expect_fail if n in failed and not evidence.get(n))
    if missing:
        result.reason = "expected to fail but did not: " + ", ".join(
            f"{n} ({outcomes.get(n, 'not run')})" for n in missing
        )
    elif bare:
        result.reason = "failed without a counterexample: " + ", ".join(bare)
    else:
        result.ok = True
        result.reason = "caught: " + ", ".join(
            f"{n} ({evidence[n]} counterexamples)" for n in sorted(case.expect_fail)
        )
    return result


def _short_of(case: SelftestCase, report: Report) -> list[str]:
    """The required counts the run did not reach (``name got/needed``)."""
    counts: dict[str, Any] = {f"run.{k}": v for k, v in vars(report.counts).items()}
    for v in report.verdicts:
        counts.update({f"{v.name}.{k}": n for k, n in v.counts.items()})
    short = []
    for key, need in {**case.base_requires, **case.requires}.items():
        got = counts.get(key)
        if not isinstance(got, (int, float)) or got < need:
            short.append(f"{key} {got}/{need}")
    return short


def _fault_problem(report: Report, planned: int) -> str | None:
    """Why the ``planned`` faults did not all run (the report's faults, read from
    ``faults.json``: too few, or one whose injection or heal failed), or None."""
    if not planned:
        return None
    errors = [f"{f.label}: {f.error}" for f in report.faults if f.error]
    if len(report.faults) < planned or errors:
        return f"{len(report.faults)}/{planned} faults ran; " + "; ".join(errors)
    return None


def default_out(root: Path = Path("reports")) -> Path:
    """``reports/selftest-<YYYYmmdd-HHMMSS>``."""
    return root / f"selftest-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


def run_case(
    case: SelftestCase,
    out: Path,
    on_event: Callable[[Event], None] | None = None,
    *,
    seed: int | None = None,
) -> CaseResult:
    """Run one case into ``out/<case>/`` (``seed``: over the scenario's); any error makes it
    NOT OK (never raised)."""
    from pigeon_lab.run import run_scenario

    t0 = time.monotonic()
    case_dir = out / case.name
    try:
        case_dir.mkdir(parents=True, exist_ok=True)
        run = run_scenario(
            case.base,
            out=case_dir,
            overrides=case.scenario_overrides(),
            seed=seed,
            listeners=[on_event] if on_event else (),
        )
        result = judge(case, run.report)
        result.run_dir = run.run_dir
        problem = _fault_problem(run.report, len(case.scenario().faults))
        if problem and result.ok:
            result.ok, result.reason = False, problem
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        detail = traceback.format_exc(limit=3)
        result = CaseResult(case, False, f"run error: {type(exc).__name__}: {exc}", error=detail)
        runs = sorted(p for p in case_dir.iterdir() if p.is_dir()) if case_dir.is_dir() else []
        result.run_dir = runs[-1] if runs else None
    result.elapsed_s = time.monotonic() - t0
    return result


def run_selftest(
    names: Iterable[str] | None = None,
    *,
    out: Path | None = None,
    on_case: Callable[[CaseResult], None] | None = None,
    on_event: Callable[[str, Event], None] | None = None,
) -> SelftestResult:
    """Run the selected cases one after the other; write ``out/selftest.json``."""
    cases = select_cases(names)
    out = out or default_out()
    out.mkdir(parents=True, exist_ok=True)
    results: list[CaseResult] = []
    for case in cases:
        listen = (lambda e, _c=case.name: on_event(_c, e)) if on_event else None
        result = run_case(case, out, listen)
        results.append(result)
        if on_case is not None:
            on_case(result)
        summary = SelftestResult(out, results)
        (out / "selftest.json").write_text(json.dumps(summary.to_dict(), indent=2))
    return SelftestResult(out, results)


__all__ = [
    "BASE_OVERRIDES",
    "BASE_REQUIRES",
    "CASES",
    "ONE_NODE_BLIP",
    "ROLLING_KILLS",
    "SCENARIO",
    "CaseResult",
    "SelftestCase",
    "SelftestResult",
    "case_names",
    "default_out",
    "judge",
    "run_case",
    "run_selftest",
    "select_cases",
]
