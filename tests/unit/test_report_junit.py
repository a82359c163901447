"""junit.xml: parses, one testcase per invariant and per threshold, counts right."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from pigeon_lab.report.junit import junit_xml, write_junit
from pigeon_lab.report.sample import sample_policy, sample_report


def suites(xml: str) -> tuple[ET.Element, dict[str, ET.Element]]:
    root = ET.fromstring(xml.encode())
    return root, {s.get("name", ""): s for s in root.findall("testsuite")}


def test_one_case_per_invariant_and_threshold_with_counts() -> None:
    root, by_name = suites(junit_xml(sample_report(failing=True)))
    assert root.tag == "testsuites"
    inv, gate = by_name["invariants"], by_name["gate"]
    names = [c.get("name") for c in inv.findall("testcase")]
    assert names == ["durability", "order", "gaps", "delivery", "idempotence", "isolation"]
    assert len(gate.findall("testcase")) == 3
    assert (inv.get("tests"), inv.get("failures"), inv.get("errors"), inv.get("skipped")) == (
        "6",
        "1",
        "1",
        "0",
    )
    assert (gate.get("tests"), gate.get("failures"), gate.get("errors")) == ("3", "0", "0")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("9", "1", "1")


def test_failure_carries_summary_and_counterexamples() -> None:
    _, by_name = suites(junit_xml(sample_report(failing=True)))
    case = by_name["invariants"].find("testcase[@name='durability']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "3 of 11,873 acked writes lost"
    assert "seq 412" in (failure.text or "") and '"msg_id": "m-0412"' in (failure.text or "")
    isolation = by_name["invariants"].find("testcase[@name='isolation']")
    assert isolation is not None and isolation.find("error") is not None


def test_unknown_allowed_is_skipped() -> None:
    report = sample_report(failing=True, policy=sample_policy(allow_unknown=True))
    _, by_name = suites(junit_xml(report))
    isolation = by_name["invariants"].find("testcase[@name='isolation']")
    assert isolation is not None and isolation.find("skipped") is not None
    assert (
        by_name["invariants"].get("skipped") == "1" and by_name["invariants"].get("errors") == "0"
    )


def test_breached_threshold_is_a_failure(tmp_path: Path) -> None:
    report = sample_report(
        failing=False,
        policy=sample_policy(thresholds={"ack_latency_ms.p99": "< 1", "nope.p50": "< 1"}),
    )
    path = write_junit(report, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    gate = root.find("testsuite[@name='gate']")
    assert gate is not None and gate.get("failures") == "2"
    messages = [f.get("message", "") for f in gate.iter("failure")]
    assert any("needs < 1" in m for m in messages) and any("not found" in m for m in messages)
    invariants = root.find("testsuite[@name='invariants']")
    assert invariants is not None and invariants.get("failures") == "0"


def test_passing_run_has_no_failures() -> None:
    root, _ = suites(junit_xml(sample_report(failing=False)))
    assert not list(root.iter("failure")) and not list(root.iter("error"))
