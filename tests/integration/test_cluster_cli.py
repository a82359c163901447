"""`pigeon-lab cluster up --detach --json`, `status --json`, `token`, `down`, as users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import socketio

from pigeon_lab.cluster.procfs import processes_under
from tests.conftest import require_cluster_binaries

pytestmark = pytest.mark.integration
EXE = str(Path(sys.executable).with_name("pigeon-lab"))


def _run(*args: str, state: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIGEON_LAB_STATE_FILE": str(state)}
    return subprocess.run(
        [EXE, *args], check=False, capture_output=True, text=True, timeout=timeout, env=env
    )


def test_detached_cluster_status_token_and_down(tmp_path: Path) -> None:
    require_cluster_binaries()
    state, run_dir = tmp_path / "state.json", tmp_path / "run"
    up = _run(
        "cluster",
        "up",
        "--detach",
        "--json",
        "--nodes",
        "2",
        "--replicas",
        "0",
        "--sentinels",
        "0",
        "--run-dir",
        str(run_dir),
        state=state,
    )
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        assert set(info["node_urls"]) == {"node-1", "node-2"} and info["lb_url"].startswith(
            "http://"
        )
        assert state.exists()

        status = _run("cluster", "status", "--json", state=state)
        assert status.returncode == 0, status.stderr
        rows = {p["name"]: p for p in json.loads(status.stdout)["processes"]}
        assert set(rows) == {"redis-primary", "node-1", "node-2", "haproxy"}
        assert all(r["state"] == "alive" for r in rows.values()), rows
        assert rows["node-1"]["health"] == "ready"

        again = _run("cluster", "up", "--detach", "--run-dir", str(tmp_path / "other"), state=state)
        assert again.returncode == 2 and "already running" in again.stderr

        token = _run("token", "--workspace", "acme", "--user", "ann", state=state)
        assert token.returncode == 0, token.stderr
        sio = socketio.Client(reconnection=False)
        sio.connect(info["lb_url"], auth={"token": token.stdout.strip()}, transports=["websocket"])
        try:
            assert sio.call("join", {"channel": "general"}, timeout=5)["ok"]
        finally:
            sio.disconnect()
    finally:
        down = _run("cluster", "down", state=state)
    assert down.returncode == 0, down.stderr
    assert not state.exists()
    assert processes_under(run_dir) == []
    assert _run("cluster", "status", state=state).returncode == 2
