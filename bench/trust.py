"""Trust in the verdicts, measured: false alarms on the correct backend, flaws caught.

Run by hand (not in the suite):

    .venv/bin/python bench/trust.py                      # everything: about an hour on 2 cores
    .venv/bin/python bench/trust.py --max-duration 20    # catalogue scenarios at most 20 s each
    .venv/bin/python bench/trust.py --part flaws         # only part 2

Part 1, false alarms: every catalogue scenario (``scenarios/``) and every correct-backend
case of the selftest registry, with seeds 1..5 (``--seeds-correct``), on the correct
backend. A false alarm is a checker that says ``fail``; ``unknown`` is counted apart (not a
false alarm, not a pass either). A scenario's SLO gate thresholds are reported but not
counted: latency on a shared machine says nothing about correctness.

Part 2, flaws caught: every flaw case of the selftest registry (``pigeon_lab.selftest``)
with seeds 1..3 (``--seeds-flaws``), each judged as ``pigeon-lab selftest`` judges it: its
checker fails with a counterexample.

``--max-duration`` caps a catalogue scenario's ``workload.duration_s`` (never below the end
of its last fault plus 5 s, nor its ramp). Results: ``bench/results/trust.md`` (the tables
and the command) and ``trust.json`` beside it; the run folders go to ``--out`` (a temporary
folder by default, removed unless something was not as expected).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pigeon_lab.run import run_scenario  # noqa: E402
from pigeon_lab.scenario.loading import catalogue, load_scenario  # noqa: E402
from pigeon_lab.selftest import CASES, SelftestCase, run_case  # noqa: E402

RESULTS = REPO / "bench" / "results"


@dataclass
class CorrectRun:
    name: str
    seed: int
    duration_s: float
    outcomes: dict[str, str] = field(default_factory=dict)
    thresholds_failed: list[str] = field(default_factory=list)
    error: str | None = None
    run_dir: str | None = None
    elapsed_s: float = 0.0

    @property
    def false_alarms(self) -> list[str]:
        return [n for n, o in self.outcomes.items() if o == "fail"]

    @property
    def unknown(self) -> list[str]:
        return [n for n, o in self.outcomes.items() if o == "unknown"]

    @property
    def clean(self) -> bool:
        return self.error is None and bool(self.outcomes) and not self.false_alarms + self.unknown


@dataclass
class FlawRun:
    case: str
    flaw: str
    seed: int
    expect: list[str]
    caught: bool
    reason: str
    failed: list[str] = field(default_factory=list)
    run_dir: str | None = None
    elapsed_s: float = 0.0


def capped_duration(name: str, cap: float | None) -> float | None:
    """``workload.duration_s`` for a catalogue scenario under ``cap`` (None: its own)."""
    if cap is None:
        return None
    s = load_scenario(name)
    if s.workload.duration_s <= cap:
        return None
    last = max((f.at_s + (f.duration_s or 0) for f in s.faults), default=0.0)
    return max(cap, last + 5.0, s.workload.ramp_s + 1.0)


def run_correct_scenario(name: str, seed: int, cap: float | None, out: Path) -> CorrectRun:
    duration = capped_duration(name, cap)
    s = load_scenario(name, seed=seed)
    run = CorrectRun(name, seed, duration or s.workload.duration_s)
    t0 = time.monotonic()
    try:
        result = run_scenario(name, out=out / name, seed=seed, duration=duration)
        report = result.report
        run.run_dir = str(result.run_dir)
        run.outcomes = {v.name: str(v.outcome) for v in report.verdicts}
        run.thresholds_failed = [
            c.name for c in report.gate.checks if c.kind == "threshold" and not c.passed
        ]
    except Exception as exc:  # a run that errors is reported, the others still run
        run.error = f"{type(exc).__name__}: {exc}"[:300]
    run.elapsed_s = time.monotonic() - t0
    return run


def run_correct_case(case: SelftestCase, seed: int, out: Path) -> CorrectRun:
    r = run_case(case, out / f"selftest-{case.name}-s{seed}", seed=seed)
    run = CorrectRun(f"selftest:{case.name}", seed, case.scenario().workload.duration_s)
    run.outcomes, run.elapsed_s = r.outcomes, r.elapsed_s
    run.run_dir = str(r.run_dir) if r.run_dir else None
    if not r.outcomes or (not r.ok and not [n for n, o in r.outcomes.items() if o != "pass"]):
        run.error = r.reason  # e.g. the run proved nothing, or a fault did not run
    return run


def run_flaw(case: SelftestCase, seed: int, out: Path) -> FlawRun:
    r = run_case(case, out / f"flaw-{case.name}-s{seed}", seed=seed)
    return FlawRun(
        case.name,
        str(case.flaw),
        seed,
        sorted(case.expect_fail),
        r.ok,
        r.reason,
        r.failed,
        str(r.run_dir) if r.run_dir else None,
        r.elapsed_s,
    )


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rev = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return f"{os.cpu_count()} cores, load average {load} at the end, commit {rev or '?'}"


def markdown(
    correct: list[CorrectRun], flaws: list[FlawRun], command: str, elapsed_s: float
) -> str:
    lines = [
        f"# Trust in the verdicts ({datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')})",
        "",
        f"`{command}`: {elapsed_s / 60:.0f} min; {_machine()}.",
        "",
    ]
    if correct:
        lines += [
            "## Correct backend: false alarms",
            "",
            "| scenario | duration | seeds | every checker pass | false alarms | unknown "
            "| SLO thresholds missed (not counted) |",
            "|---|---|---|---|---|---|---|",
        ]
        by: dict[str, list[CorrectRun]] = {}
        for r in correct:
            by.setdefault(r.name, []).append(r)
        for name, runs in by.items():
            alarms = Counter(n for r in runs for n in r.false_alarms)
            unknown = Counter(n for r in runs for n in r.unknown)
            errors = [f"seed {r.seed}: {r.error}" for r in runs if r.error]
            slo = Counter(t for r in runs for t in r.thresholds_failed)
            lines.append(
                f"| `{name}` | {runs[0].duration_s:g} s | {len(runs)} "
                f"| {sum(r.clean for r in runs)}/{len(runs)} "
                f"| {_counts(alarms) or 0} | {_counts(unknown) or 0}"
                + (f"; errors: {'; '.join(errors)}" if errors else "")
                + f" | {_counts(slo) or '-'} |"
            )
        n_alarms = sum(len(r.false_alarms) for r in correct)
        lines += ["", f"**{n_alarms} false alarms** in {len(correct)} runs.", ""]
    if flaws:
        lines += [
            "## Deliberate flaws: caught",
            "",
            "| flaw | must fail | caught | also failed |",
            "|---|---|---|---|",
        ]
        byf: dict[str, list[FlawRun]] = {}
        for f in flaws:
            byf.setdefault(f.case, []).append(f)
        for runs in byf.values():
            also = Counter(n for r in runs for n in r.failed if n not in r.expect)
            missed = [f"seed {r.seed}: {r.reason}" for r in runs if not r.caught]
            lines.append(
                f"| `{runs[0].flaw}` | {', '.join(runs[0].expect)} "
                f"| {sum(r.caught for r in runs)}/{len(runs)}"
                + (f" ({'; '.join(missed)})" if missed else "")
                + f" | {_counts(also) or '-'} |"
            )
        caught = sum(f.caught for f in flaws)
        lines += ["", f"**{caught}/{len(flaws)} caught** ({100 * caught / len(flaws):.0f}%).", ""]
    return "\n".join(lines)


def _counts(c: Counter[str]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(c.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--part", choices=("all", "correct", "flaws"), default="all")
    ap.add_argument("--seeds-correct", type=int, default=5)
    ap.add_argument("--seeds-flaws", type=int, default=3)
    ap.add_argument("--max-duration", type=float, default=None, help="cap, seconds")
    ap.add_argument("--scenarios", default="", help="comma-separated (default: the catalogue)")
    ap.add_argument("--out", type=Path, default=None, help="run folders (default: a temp dir)")
    ap.add_argument("--results", type=Path, default=RESULTS / "trust.md")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="pigeon-trust-"))
    out.mkdir(parents=True, exist_ok=True)
    command = "python bench/trust.py" + (f" {' '.join(argv or sys.argv[1:])}".rstrip())
    t0 = time.monotonic()
    correct: list[CorrectRun] = []
    flaws: list[FlawRun] = []
    names = [n for n in args.scenarios.split(",") if n] or [e.name for e in catalogue()]

    def say(line: str) -> None:
        print(f"[{(time.monotonic() - t0) / 60:5.1f} min] {line}", flush=True)

    if args.part in ("all", "correct"):
        for seed in range(1, args.seeds_correct + 1):
            for name in names:
                r = run_correct_scenario(name, seed, args.max_duration, out)
                correct.append(r)
                say(f"{name} seed {seed}: {r.outcomes or r.error} ({r.elapsed_s:.0f} s)")
            for case in (c for c in CASES if c.flaw is None):
                r = run_correct_case(case, seed, out)
                correct.append(r)
                say(f"selftest:{case.name} seed {seed}: {r.outcomes or r.error}")
    if args.part in ("all", "flaws"):
        for seed in range(1, args.seeds_flaws + 1):
            for case in (c for c in CASES if c.flaw is not None and c.expect_fail):
                f = run_flaw(case, seed, out)
                flaws.append(f)
                say(f"{case.name} seed {seed}: {'caught' if f.caught else 'MISSED'}: {f.reason}")
    elapsed = time.monotonic() - t0
    text = markdown(correct, flaws, command, elapsed)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text + "\n")
    args.results.with_suffix(".json").write_text(
        json.dumps(
            {
                "command": command,
                "correct": [{**asdict(r), "false_alarms": r.false_alarms} for r in correct],
                "flaws": [asdict(f) for f in flaws],
            },
            indent=2,
        )
    )
    print(text)
    ok = all(r.clean for r in correct) and all(f.caught for f in flaws)
    if ok and args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    else:
        print(f"run folders kept in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
