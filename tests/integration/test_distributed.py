"""Locust's distributed mode through the CLI: `scenario run --master` + `pigeon-lab worker`.

The master waits for the remote worker, the worker runs every user and ships its
history back, and the run is judged like any other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_with_one_remote_worker_passes(tmp_path: Path, free_port: int) -> None:
    exe = str(Path(sys.executable).with_name("pigeon-lab"))
    # the bundled cluster and the remote worker share the token secret through the environment
    env = {**os.environ, "COLUMNS": "200", "PIGEON_LAB_TOKEN_SECRET": "distributed-" + "s" * 24}
    out = tmp_path / "runs"
    master = subprocess.Popen(
        [exe, "scenario", "run", "smoke", "--duration", "6", "--out", str(out),
         "--master", f"127.0.0.1:{free_port}", "--expect-workers", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    worker = subprocess.Popen(
        [exe, "worker", "--master-host", "127.0.0.1", "--master-port", str(free_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        stdout, stderr = master.communicate(timeout=180)
        worker_out, _ = worker.communicate(timeout=60)
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert master.returncode == 0, f"{stdout}\n{stderr[-3000:]}\nworker:\n{worker_out[-3000:]}"
    assert worker.returncode == 0, worker_out[-3000:]
    (run_dir,) = out.iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["counts"]["sends"] > 0 and report["counts"]["deliveries"] > 0
    assert report["counts"]["clients"] >= 6
    assert all(v["outcome"] == "pass" for v in report["verdicts"]), [
        (v["name"], v["summary"]) for v in report["verdicts"]
    ]
