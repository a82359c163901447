"""The backend of bench/load.py: its own redis-server plus N nodes (the Node peer server or
the reference backend) on free loopback ports, each in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

SECRET = "bench-load-secret-0123456789abcdef0123"
NODE_PEER = Path("/tmp/node-peer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_cmd(port: int, *args: str) -> bytes:
    """One RESP command on a fresh connection; returns the raw reply."""
    req = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req.encode())
        time.sleep(0.05)
        return s.recv(1 << 16)


class Backend:
    """Our own redis-server plus N backend nodes; ``stop()`` kills every process group."""

    def __init__(self, kind: str, nodes: int, logdir: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.redis_port = free_port()
        redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(redis)
        self._wait(
            lambda: (
                f"process_id:{redis.pid}".encode() in redis_cmd(self.redis_port, "INFO", "server")
            ),
            "redis (ours)",
        )
        self.urls: list[str] = []
        for i in range(nodes):
            port = free_port()
            log = open(logdir / f"node-{i + 1}.log", "wb")  # noqa: SIM115 - lives with the node
            redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
            if kind == "node":
                env = {
                    **os.environ,
                    "PORT": str(port),
                    "REDIS_URL": redis_url,
                    "JWT_SECRET": SECRET,
                }
                argv = ["node", str(NODE_PEER / "server.js")]
            else:
                env = {**os.environ, "PIGEON_BACKEND_JWT_SECRET": SECRET}
                argv = [
                    sys.executable,
                    "-m",
                    "reference_backend",
                    "--port",
                    str(port),
                    "--redis-url",
                    redis_url,
                    "--node-name",
                    f"node-{i + 1}",
                    "--conn-rate",
                    "1000",
                    "--ws-rate",
                    "100000",
                    "--ws-burst",
                    "200000",
                    "--log-level",
                    "warning",
                ]
            self.procs.append(
                subprocess.Popen(
                    argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            self._wait(lambda u=url: _ready(u), url)

    def _wait(self, ok: Any, what: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"a backend process exited while waiting for {what}")
            try:
                if ok():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{what} not ready")

    def flush(self) -> None:
        redis_cmd(self.redis_port, "FLUSHALL")

    def stop(self) -> None:
        for p in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _ready(url: str) -> bool:
    with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
        return bool(r.status == 200)
