"""The fault proxy as a supervised process, started like every other process of a cluster.

(It lives in the cluster package, which starts it, so that `pigeon_lab.proxy` never
imports `pigeon_lab.cluster` back.)

`proxy_process` returns an unstarted `ManagedProcess`: `python -m
pigeon_lab.proxy` on 127.0.0.1:`port`, its output in `<run_dir>/logs/<name>.log`,
its cwd in `<run_dir>/proxy/<name>/` (so `processes_under(run_dir)` finds it),
ready when `GET /version` answers 200. It dies with its supervisor
(PR_SET_PDEATHSIG), and SIGTERM closes its listeners and connections.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pigeon_lab.cluster.health import HOST, http_status
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.errors import EnvironmentProblem

KIND = "fault-proxy"


def proxy_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def proxy_process(
    name: str,
    port: int,
    run_dir: Path,
    *,
    config: Path | None = None,
    seed: int | None = None,
) -> ManagedProcess:
    """An (unstarted) fault proxy whose API listens on 127.0.0.1:`port`."""
    argv = [sys.executable, "-m", "pigeon_lab.proxy", "--host", HOST, "--port", str(port)]
    if config is not None:
        argv += ["--config", str(config)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    url = proxy_url(port)
    return ManagedProcess(
        name,
        KIND,
        argv,
        log_path=run_dir / "logs" / f"{name}.log",
        cwd=run_dir / "proxy" / name,
        port=port,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PIGEON_LAB_RUN_DIR": str(run_dir)},
        ready_check=lambda: http_status(f"{url}/version") == 200,
    )


def toxiproxy_server_process(name: str, port: int, run_dir: Path) -> ManagedProcess:
    """A real `toxiproxy-server` from PATH on 127.0.0.1:`port` (EnvironmentProblem if none)."""
    binary = shutil.which("toxiproxy-server")
    if binary is None:
        raise EnvironmentProblem(
            "toxiproxy-server is not on PATH (topology.fault_proxy: toxiproxy-server); "
            "install it or use the embedded fault proxy (topology.fault_proxy: embedded)"
        )
    url = proxy_url(port)
    return ManagedProcess(
        name,
        KIND,
        [binary, "-host", HOST, "-port", str(port)],
        log_path=run_dir / "logs" / f"{name}.log",
        cwd=run_dir / "proxy" / name,
        port=port,
        ready_check=lambda: http_status(f"{url}/version") == 200,
    )
