"""The supervisor never leaves a process behind, and says which process failed and why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pigeon_lab.cluster import Cluster, ClusterSpec
from pigeon_lab.cluster.procfs import processes_under
from pigeon_lab.errors import ClusterError, ProcessNotFound
from tests.conftest import require_cluster_binaries

pytestmark = pytest.mark.integration

SCRIPT = """
import sys, time
from pathlib import Path
from pigeon_lab.cluster import Cluster, ClusterSpec
spec = ClusterSpec(run_dir=Path(sys.argv[1]), nodes=1, replicas=1, sentinels=0, load_balancer=True)
with Cluster.start(spec) as cluster:
    print("UP", flush=True)
    if sys.argv[2] == "raise":
        raise RuntimeError("failing on purpose")
    time.sleep(120)
"""


def _wait_no_processes(run_dir: Path, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (left := processes_under(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"left behind: {left}"


def _supervisor(run_dir: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(run_dir), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(autouse=True)
def _binaries() -> None:
    require_cluster_binaries()


def test_error_inside_the_with_block_tears_everything_down(tmp_path: Path) -> None:
    proc = _supervisor(tmp_path, "raise")
    out, errs = proc.communicate(timeout=60)
    assert "UP" in out and "failing on purpose" in errs, errs
    assert proc.returncode == 1
    _wait_no_processes(tmp_path, timeout_s=1.0)


def test_sigkilled_supervisor_takes_its_children_with_it(tmp_path: Path) -> None:
    proc = _supervisor(tmp_path, "sleep")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "UP", proc.stderr.read() if proc.stderr else ""
    assert len(processes_under(tmp_path, exclude={proc.pid})) == 4  # redis x2, node, haproxy
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    _wait_no_processes(tmp_path)


def test_process_that_fails_to_start_is_named_with_its_log_tail(tmp_path: Path) -> None:
    spec = ClusterSpec(
        run_dir=tmp_path,
        nodes=1,
        replicas=0,
        sentinels=0,
        load_balancer=False,
        backend_args=("--no-such-flag",),
        ready_timeout_s=20,
    )
    with pytest.raises(ClusterError) as caught, Cluster.start(spec):
        pytest.fail("the cluster should not have started")
    message = str(caught.value)
    assert message.startswith("node-1 exited before it was ready (exit code")
    assert "--no-such-flag" in message and str(tmp_path / "logs" / "node-1.log") in message
    _wait_no_processes(tmp_path, timeout_s=1.0)


def test_process_control_by_name_also_from_a_short_lived_thread(tmp_path: Path) -> None:
    spec = ClusterSpec(run_dir=tmp_path, nodes=0, replicas=0, sentinels=0, load_balancer=False)
    with Cluster.start(spec) as cluster:
        with pytest.raises(ProcessNotFound, match=r"node-9.*redis-primary"):
            cluster.kill("node-9")
        cluster.kill("redis-primary")
        assert cluster.status()[0].state == "dead"
        # PR_SET_PDEATHSIG follows the forking thread: a restart from a thread that then
        # ends (like a fault scheduler) must not take the restarted process with it.
        worker = threading.Thread(target=cluster.restart, args=("redis-primary",))
        worker.start()
        worker.join()
        time.sleep(0.3)
        assert cluster.status()[0].state == "alive"
    _wait_no_processes(tmp_path, timeout_s=1.0)
