"""csr-app (tests/apps/csr_app.js): socket.io 4 with connection state recovery on, run
with the Node.js peer's node_modules, as a supervised process."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pigeon_lab.cluster import health
from pigeon_lab.cluster.ports import free_port
from pigeon_lab.cluster.process import ManagedProcess
from tests.apps.harness import App
from tests.node_peer import install

APP = Path(__file__).with_name("csr_app.js")


@contextmanager
def csr_app(run_dir: Path, secret: str = "csr-" + "s" * 28) -> Iterator[App]:
    """csr-app on a free loopback port (skips without node/npm, like the peer)."""
    home = install()
    node = shutil.which("node")
    assert node is not None
    port = free_port()
    url = f"http://{health.HOST}:{port}"
    env = {**os.environ, "PORT": str(port), "JWT_SECRET": secret,
           "NODE_PATH": str(home / "node_modules")}  # fmt: skip
    proc = ManagedProcess("csr-app", "app", [node, str(APP)], log_path=run_dir / "logs" /
                          "csr-app.log", cwd=home, port=port, env=env,
                          ready_check=lambda: health.http_ready(url))  # fmt: skip
    proc.start()
    try:
        proc.wait_ready(time.monotonic() + 20)
        yield App(url, secret)
    finally:
        proc.terminate(grace_s=2.0)
