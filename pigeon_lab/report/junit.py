"""``junit.xml``: the verdicts and the gate as JUnit test results, for CI dashboards.

Two suites under ``<testsuites name="pigeon-lab">``:

* ``invariants``: one testcase per invariant verdict (every checker but ``slo``).
  ``fail`` -> ``<failure>`` with the summary and the first counterexamples;
  ``unknown`` -> ``<error>`` (CI shows it red: an undecided checker proves
  nothing), or ``<skipped>`` when the gate policy allows unknown verdicts;
  ``pass`` -> an empty testcase. A failure stays a ``<failure>`` even when
  ``invariant_failures_max`` lets the gate pass: the file reports the truth,
  the exit code reports the gate.
* ``gate``: one testcase per SLO threshold (and an ``<error>`` one per fault that could not
  be injected or healed); a breached, missing or null metric
  -> ``<failure>``. A run without any verdict adds an ``<error>`` testcase.

Counts follow the common JUnit schema: ``tests``, ``failures``, ``errors``,
``skipped`` on every suite and on the root.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from pigeon_lab.checkers.base import Outcome, Verdict
from pigeon_lab.report.gate import NOT_INVARIANTS
from pigeon_lab.report.model import GateCheck, Report

MAX_COUNTEREXAMPLES = 5
MAX_ROWS = 10


def junit_tree(report: Report) -> ET.ElementTree[ET.Element]:
    """The JUnit document of a report."""
    root = ET.Element("testsuites", name="pigeon-lab")
    invariants = _suite(root, "invariants", report)
    checks = {c.name: c for c in report.gate.checks if c.kind == "invariant"}
    for verdict in report.verdicts:
        if verdict.name in NOT_INVARIANTS:
            continue
        _invariant_case(invariants, verdict, checks.get(verdict.name))
    if "verdicts" in checks and not report.verdicts:
        case = ET.SubElement(
            invariants, "testcase", name="verdicts", classname="pigeon_lab.invariants"
        )
        ET.SubElement(case, "error", message="no checker ran", type="NoVerdicts")
    gate = _suite(root, "gate", report)
    for check in report.gate.checks:
        if check.kind == "threshold":
            _threshold_case(gate, check)
        elif check.kind == "fault":
            _fault_case(gate, check)
    for suite in (invariants, gate):
        _count(suite)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in (invariants, gate))))
    root.set("time", _time(report))
    ET.indent(root)
    return ET.ElementTree(root)


def junit_xml(report: Report) -> str:
    """The JUnit document as text, with an XML declaration."""
    body = ET.tostring(junit_tree(report).getroot(), encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def write_junit(report: Report, path: Path) -> Path:
    """Write ``junit.xml`` to ``path``."""
    path.write_text(junit_xml(report), encoding="utf-8")
    return path


def _suite(root: ET.Element, name: str, report: Report) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=name, time=_time(report))
    if report.run.started:
        suite.set("timestamp", report.run.started)
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("run", report.run.id),
        ("scenario", report.run.scenario),
        ("seed", report.run.seed),
        ("complete", report.run.complete),
        ("gate", "pass" if report.gate.passed else "fail"),
    ):
        ET.SubElement(props, "property", name=key, value="" if value is None else str(value))
    return suite


def _invariant_case(suite: ET.Element, verdict: Verdict, check: GateCheck | None) -> None:
    case = ET.SubElement(suite, "testcase", name=verdict.name, classname="pigeon_lab.invariants")
    case.set("time", "0")
    if verdict.outcome is Outcome.FAIL:
        el = ET.SubElement(case, "failure", message=verdict.summary, type="InvariantViolated")
        el.text = _details(verdict)
    elif verdict.outcome is Outcome.UNKNOWN:
        allowed = check is not None and check.passed
        if allowed:
            ET.SubElement(
                case, "skipped", message=f"unknown (allowed by policy): {verdict.summary}"
            )
        else:
            el = ET.SubElement(case, "error", message=f"unknown: {verdict.summary}", type="Unknown")
            el.text = _details(verdict)
    out = ET.SubElement(case, "system-out")
    out.text = json.dumps({"counts": verdict.counts, "summary": verdict.summary}, default=str)


def _threshold_case(suite: ET.Element, check: GateCheck) -> None:
    case = ET.SubElement(
        suite, "testcase", name=f"{check.metric} {check.condition}", classname="pigeon_lab.gate"
    )
    case.set("time", "0")
    if not check.passed:
        el = ET.SubElement(case, "failure", message=check.message, type="ThresholdBreached")
        el.text = f"observed: {check.observed!r}\ncondition: {check.condition}\n{check.message}"
    out = ET.SubElement(case, "system-out")
    out.text = check.message


def _fault_case(suite: ET.Element, check: GateCheck) -> None:
    """A fault that did not run as scheduled: an error (the result is unknown)."""
    case = ET.SubElement(suite, "testcase", name=check.name, classname="pigeon_lab.faults")
    case.set("time", "0")
    ET.SubElement(case, "error", message=check.message, type="FaultNotApplied")


def _details(verdict: Verdict) -> str:
    lines = [verdict.summary]
    if verdict.counts:
        lines.append("counts: " + ", ".join(f"{k}={v}" for k, v in verdict.counts.items()))
    shown = verdict.counterexamples[:MAX_COUNTEREXAMPLES]
    for i, cx in enumerate(shown, 1):
        lines.append(f"\ncounterexample {i}: {cx.summary}")
        for row in cx.rows[:MAX_ROWS]:
            lines.append("  " + json.dumps(row, default=str, sort_keys=False))
        if len(cx.rows) > MAX_ROWS:
            lines.append(f"  ... {len(cx.rows) - MAX_ROWS} more rows")
    if len(verdict.counterexamples) > len(shown):
        lines.append(f"\n... {len(verdict.counterexamples) - len(shown)} more counterexamples")
    if verdict.error:
        lines.append("\n" + verdict.error)
    return "\n".join(lines)


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))


def _time(report: Report) -> str:
    return f"{report.run.duration_s or 0:.3f}"
