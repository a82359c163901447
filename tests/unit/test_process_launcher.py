"""The launcher parts the harness and the benchmarks use: wait, kill_group, config parameters.

The processes here are real (`sh`, `sleep`) and short; nothing is mocked.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pigeon_lab.cluster.haproxy import haproxy_config, haproxy_process
from pigeon_lab.cluster.nodes import backend_node
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.cluster.procfs import pid_state
from pigeon_lab.errors import ClusterError


def _proc(tmp_path: Path, name: str, script: str) -> ManagedProcess:
    return ManagedProcess(
        name, "test", ["sh", "-c", script], log_path=tmp_path / "logs" / f"{name}.log", cwd=tmp_path
    )


def test_wait_returns_the_exit_code_or_none_while_running(tmp_path: Path) -> None:
    quick = _proc(tmp_path, "quick", "exit 3")
    with pytest.raises(ClusterError, match="never started"):
        quick.wait(1.0)
    quick.start()
    assert quick.wait(10.0) == 3
    slow = _proc(tmp_path, "slow", "sleep 30")
    slow.start()
    try:
        assert slow.wait(0.1) is None
    finally:
        slow.kill()
    assert slow.returncode is not None
    quick.close()
    slow.close()


def test_kill_group_reaches_a_child_left_behind_by_its_exited_leader(tmp_path: Path) -> None:
    leader = _proc(tmp_path, "leader", "sleep 60 & echo $! > child.pid; exit 0")
    leader.start()
    assert leader.wait(10.0) == 0
    child = int((tmp_path / "child.pid").read_text())
    assert pid_state(child) == "alive"
    leader.kill()  # acts only while the leader lives: the child survives it
    assert pid_state(child) == "alive"
    leader.kill_group()
    deadline = time.monotonic() + 5
    while pid_state(child) != "dead":
        assert time.monotonic() < deadline, f"child {child} survived kill_group"
        time.sleep(0.02)
    leader.kill_group()  # an empty group: nothing to do, no error
    leader.close()


def test_log_gets_a_start_header_and_the_output(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "echo", "echo hello")
    proc.start()
    assert proc.wait(10.0) == 0
    proc.close()
    lines = proc.log_path.read_text().splitlines()
    assert lines[0].startswith("--- pigeon-lab: start #1") and lines[1] == "hello"


def test_haproxy_balance_and_name(tmp_path: Path) -> None:
    assert "    balance leastconn\n" in haproxy_config(1, 2, {"node-1": 3})
    rr = haproxy_config(1, 2, {"n1": 3}, balance="roundrobin")
    assert "    balance roundrobin\n" in rr and "server n1 127.0.0.1:3 check" in rr
    lb = haproxy_process(tmp_path, 1, 2, {"n1": 3}, list, name="lb-a", balance="roundrobin")
    assert lb.name == "lb-a" and lb.log_path == tmp_path / "logs" / "lb-a.log"
    assert "balance roundrobin" in (tmp_path / "lb-a" / "haproxy.cfg").read_text()
    default = haproxy_process(tmp_path, 1, 2, {"n1": 3}, list)
    assert default.name == "haproxy" and (tmp_path / "haproxy" / "haproxy.cfg").exists()


def test_backend_node_command_line_and_environment(tmp_path: Path) -> None:
    node = backend_node(
        "bench-node-1",
        4321,
        run_dir=tmp_path,
        redis_url="redis://127.0.0.1:1/0",
        jwt_secret="s" * 32,
        args=["--drain-s", "1"],
        extra_env={"EXTRA": "1"},
        node_name="node-1",
    )
    i = node.argv.index("-m")
    assert node.argv[i + 1 :] == [
        "reference_backend",
        "--host",
        "127.0.0.1",
        "--port",
        "4321",
        "--node-name",
        "node-1",
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--drain-s",
        "1",
    ]
    assert node.env is not None and "s" * 32 not in " ".join(node.argv)
    assert node.env["PIGEON_BACKEND_JWT_SECRET"] == "s" * 32 and node.env["EXTRA"] == "1"
    assert node.env["PATH"] == os.environ["PATH"]
    assert node.log_path == tmp_path / "logs" / "bench-node-1.log"
    assert node.cwd == tmp_path / "nodes" / "bench-node-1"
