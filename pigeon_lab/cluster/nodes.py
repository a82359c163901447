"""Backend nodes: the command line and environment of `python -m reference_backend`.

The JWT secret and the Redis credentials go through the environment
(`PIGEON_BACKEND_JWT_SECRET`, `PIGEON_BACKEND_REDIS_PASSWORD`, ...), not argv, so `ps`
and the log's start line do not show them. PYTHONPATH is set so the package imports the
same way from any working directory.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pigeon_lab.cluster import health
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.cluster.spec import ClusterSpec
from pigeon_lab.errors import EnvironmentProblem

BACKEND_MODULE = "reference_backend"
HOST = health.HOST


def backend_pythonpath() -> str:
    """PYTHONPATH that makes `reference_backend` import as a regular package from any cwd.

    An editable install made before the package had its __init__.py maps it
    as a namespace package, which breaks importlib.resources; putting its
    parent directory first on the path avoids depending on how it was installed.
    """
    spec = importlib.util.find_spec(BACKEND_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise EnvironmentProblem(
            f"cannot find the {BACKEND_MODULE} package; is pigeon-lab installed?"
        )
    parent = str(Path(next(iter(spec.submodule_search_locations))).parent)
    return os.pathsep.join(p for p in (parent, os.environ.get("PYTHONPATH", "")) if p)


def node_process(
    name: str,
    port: int,
    spec: ClusterSpec,
    *,
    redis_url: str,
    jwt_secret: str,
    secret_env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """An (unstarted) backend node of the cluster; ready when `GET /readyz` answers 200.

    `secret_env`: more secrets for its environment (the Redis credentials)."""
    args = ["--durability", spec.durability, *spec.backend.to_args(), *spec.backend_args]
    for flaw in spec.flaws:
        args += ["--flaw", flaw]
    return backend_node(
        name,
        port,
        run_dir=spec.run_dir,
        redis_url=redis_url,
        jwt_secret=jwt_secret,
        args=args,
        extra_env={**spec.extra_env, **(secret_env or {})},
    )


def backend_node(
    name: str,
    port: int,
    *,
    run_dir: Path,
    redis_url: str,
    jwt_secret: str,
    args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    node_name: str | None = None,
) -> ManagedProcess:
    """An (unstarted) `python -m reference_backend` node outside a ClusterSpec.

    argv is `--host 127.0.0.1 --port P --node-name N --redis-url U [args]` (N is `node_name`,
    default `name`); log `<run_dir>/logs/<name>.log`, cwd `<run_dir>/nodes/<name>`; ready when
    `GET /readyz` answers 200. The test harness and the benchmarks start their nodes with it.
    """
    argv = [sys.executable, "-m", BACKEND_MODULE, "--host", HOST, "--port", str(port)]
    argv += ["--node-name", node_name or name, "--redis-url", redis_url, *args]
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PIGEON_LAB_RUN_DIR": str(run_dir),
        "PYTHONPATH": backend_pythonpath(),
        "PIGEON_BACKEND_JWT_SECRET": jwt_secret,
        **(extra_env or {}),
    }
    url = f"http://{HOST}:{port}"
    return ManagedProcess(
        name,
        "node",
        argv,
        log_path=run_dir / "logs" / f"{name}.log",
        cwd=run_dir / "nodes" / name,
        port=port,
        env=env,
        ready_check=lambda: health.http_ready(url),
    )
