"""Per-fault figures of the slo checker (issue 7), per client group, and the gate's fault rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pigeon_lab.checkers.base import FaultWindow
from pigeon_lab.checkers.slo_metrics import SloMetrics
from pigeon_lab.gate_policy import GatePolicy
from pigeon_lab.report.gate import evaluate_gate
from pigeon_lab.report.model import FaultSpan
from pigeon_lab.testing import HistoryBuilder
from tests.unit.test_checker_helpers import verdict

S = 1_000_000_000  # ns


def window_run() -> tuple[HistoryBuilder, int, int]:
    """Two clients sending every 100 ms; in a 2 s window `a` is disconnected, reconnects
    (300 ms) and gets `unavailable` until 500 ms after the heal, while `b` goes on; one ack
    of `b` in the window never reaches the final log."""
    b = HistoryBuilder().connect("a", "ua", "acme").connect("b", "ub", "acme")
    b.join("a", "general").join("b", "general")
    seq = 0

    def both(a_ok: bool, drop: bool = False) -> None:
        nonlocal seq
        seq += 1
        if a_ok:
            b.send("a", "general", f"m{seq}", seq=seq)
        else:
            b.send("a", "general", f"m{seq}", ok=False, error="unavailable")
        seq += 1
        b.send("b", "general", f"m{seq}", seq=seq)
        if drop:
            b.drop_from_final("acme", "general", seq)
        b.tick(100)

    for _ in range(10):
        both(True)
    start = b.now
    b.tick(200).disconnect("a").tick(300).connect("a", "ua", "acme")
    for i in range(15):
        both(False, drop=i == 3)
    end = b.now
    for _ in range(5):
        both(False)
    for _ in range(10):
        both(True)
    return b, start, end


def figures(b: HistoryBuilder, start: int, end: int) -> SloMetrics:
    fault = FaultWindow("partition", "node-2", start, end, label="partition drop isolate node-2")
    return SloMetrics.from_verdict(verdict("slo", *b.build(faults=(fault,))))


def test_every_window_has_its_figures() -> None:
    b, start, end = window_run()
    (f,) = figures(b, start, end).faults
    assert f.label == "partition drop isolate node-2"
    assert f.time_to_first_error_s is not None and 0 < f.time_to_first_error_s < 0.5
    assert f.affected_clients == 1 and f.recovered_clients == 1
    assert f.time_to_recovery_s is not None and 0.4 <= f.time_to_recovery_s <= 0.7
    assert f.reconnects == 1 and f.reconnect_p99_ms is not None and f.reconnect_p99_ms >= 300
    assert f.max_reconnects_per_s == 1
    assert f.sends > 0 and f.availability is not None and 0.3 < f.availability < 0.7
    assert f.acked_lost is not None and f.acked_lost >= 1


@pytest.mark.parametrize(
    ("reason", "affected"), [("client disconnect", 0), ("client", 0), ("transport error", 1)]
)
def test_the_end_of_the_run_soon_after_a_heal_affects_no_client(reason: str, affected: int) -> None:
    """A client that closes its own connection 1 s after the heal (the load ended) was not
    hit by the fault; a lost connection at the same moment was."""
    b = HistoryBuilder().connect("a", "ua", "acme").join("a", "general")
    b.send("a", "general", "a1", seq=1)
    start = b.now
    b.tick(1000)
    b.send("a", "general", "a2", seq=2)
    heal = b.now
    b.tick(1000).disconnect("a", error=reason)
    fault = FaultWindow("partition", "node-2", start, heal)
    (f,) = SloMetrics.from_verdict(verdict("slo", *b.build(faults=(fault,)))).faults
    assert f.affected_clients == affected and f.recovered_clients == 0


def test_a_client_that_never_acks_again_leaves_recovery_unmeasured() -> None:
    b = HistoryBuilder().connect("a", "ua", "acme").join("a", "general")
    b.send("a", "general", "a1", seq=1)
    start = b.now
    b.tick(100).disconnect("a").tick(2000)
    fault = FaultWindow("partition", "node-2", start, b.now)
    (f,) = SloMetrics.from_verdict(verdict("slo", *b.build(faults=(fault,)))).faults
    assert f.affected_clients == 1 and f.recovered_clients == 0
    assert f.time_to_recovery_s is None


def test_without_a_read_back_lost_acks_are_not_measured() -> None:
    b, start, end = window_run()
    fault = FaultWindow("partition", "node-2", start, end)
    (f,) = SloMetrics.from_verdict(verdict("slo", *b.build(final=False, faults=(fault,)))).faults
    assert f.acked_lost is None


def test_per_group_figures() -> None:
    b, _start, _end = window_run()
    history, ctx = b.build()
    grouped = replace(ctx, client_groups={"ua": "clients-slow"})
    m = SloMetrics.from_verdict(verdict("slo", history, grouped))
    assert set(m.per_group) == {"clients", "clients-slow"}
    assert m.per_group["clients-slow"].users == 1 and m.per_group["clients"].users == 1
    assert m.per_group["clients-slow"].reconnects == 1 and m.per_group["clients"].reconnects == 0
    assert m.per_group["clients"].ack_p99 is not None
    alone = SloMetrics.from_verdict(verdict("slo", history, ctx))
    assert set(alone.per_group) == {"clients"} and alone.per_group["clients"].users == 2


@pytest.mark.parametrize("allow_unknown", [False, True])
def test_a_fault_that_did_not_run_fails_the_gate_as_unknown(allow_unknown: bool) -> None:
    b, _start, _end = window_run()
    v = verdict("durability", *b.build())  # fails (a lost ack): within invariant_failures_max
    ok = FaultSpan("latency", "haproxy->node-2", 1.0, 3.0)
    bad = FaultSpan("partition", "node-2", 4.0, None, error="inject failed: proxy refused")
    policy = GatePolicy(allow_unknown=allow_unknown, invariant_failures_max=5)
    gate = evaluate_gate([v], policy, [ok, bad])
    assert not gate.passed
    (check,) = [c for c in gate.checks if c.kind == "fault"]
    assert check.name == "faults[1]" and check.observed == "unknown" and not check.passed
    assert "partition node-2: inject failed: proxy refused" in check.message
    assert evaluate_gate([v], policy, [ok]).passed  # the same run with every fault applied
