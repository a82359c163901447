"""Runs against a server that misbehaves on purpose (tests/apps/bad_pigeon.py).

Blind spot 8: the read-back cannot hang or crash. A server whose history pages never
advance, or whose messages come without a seq, ends each channel's read with the reason
recorded, and the checkers that need the final log say unknown; a server that never
answers is given up at the read-back's deadline. And the adversary records its leave when
the leave is acknowledged: pushes that reach it while the server takes its time to leave
are receipts inside the membership, not an isolation failure.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pigeon_lab.history.io import read_history
from pigeon_lab.load.readback import read_back
from pigeon_lab.run import run_scenario
from tests.apps.harness import App, bad_pigeon

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

NEED_FINAL_LOG = ("durability", "order", "gaps", "idempotence")


def external(app: App, **workload: Any) -> dict[str, Any]:
    return {
        "target": {"kind": "external", "url": app.url, "token": {"secret": app.secret}},
        "workload.duration_s": 4,
        "workload.ramp_s": 1,
        **{f"workload.{k}": v for k, v in workload.items()},
    }


def phase_s(run_dir: Path, phase: str) -> float:
    phases = json.loads((run_dir / "run.json").read_text())["phases"]
    return float(next(p["elapsed_s"] for p in phases if p["phase"] == phase))


@pytest.mark.parametrize(
    "mode,reason",
    [("stuck-pages", "did not advance"), ("no-seq", "a message without a seq")],
)
def test_a_bad_history_read_ends_with_its_reason_and_unknown_verdicts(
    tmp_path: Path, mode: str, reason: str
) -> None:
    with bad_pigeon(tmp_path, mode) as app:
        t0 = time.monotonic()
        result = run_scenario("smoke", out=tmp_path / "runs", overrides=external(app))
        elapsed = time.monotonic() - t0
    rb = pd.read_parquet(result.run_dir / "readback.parquet")
    assert len(rb) > 0 and not rb["complete"].any()
    assert rb["error"].str.contains(reason).all(), rb["error"].tolist()
    assert phase_s(result.run_dir, "readback") < 15  # far within the read-back's deadline
    assert elapsed < 120
    got = {v.name: str(v.outcome) for v in result.report.verdicts}
    assert {n: got[n] for n in NEED_FINAL_LOG} == dict.fromkeys(NEED_FINAL_LOG, "unknown"), got
    assert result.exit_code == 1  # unknown is not a pass for the gate
    assert result.report.counts.acks > 0  # the load itself went well


def test_a_server_that_never_answers_is_given_up_at_the_deadline(tmp_path: Path) -> None:
    with bad_pigeon(tmp_path, "silent-sync") as app:
        channels = [("ws0", f"ch{i}") for i in range(8)]
        t0 = time.monotonic()
        _, rb = read_back(app.url, app.secret, channels, timeout_s=0.5, deadline_s=2.0)
        elapsed = time.monotonic() - t0
    rows = rb.to_pylist()
    assert elapsed < 2.0 + 0.5 + 1.5  # the deadline, one call's timeout, connect and close
    assert len(rows) == 8 and not any(r["complete"] for r in rows)
    errors = [r["error"] for r in rows]
    assert "join: no ack within 0.5 s" in errors[0]
    assert errors[-1] == "read-back deadline passed"


def test_the_adversary_records_its_leave_when_it_is_acknowledged(tmp_path: Path) -> None:
    with bad_pigeon(tmp_path, "slow-leave") as app:
        overrides = external(
            app,
            workspaces=1,
            channels_per_workspace=1,
            channels_per_user=1,
            users=3,
            send_rate_per_user=4.0,
            adversarial_users=1,
        )
        result = run_scenario("smoke", out=tmp_path / "runs", overrides=overrides)
    log = (tmp_path / "logs" / "bad-pigeon.log").read_text()
    asked = [int(line.rsplit(" ", 1)[1]) for line in log.splitlines() if "leave requested" in line]
    assert asked, log[-2000:]
    h = read_history(result.run_dir / "history.parquet")
    adv = h[h["client"] == "adv0"]
    leave = adv[adv["kind"].astype(str) == "leave"]
    assert len(leave) >= 1
    left_wall = int(leave["wall"].iloc[0])
    assert left_wall - asked[0] >= 1_000_000_000  # recorded after the server's delay
    recv = adv[(adv["kind"].astype(str) == "recv") & (adv["wall"] > asked[0])]
    during = recv[recv["wall"] < left_wall]
    assert len(during) > 0, "no push reached the adversary while its leave was pending"
    got = {v.name: str(v.outcome) for v in result.report.verdicts}
    assert got["isolation"] == "pass", result.report.verdict("isolation")
