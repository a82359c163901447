"""A dead or misconfigured target stops a run at once with a clear error (exit code 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pigeon_lab.cluster import Cluster
from pigeon_lab.errors import ConfigError, EnvironmentProblem
from pigeon_lab.preflight import check_target

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_bundled_cluster_passes_the_preflight(cluster: Cluster) -> None:
    check_target(cluster.info.lb_url, cluster.info.jwt_secret)


def test_a_wrong_secret_is_a_config_error_naming_the_token(cluster: Cluster) -> None:
    with pytest.raises(ConfigError, match=r"target\.token: .*refused a token.*unauthorized"):
        check_target(cluster.info.lb_url, "not-the-secret-not-the-secret-not-the")


def test_a_closed_port_says_not_reachable(free_port: int) -> None:
    with pytest.raises(EnvironmentProblem, match=r"is not reachable: Connection refused"):
        check_target(f"http://127.0.0.1:{free_port}", "s" * 32)


def test_a_port_that_is_not_socketio_says_so(cluster: Cluster) -> None:
    stats = cluster.info.haproxy_stats_url
    assert stats is not None
    with pytest.raises(EnvironmentProblem, match=r"cannot open a Socket\.IO connection"):
        check_target(stats.removesuffix("/stats"), cluster.info.jwt_secret, timeout_s=3)


def test_scenario_run_against_a_dead_target_exits_2_and_keeps_its_run_folder(
    tmp_path: Path, free_port: int
) -> None:
    scenario = tmp_path / "dead.yaml"
    scenario.write_text(
        "description: an external target that is not there\n"
        f"target: {{kind: external, url: 'http://127.0.0.1:{free_port}', "
        "token: {secret: '0123456789abcdef0123456789abcdef'}}\n"
        "workload: {users: 2, workspaces: 1, duration_s: 3, ramp_s: 1}\n"
    )
    out = tmp_path / "runs"
    exe = Path(sys.executable).with_name("pigeon-lab")
    result = subprocess.run(
        [str(exe), "scenario", "run", str(scenario), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is not reachable: Connection refused" in result.stderr
    (run_dir,) = out.iterdir()
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["complete"] is False
    assert "not reachable" in meta["error"]
    assert (run_dir / "scenario.yaml").is_file()
