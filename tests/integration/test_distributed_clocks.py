"""A distributed run whose workers' clocks disagree: one worker's clocks read 1000 s ahead
(``PIGEON_LAB_CLOCK_SKEW_S``, as a machine with another boot time and a wrong wall clock).
Rebased on the master's clocks at the handshake, its rows sort with everyone else's and the
latency of a message sent on one worker and delivered on the other is right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pigeon_lab.history.io import read_history
from pigeon_lab.load.clock import SKEW_ENV
from tests.conftest import require_cluster_binaries

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
SKEW_S = 1000.0


def test_a_worker_with_a_skewed_clock_is_rebased(tmp_path: Path, free_port: int) -> None:
    require_cluster_binaries()
    exe = str(Path(sys.executable).with_name("pigeon-lab"))
    env = {**os.environ, "COLUMNS": "200", "PIGEON_LAB_TOKEN_SECRET": "clocks-" + "s" * 26}
    out = tmp_path / "runs"
    master = subprocess.Popen(
        [exe, "scenario", "run", "smoke", "--duration", "6", "--out", str(out),
         "--master", f"127.0.0.1:{free_port}", "--expect-workers", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [exe, "worker", "--master-host", "127.0.0.1", "--master-port", str(free_port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, SKEW_ENV: str(skew)},
        )
        for skew in (SKEW_S, 0.0)
    ]
    try:
        stdout, stderr = master.communicate(timeout=200)
        logs = [w.communicate(timeout=60)[0] for w in workers]
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert master.returncode == 0, f"{stdout}\n{stderr[-3000:]}\n" + "\n".join(logs)
    (run_dir,) = out.iterdir()
    run = json.loads((run_dir / "run.json").read_text())
    shifts = sorted(s["mono_ns"] / 1e9 for s in run["load_summary"]["clock_shifts"].values())
    assert shifts[0] == pytest.approx(-SKEW_S, abs=0.5) and shifts[1] == 0  # one moved back
    h = read_history(run_dir / "history.parquet")
    # every row within the load's window on the master's clock (faults.json's clock too)
    assert h["t"].min() >= run["load_start_t"] and h["t"].max() <= run["load_end_t"]
    assert (h["wall"] - h["t"]).max() - (h["wall"] - h["t"]).min() < 1e9  # one clock
    report = json.loads((run_dir / "report.json").read_text())
    outcomes = {v["name"]: v["outcome"] for v in report["verdicts"]}
    assert outcomes == dict.fromkeys(outcomes, "pass"), outcomes
    slo = next(v for v in report["verdicts"] if v["name"] == "slo")["metrics"]
    latency = slo["delivery_latency_ms"]
    assert latency["n"] > 0 and latency["p50"] >= 0 and latency["max"] < 10_000, latency
