from __future__ import annotations

import numpy as np

from pigeon_lab.checkers.base import FaultWindow, Outcome
from pigeon_lab.checkers.slo import grouped_quantiles
from pigeon_lab.testing import HistoryBuilder, empty
from tests.unit.test_checker_helpers import verdict

N = "slo"


def run() -> HistoryBuilder:
    b = HistoryBuilder().connect("c1", "alice", "acme").connect("z1", "zed", "zeta")
    b.join("c1", "general").join("z1", "general")
    for s in range(1, 11):
        b.send("c1", "general", f"m{s}", seq=s, latency_ms=float(s))
        b.recv("c1", "general", s).deliver("c1", "general", s)
        b.tick(200)
    b.send("z1", "general", "z1", ok=False)
    b.disconnect("c1").tick(1500).connect("c1", "alice", "acme")
    return b


def test_metrics_have_the_documented_shape() -> None:
    fault = FaultWindow(
        "kill", "node-1", start_t=1_000_000_000 + int(1.5e9), end_t=1_000_000_000 + int(2.1e9)
    )
    v = verdict(N, *run().build(faults=(fault,)))
    assert v.outcome is Outcome.PASS
    m = v.metrics
    for k in ("ack_latency_ms", "delivery_latency_ms", "reconnect_ms"):
        assert set(m[k]) == {"n", "p50", "p95", "p99", "max", "mean"}
    assert m["ack_latency_ms"]["n"] == 10 and m["ack_latency_ms"]["max"] == 10.0
    assert abs(m["availability"] - 10 / 11) < 1e-5
    assert m["reconnect_ms"]["n"] == 1 and abs(m["reconnect_ms"]["p50"] - 1501) < 1e-6
    row = m["timeline"][0]
    assert set(row) == {
        "t_s",
        "sends",
        "acks",
        "deliveries",
        "errors",
        "reconnects",
        "availability",
        "ack_p50",
        "ack_p99",
        "delivery_p50",
        "delivery_p99",
    }
    assert sum(r["sends"] for r in m["timeline"]) == 11
    assert set(m["per_workspace"]) == {"acme", "zeta"}
    assert m["per_workspace"]["acme"]["deliveries"] == 10
    (f,) = m["faults"]
    assert f["kind"] == "kill" and abs(f["start_s"] - 1.5) < 0.01
    assert f["time_to_first_error_s"] is not None
    assert f["time_to_recovery_s"] is None or f["time_to_recovery_s"] >= 0


def test_no_sends_is_unknown() -> None:
    assert verdict(N, *empty()).outcome is Outcome.UNKNOWN


def test_grouped_quantiles_are_within_half_a_percent() -> None:
    rng = np.random.default_rng(1)
    v = rng.lognormal(3, 1, 20_000)
    g = rng.integers(0, 3, len(v))
    q = grouped_quantiles(g, v, 4)
    for k in range(3):
        exact = np.quantile(v[g == k], [0.5, 0.99])
        assert np.allclose(q[k], exact, rtol=0.01)
    assert np.isnan(q[3]).all()
