"""The Node.js peer (tests/peers/node-socketio) as a real external target for the tests.

``install()`` copies the peer to ``.cache/node-peer-<hash of its lock file>/`` and runs
``npm ci`` there once (later runs reuse it); the tests skip with the reason when node or
npm is missing. ``NodePeer`` starts a Redis and N server nodes as supervised processes
(``ManagedProcess``: they die with the test), each ready on ``GET /readyz``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pigeon_lab.cluster import health
from pigeon_lab.cluster.ports import free_ports
from pigeon_lab.cluster.process import ManagedProcess, stop_all
from pigeon_lab.cluster.redis import redis_process, server_config

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / "tests" / "peers" / "node-socketio"


def install() -> Path:
    """The installed peer's folder (``npm ci`` once per lock file); skips without node/npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the Node.js peer")
    lock = (PEER / "package-lock.json").read_bytes()
    home = ROOT / ".cache" / f"node-peer-{hashlib.sha256(lock).hexdigest()[:12]}"
    if (home / "node_modules" / "socket.io").is_dir():
        return home
    home.mkdir(parents=True, exist_ok=True)
    for name in ("server.js", "package.json", "package-lock.json"):
        shutil.copyfile(PEER / name, home / name)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        shutil.rmtree(home / "node_modules", ignore_errors=True)
        pytest.fail(f"npm ci for the Node.js peer failed:\n{done.stderr[-2000:]}")
    return home


@dataclass
class NodePeer:
    """A running peer: its node URLs and its secret."""

    urls: list[str]
    secret: str
    processes: list[ManagedProcess] = field(default_factory=list)


@contextmanager
def node_peer(
    run_dir: Path, nodes: int = 3, secret: str = "peer-secret-" + "x" * 20
) -> Iterator[NodePeer]:
    """Redis and ``nodes`` peer servers on loopback ports; everything stopped afterwards."""
    home = install()
    node = shutil.which("node")
    assert node is not None
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    redis_port, *ports = free_ports(1 + nodes)
    conf = server_config(redis_port, run_dir / "redis" / "peer-redis", replica_of=None, aof=False)
    procs = [redis_process("peer-redis", "redis-primary", conf, redis_port, run_dir)]
    for i, port in enumerate(ports, start=1):
        url = f"http://{health.HOST}:{port}"
        env = {
            **os.environ,
            "PORT": str(port),
            "REDIS_URL": f"redis://{health.HOST}:{redis_port}",
            "JWT_SECRET": secret,
            "DRAIN_MS": "500",
        }
        procs.append(
            ManagedProcess(
                f"peer-{i}",
                "node",
                [node, str(home / "server.js")],
                log_path=run_dir / "logs" / f"peer-{i}.log",
                cwd=home,
                port=port,
                env=env,
                ready_check=lambda u=url: health.http_ready(u),
            )
        )
    try:
        for p in procs:
            p.start()
            p.wait_ready(time.monotonic() + 30)
        yield NodePeer([f"http://{health.HOST}:{p.port}" for p in procs[1:]], secret, procs)
    finally:
        stop_all(procs, grace_s=1.0)
