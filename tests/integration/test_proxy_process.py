"""The fault proxy as a process: started as a ManagedProcess and as `pigeon-lab proxy`.

Whatever way it stops (SIGTERM, SIGINT, or its parent SIGKILLed, which
PR_SET_PDEATHSIG turns into its own SIGKILL), no process, listener or
connection is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pigeon_lab.cluster.fault_proxy import proxy_process, proxy_url
from pigeon_lab.cluster.ports import free_port
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.cluster.procfs import pid_state, processes_under
from pigeon_lab.proxy.client import ProxyClient
from tests.integration.proxy_harness import (
    HOST,
    client_of,
    connect,
    echo,
    read_until_closed,
    round_trip_ms,
    tcp_server,
)

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "pigeon-lab")


def cli_process(run_dir: Path, port: int) -> ManagedProcess:
    proc = proxy_process("fault-proxy", port, run_dir)
    proc.argv = [CLI, "proxy", "--host", HOST, "--port", str(port)]
    return proc


def assert_gone(run_dir: Path, pid: int, listen_port: int, sock: socket.socket) -> None:
    """The process, its listener and its connections are all gone."""
    deadline = time.monotonic() + 10
    while pid_state(pid) != "dead" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_state(pid) == "dead"
    assert processes_under(run_dir) == []
    sock.settimeout(5)
    assert read_until_closed(sock)[1] in ("eof", "reset")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, listen_port), timeout=2)


def open_link(client: ProxyClient, upstream: str) -> tuple[int, socket.socket]:
    info = client.create("echo", upstream)
    sock = connect(info)
    assert round_trip_ms(sock) < 2000
    return info.port, sock


@pytest.mark.parametrize(("how", "sig"), [("module", signal.SIGTERM), ("cli", signal.SIGINT)])
def test_a_signal_stops_it_cleanly(how: str, sig: int, tmp_path: Path) -> None:
    port = free_port()
    proc = (
        proxy_process("fault-proxy", port, tmp_path)
        if how == "module"
        else cli_process(tmp_path, port)
    )
    proc.start()
    try:
        proc.wait_ready(time.monotonic() + 20)
        assert proc.log_path == tmp_path / "logs" / "fault-proxy.log"
        with tcp_server(echo) as upstream:
            listen_port, sock = open_link(client_of(proc), upstream.address)
            assert proc.pid is not None
            pid = proc.pid
            proc.signal(sig)
            assert proc.popen is not None and proc.popen.wait(10) == 0
            assert_gone(tmp_path, pid, listen_port, sock)
            sock.close()
        assert "stopping: closing every proxy and connection" in proc.log_path.read_text()
    finally:
        proc.kill()
        proc.close()


PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pigeon_lab.cluster.fault_proxy import proxy_process
    run_dir, port, how, cli = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    proc = proxy_process("fault-proxy", port, run_dir)
    if how == "cli":
        proc.argv = [cli, "proxy", "--host", "127.0.0.1", "--port", str(port)]
    proc.start()
    proc.wait_ready(time.monotonic() + 20)
    print(proc.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("how", ["module", "cli"])
def test_it_dies_with_a_sigkilled_parent(how: str, tmp_path: Path) -> None:
    port = free_port()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path), str(port), how, CLI],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        with tcp_server(echo) as upstream:
            listen_port, sock = open_link(ProxyClient(proxy_url(port)), upstream.address)
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait(10)
            assert_gone(tmp_path, pid, listen_port, sock)
            sock.close()
    finally:
        parent.kill()
        parent.wait(10)


def test_config_file_proxies_exist_when_it_is_ready(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps([{"name": "redis", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:6379"}])
    )
    proc = proxy_process("fault-proxy", free_port(), tmp_path, config=config, seed=7)
    proc.start()
    try:
        proc.wait_ready(time.monotonic() + 20)
        proxies = client_of(proc).proxies()
        assert set(proxies) == {"redis"} and proxies["redis"].enabled
    finally:
        proc.terminate(5)
        proc.close()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[{", "bad request body: unexpected EOF"),
        ('[{"name": "x"}]', "missing required field: upstream at proxy 1"),
    ],
)
def test_a_bad_config_file_is_refused_with_its_name(
    content: str, reason: str, tmp_path: Path
) -> None:
    config = tmp_path / "bad.json"
    config.write_text(content)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pigeon_lab.proxy",
            "--port",
            str(free_port()),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"{config}: {reason}" in result.stderr
