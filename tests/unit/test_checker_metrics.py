"""Typed metrics (C): what each checker declares is what it produces, and it reads back."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers import METRICS, Outcome, Verdict
from pigeon_lab.checkers.invariant_metrics import DeliveryMetrics, DurabilityMetrics, GapsMetrics
from pigeon_lab.checkers.metrics import Metrics, shape_of
from pigeon_lab.checkers.slo_metrics import (
    FaultFigures,
    LatencySummary,
    SloMetrics,
    TimelineBucket,
    WorkspaceFigures,
)
from pigeon_lab.checkers.suite import check_all
from pigeon_lab.checkers.voice_metrics import GhostMetrics, SignalMetrics, VoiceSloMetrics
from pigeon_lab.testing import empty
from tests.unit.test_checker_helpers import generated


def test_the_declared_checkers() -> None:
    assert dict(METRICS) == {
        "durability": DurabilityMetrics,
        "gaps": GapsMetrics,
        "delivery": DeliveryMetrics,
        "slo": SloMetrics,
        "voice_ghosts": GhostMetrics,
        "voice_signals": SignalMetrics,
        "voice_slo": VoiceSloMetrics,
    }


@pytest.mark.parametrize("history", ["generated", "empty"])
def test_each_checker_produces_exactly_its_declared_metrics(history: str) -> None:
    verdicts = check_all(*(generated(5) if history == "generated" else empty()))
    for v in verdicts:
        declared = METRICS.get(v.name)
        if declared is None:
            assert v.metrics == {}, v.name
            continue
        names = [f.name for f in dataclasses.fields(declared)]  # type: ignore[arg-type]
        assert list(v.metrics) == names, v.name
        assert declared.from_verdict(v).to_dict() == v.metrics, v.name


def test_slo_metrics_read_typed() -> None:
    (v,) = check_all(*generated(2), names=["slo"])
    m = SloMetrics.from_verdict(v)
    assert isinstance(m.ack_latency_ms, LatencySummary) and m.ack_latency_ms.n > 0
    assert m.timeline and all(isinstance(b, TimelineBucket) for b in m.timeline)
    assert sum(b.sends for b in m.timeline) == v.counts["sends"]
    assert m.per_workspace and all(
        isinstance(w, WorkspaceFigures) for w in m.per_workspace.values()
    )
    assert m.availability is not None and 0 < m.availability <= 1


def test_missing_and_wrong_values_take_the_defaults() -> None:
    assert SloMetrics.from_verdict(None) == SloMetrics()
    assert SloMetrics.from_dict({}) == SloMetrics() == SloMetrics.from_dict([1, 2])
    odd = SloMetrics.from_dict(
        {
            "availability": "high",
            "ack_latency_ms": {"n": 3.0, "p99": 7, "max": True},
            "timeline": [{"t_s": 1, "sends": "many", "acks": 4}, 3, None],
            "per_workspace": {"a": {"ack_p99": None, "sends": 2}, "b": "x"},
            "faults": "none",
            "future_figure": 1,
        }
    )
    assert odd.availability is None
    assert odd.ack_latency_ms == LatencySummary(n=3, p99=7.0)
    assert odd.timeline == [TimelineBucket(t_s=1.0, acks=4)]
    assert odd.per_workspace == {"a": WorkspaceFigures(sends=2)}
    assert odd.faults == []


def test_from_verdict_reads_what_report_json_carries() -> None:
    m = SloMetrics(availability=0.5, faults=[FaultFigures("kill", "node-1", 1.0, 2.0, 0.1, 0.4)])
    v = Verdict("slo", Outcome.PASS, "x", metrics=m.to_dict())
    assert SloMetrics.from_verdict(v) == m
    assert v.metrics["faults"][0]["time_to_recovery_s"] == 0.4


def test_an_unsupported_field_type_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Bad(Metrics):
        when: bytes = b""

    with pytest.raises(TypeError, match="not supported"):
        shape_of(Bad)
    with pytest.raises(TypeError, match="not supported"):
        Bad.from_dict({"when": b"x"})


number = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)
count = st.integers(0, 10**9)
summaries = st.builds(
    LatencySummary, n=count, p50=number, p95=number, p99=number, max=number, mean=number
)
buckets = st.builds(
    TimelineBucket,
    t_s=st.floats(0, 1e5),
    sends=count,
    acks=count,
    errors=count,
    availability=number,
    ack_p99=number,
)
workspaces = st.builds(WorkspaceFigures, sends=count, deliveries=count, ack_p50=number)
faults = st.builds(
    FaultFigures,
    kind=st.sampled_from(["kill", "pause"]),
    target=st.text(max_size=8),
    start_s=st.floats(0, 1e5),
    end_s=number,
    time_to_recovery_s=number,
)
slo_metrics = st.builds(
    SloMetrics,
    ack_latency_ms=summaries,
    reconnect_ms=summaries,
    availability=number,
    timeline=st.lists(buckets, max_size=4),
    per_workspace=st.dictionaries(st.text(max_size=6), workspaces, max_size=3),
    faults=st.lists(faults, max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(slo_metrics)
def test_the_dict_form_round_trips(m: SloMetrics) -> None:
    assert SloMetrics.from_dict(m.to_dict()) == m


def test_no_reader_outside_the_checkers_spells_metric_keys() -> None:
    """Readers use the typed form; only the gate's path walker walks the JSON data."""
    root = Path(__file__).resolve().parents[2] / "pigeon_lab"
    readers = [*sorted((root / "report").glob("*.py")), root / "selftest.py"]
    pattern = re.compile(r"metrics(\.get\(|\[)")
    offenders = [
        f"{path.name}:{n}"
        for path in readers
        if path.name != "gate.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders
