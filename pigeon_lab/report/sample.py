"""Synthetic verdicts and reports for tests, demos and the browser check (public helpers).

``sample_report(failing=True)`` is a realistic run: seven verdicts (durability
failing with counterexamples when ``failing``), an ``slo`` verdict whose
metrics follow docs/interfaces.md (timeline, per_workspace, faults), two fault
windows, and a gate evaluated against ``sample_policy()``.
"""

from __future__ import annotations

import math
import random
from typing import Any

from pigeon_lab.checkers.base import Counterexample, Outcome, Verdict
from pigeon_lab.checkers.slo_metrics import (
    FaultFigures,
    LatencySummary,
    SloMetrics,
    TimelineBucket,
    WorkspaceFigures,
)
from pigeon_lab.gate_policy import GatePolicy
from pigeon_lab.report.gate import evaluate_gate
from pigeon_lab.report.model import Counts, FaultSpan, Report, RunInfo

FAULTS = (
    FaultSpan("kill", "node-2", 20.0, 30.0),
    FaultSpan("redis-failover", "redis-primary", 42.0, 47.5),
)


def sample_policy(**overrides: Any) -> GatePolicy:
    """A typical policy: ack p99 < 250 ms, availability >= 0.95, delivery p99 < 1000 ms."""
    data: dict[str, Any] = {
        "thresholds": {
            "ack_latency_ms.p99": "< 250",
            "delivery_latency_ms.p99": "< 1000",
            "availability": ">= 0.95",
        }
    }
    data.update(overrides)
    return GatePolicy.model_validate(data)


def sample_slo_metrics(duration_s: int = 60, seed: int = 7, slow: float = 1.0) -> dict[str, Any]:
    """SLO metrics as the `slo` checker writes them (``SloMetrics.to_dict()``), with dips
    during FAULTS."""
    rng = random.Random(seed)
    timeline: list[TimelineBucket] = []
    for t in range(duration_s):
        hit = any(f.start_s <= t < (f.end_s or duration_s) for f in FAULTS)
        sends = 200 + rng.randint(-15, 15)
        acks = sends - (rng.randint(8, 30) if hit else rng.randint(0, 1))
        ack_p50 = (9 + rng.random() * 3) * slow * (4 if hit else 1)
        no_acks = t == 33  # a bucket without ack latencies
        timeline.append(
            TimelineBucket(
                t_s=float(t),
                sends=sends,
                acks=acks,
                deliveries=acks * 3 - rng.randint(0, 5),
                errors=rng.randint(5, 25) if hit else 0,
                reconnects=rng.randint(10, 40) if hit and t - 20 < 3 else 0,
                availability=acks / sends,
                ack_p50=None if no_acks else ack_p50,
                ack_p99=None if no_acks else ack_p50 * (6 if hit else 2.5),
                delivery_p50=ack_p50 * 1.6,
                delivery_p99=ack_p50 * (9 if hit else 3.5),
            )
        )
    per_ws = {
        f"ws-{i}": WorkspaceFigures(
            sends=1200 + 40 * i,
            deliveries=3500 + 100 * i,
            ack_p50=10.0 * slow + i,
            ack_p99=(40.0 + 9 * i) * slow * (3 if i == 3 else 1),
            delivery_p50=16.0 * slow + i,
            delivery_p99=(70.0 + 11 * i) * slow,
        )
        for i in range(8)
    }

    def stats(p50: float, n: int) -> LatencySummary:
        return LatencySummary(n=n, p50=p50, p95=p50 * 4, p99=p50 * 9, max=p50 * 40, mean=p50 * 1.4)

    sends = sum(b.sends for b in timeline)
    acks = sum(b.acks for b in timeline)
    return SloMetrics(
        ack_latency_ms=stats(10.5 * slow, acks),
        delivery_latency_ms=stats(17.0 * slow, acks * 3),
        reconnect_ms=stats(900.0, 120),
        availability=acks / sends,
        timeline=timeline,
        per_workspace=per_ws,
        faults=[
            FaultFigures(
                kind=f.kind,
                target=f.target,
                start_s=f.start_s,
                end_s=f.end_s,
                time_to_first_error_s=0.4 + i,
                time_to_recovery_s=3.2 + 2 * i,
                label=f.label,
                affected_clients=12 + i,
                recovered_clients=12 + i,
                reconnects=12 + i,
                reconnect_p50_ms=420.0,
                reconnect_p99_ms=1800.0,
                max_reconnects_per_s=6,
                max_connect_attempts_per_s=9,
                sends=40,
                availability=0.85,
                acked_lost=i,
            )
            for i, f in enumerate(FAULTS)
        ],
    ).to_dict()


def sample_verdicts(failing: bool = True, slow: float = 1.0) -> list[Verdict]:
    """Seven verdicts in report order; when ``failing``, durability fails, isolation unknown."""
    lost = [
        Counterexample(
            summary=f"acked write lost: ws-1/general seq {s} missing from the final log",
            rows=[
                {
                    "t": 20_400_000_000 + s,
                    "client": "c-17",
                    "kind": "send_ok",
                    "channel": "ws-1/general",
                    "seq": s,
                    "msg_id": f"m-{s:04d}",
                    "client_msg_id": f"cm-{s}",
                    "node": "node-2",
                },
                {
                    "t": None,
                    "client": "readback",
                    "kind": "final_log",
                    "channel": "ws-1/general",
                    "seq": s,
                    "msg_id": None,
                    "client_msg_id": None,
                    "node": None,
                },
            ],
        )
        for s in (412, 413, 415)
    ]
    ok = Outcome.PASS
    verdicts = [
        Verdict(
            "durability",
            Outcome.FAIL if failing else ok,
            "3 of 11,873 acked writes lost" if failing else "11,873 acked writes all survive",
            {"acked": 11873, "lost": 3 if failing else 0, "info": 14},
            lost if failing else [],
        ),
        Verdict(
            "order", ok, "every (channel, seq) names one message", {"channels": 32, "seqs": 11887}
        ),
        Verdict(
            "gaps",
            ok,
            "final logs complete; 41 live gaps repaired by resync",
            {"channels": 32, "holes": 0},
            metrics={"live_gaps_repaired": 41},
        ),
        Verdict(
            "delivery",
            ok,
            "deliveries in order, exactly once",
            {"deliveries": 35012, "wire_duplicates": 57},
        ),
        Verdict(
            "idempotence", ok, "no client_msg_id at two seqs", {"retried": 230, "duplicates": 0}
        ),
        Verdict(
            "isolation",
            Outcome.UNKNOWN if failing else ok,
            "read-back incomplete for 2 channels" if failing else "no cross-tenant event",
            {"adversarial": 40, "refused": 40},
        ),
        Verdict(
            "slo",
            ok,
            "latency and availability measured",
            {"sends": 11955},
            metrics=sample_slo_metrics(slow=slow),
        ),
    ]
    return verdicts


def sample_report(
    failing: bool = True,
    policy: GatePolicy | None = None,
    run_id: str = "20261128-101500-kill-node",
    slow: float = 1.0,
) -> Report:
    """A complete synthetic Report (gate evaluated against ``policy`` or sample_policy())."""
    verdicts = sample_verdicts(failing, slow=slow)
    topology: dict[str, Any] = {
        "nodes": 3,
        "redis": {"replicas": 1, "sentinels": 3},
        "durability": "replicated",
        "load_balancer": "haproxy",
    }
    scenario: dict[str, Any] = {
        "name": "kill-node",
        "description": "kill one backend node under load, then a Redis failover",
        "seed": 42,
        "topology": topology,
        "workload": {
            "workspaces": 8,
            "channels_per_workspace": 4,
            "users": 200,
            "duration_s": 60,
            "ack_timeout_ms": 5000,
        },
        "faults": [
            {
                "at_s": f.start_s,
                "duration_s": (f.end_s or 0) - f.start_s,
                "kind": f.kind,
                "target": f.target,
            }
            for f in FAULTS
        ],
        "checks": {"bucket_s": 1.0, "gate": sample_policy().model_dump()},
    }
    slo = SloMetrics.from_verdict(verdicts[-1])
    return Report(
        run=RunInfo(
            id=run_id,
            scenario="kill-node",
            seed=42,
            started="2026-11-28T10:15:00+00:00",
            finished="2026-11-28T10:16:12.500000+00:00",
            duration_s=72.5,
            complete=True,
            target="http://127.0.0.1:18080",
            topology=dict(topology),
        ),
        verdicts=verdicts,
        gate=evaluate_gate(verdicts, policy or sample_policy()),
        counts=Counts(
            rows=98_765,
            clients=200,
            sends=sum(b.sends for b in slo.timeline),
            acks=sum(b.acks for b in slo.timeline),
            deliveries=35012,
        ),
        faults=list(FAULTS),
        scenario=scenario,
    )


def nan_metrics() -> dict[str, Any]:
    """Metrics with non-finite floats (written as null in report.json)."""
    return {"ack_latency_ms": {"n": 0, "p50": math.nan, "p99": math.inf}, "availability": None}
