"""Start tests/apps/chat_lite.py as a supervised process (it dies with the test)."""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pigeon_lab.cluster.ports import free_port
from pigeon_lab.cluster.process import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class App:
    url: str
    secret: str


def _answers(url: str, path: str = "rt") -> bool:
    try:
        with urllib.request.urlopen(f"{url}/{path}/?EIO=4&transport=polling", timeout=0.5) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def chat_lite(
    run_dir: Path, drop_every: int = 0, secret: str = "lite-" + "s" * 27
) -> Iterator[App]:
    """chat-lite on a free loopback port (``drop_every``: lose one push in N)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "tests.apps.chat_lite", "--port", str(port), "--secret", secret]
    if drop_every:
        argv += ["--drop-every", str(drop_every)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = ManagedProcess(
        "chat-lite",
        "app",
        argv,
        log_path=run_dir / "logs" / "chat-lite.log",
        cwd=ROOT,
        port=port,
        env=env,
        ready_check=lambda: _answers(url),
    )
    proc.start()
    try:
        proc.wait_ready(time.monotonic() + 20)
        yield App(url, secret)
    finally:
        proc.terminate(grace_s=2.0)


@contextmanager
def bad_pigeon(run_dir: Path, mode: str, secret: str = "bad-" + "s" * 28) -> Iterator[App]:
    """tests/apps/bad_pigeon.py in ``mode`` on a free loopback port; its log (stderr) is
    ``<run_dir>/logs/bad-pigeon.log``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "tests.apps.bad_pigeon", "--port", str(port)]
    argv += ["--secret", secret, "--mode", mode]
    proc = ManagedProcess(
        "bad-pigeon",
        "app",
        argv,
        log_path=run_dir / "logs" / "bad-pigeon.log",
        cwd=ROOT,
        port=port,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        ready_check=lambda: _answers(url, "socket.io"),
    )
    proc.start()
    try:
        proc.wait_ready(time.monotonic() + 20)
        yield App(url, secret)
    finally:
        proc.terminate(grace_s=2.0)
