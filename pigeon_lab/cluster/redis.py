"""Redis primary, replicas and Sentinels: generated configs and the processes that run them.

Replication is diskless with no delay so replicas sync in milliseconds.
Every config sets `dir` inside the run folder (Redis and Sentinel chdir
there) and a process title that carries the config path, so the processes
of a run can be found by their working directory even after Redis rewrites
its title.

Hardening (the bundled cluster): ACL users per role with `acl=` (redis_acl.py; the
default user off, `protected-mode yes` everywhere), and `maxmemory` with `noeviction`
(a full Redis refuses writes, which the backend answers `unavailable`; it never evicts a
log or a dedupe record). A config that holds a password in clear is written to
`conf_dir` (a private directory outside the run folder) with a redacted copy beside the
data (`redis.conf.redacted`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import redis as redis_py

from pigeon_lab.cluster import health
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.cluster.redis_acl import Login, RedisCredentials, sentinel_lines, server_lines
from pigeon_lab.errors import ClusterError, EnvironmentProblem

HOST = health.HOST
DEFAULT_MAXMEMORY_MB = 512


def redis_binary() -> str:
    """Path of redis-server, or EnvironmentProblem with the command that installs it."""
    found = shutil.which("redis-server") or shutil.which(
        "redis-server", path="/usr/bin:/usr/local/bin"
    )
    if not found:
        raise EnvironmentProblem(
            "redis-server not found; install it: sudo apt-get install -y redis-server"
        )
    return found


def _common(port: int, data_dir: Path) -> list[str]:
    return [
        f"port {port}",
        f"bind {HOST}",
        "protected-mode yes",
        "daemonize no",
        'logfile ""',
        f'dir "{data_dir}"',
        'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"',
    ]


def server_config(
    port: int,
    data_dir: Path,
    *,
    replica_of: int | None,
    aof: bool,
    acl: RedisCredentials | None = None,
    maxmemory_mb: int | None = DEFAULT_MAXMEMORY_MB,
) -> str:
    """redis.conf for a primary (replica_of=None) or a replica of 127.0.0.1:<replica_of>.

    `acl`: the cluster's ACL users (else the default user, no password); `maxmemory_mb`:
    the memory bound, with `noeviction` (None: unbounded)."""
    lines = [
        *_common(port, data_dir),
        'save ""',
        f"appendonly {'yes' if aof else 'no'}",
        "appendfsync everysec",
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
        "repl-diskless-load on-empty-db",
        "repl-ping-replica-period 1",
        "repl-timeout 10",
        "replica-serve-stale-data yes",
    ]
    if maxmemory_mb is not None:
        lines += [f"maxmemory {maxmemory_mb}mb", "maxmemory-policy noeviction"]
    if acl is not None:
        lines += server_lines(acl)
    if replica_of is not None:
        lines.append(f"replicaof {HOST} {replica_of}")
    return "\n".join(lines) + "\n"


def sentinel_config(
    port: int,
    data_dir: Path,
    *,
    master_name: str,
    primary_port: int,
    quorum: int,
    down_after_ms: int,
    failover_timeout_ms: int,
    acl: RedisCredentials | None = None,
) -> str:
    """sentinel.conf: monitor the primary; Sentinel rewrites this file as it learns."""
    lines = [
        *_common(port, data_dir),
        f"sentinel monitor {master_name} {HOST} {primary_port} {quorum}",
        f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
        f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
        f"sentinel parallel-syncs {master_name} 1",
    ]
    if acl is not None:
        lines += sentinel_lines(acl, master_name)
    return "\n".join(lines) + "\n"


def redis_process(
    name: str,
    kind: str,
    conf_text: str,
    port: int,
    run_dir: Path,
    *,
    sentinel: bool = False,
    replica: bool = False,
    conf_dir: Path | None = None,
    login: Login | None = None,
    redact: RedisCredentials | None = None,
) -> ManagedProcess:
    """Write the config and return the (unstarted) process.

    The config goes to `<run_dir>/redis/<name>/` (the data directory, Redis's cwd), or to
    `<conf_dir>/<name>/` when it holds secrets, with a copy redacted by `redact` in the data
    directory. `login`: how the ready check logs in."""
    data_dir = run_dir / "redis" / name
    data_dir.mkdir(parents=True, exist_ok=True)
    conf_name = "sentinel.conf" if sentinel else "redis.conf"
    if conf_dir is None:
        conf = data_dir / conf_name
    else:
        (conf_dir / name).mkdir(mode=0o700, parents=True, exist_ok=True)
        conf = conf_dir / name / conf_name
        if redact is not None:
            (data_dir / f"{conf_name}.redacted").write_text(redact.redact(conf_text))
    conf.write_text(conf_text)
    argv = [redis_binary(), str(conf)] + (["--sentinel"] if sentinel else [])
    check = (
        (lambda: health.replica_synced(port, login))
        if replica
        else (lambda: health.redis_ping(port, login=login))
    )
    return ManagedProcess(
        name,
        kind,
        argv,
        log_path=run_dir / "logs" / f"{name}.log",
        cwd=data_dir,
        port=port,
        ready_check=check,
    )


def sentinel_mesh_ready(
    ports: Sequence[int], master_name: str, replicas: int, login: Login | None = None
) -> bool:
    """Every Sentinel knows the primary, all replicas and every other Sentinel."""
    for port in ports:
        client = health.redis_client(port, login=login)
        try:
            known_replicas = health.command(client, "SENTINEL", "REPLICAS", master_name)
            known_sentinels = health.command(client, "SENTINEL", "SENTINELS", master_name)
        except (redis_py.RedisError, OSError):
            return False
        finally:
            client.close()
        if not (isinstance(known_replicas, list) and isinstance(known_sentinels, list)):
            return False
        if len(known_replicas) < replicas or len(known_sentinels) < len(ports) - 1:
            return False
    return True


def failover(
    sentinel_ports: Sequence[int],
    master_name: str,
    timeout_s: float = 30.0,
    login: Login | None = None,
) -> str:
    """SENTINEL FAILOVER; wait until all Sentinels report a new primary and the old one steps down.

    Returns the new primary as 'host:port'. Retries while Sentinel has no
    replica it considers good (e.g. it has not refreshed INFO yet).
    """
    if not sentinel_ports:
        raise ClusterError("failover needs Sentinels (the cluster has none)")
    deadline = time.monotonic() + timeout_s
    old = health.sentinel_primary(sentinel_ports[0], master_name, login=login)
    if old is None:
        raise ClusterError(
            f"sentinel on port {sentinel_ports[0]} does not know primary {master_name!r}"
        )
    last_error = ""
    while True:
        client = health.redis_client(sentinel_ports[0], timeout_s=2.0, login=login)
        try:
            health.command(client, "SENTINEL", "FAILOVER", master_name)
            break
        except redis_py.ResponseError as exc:
            last_error = str(exc)  # NOGOODSLAVE / INPROG: Sentinel is not ready; retry
        except (redis_py.RedisError, OSError) as exc:
            raise ClusterError(
                f"SENTINEL FAILOVER on port {sentinel_ports[0]} failed: {exc}"
            ) from exc
        finally:
            client.close()
        if time.monotonic() >= deadline:
            raise ClusterError(f"SENTINEL FAILOVER was refused until the deadline: {last_error}")
        time.sleep(0.2)
    while time.monotonic() < deadline:
        views = {health.sentinel_primary(p, master_name, login=login) for p in sentinel_ports}
        if len(views) == 1 and None not in views and old not in views:
            new = views.pop()
            assert new is not None
            info = health.redis_info(int(new.rsplit(":", 1)[1]), login=login)
            if info is not None and info.get("role") == "master" and _demote(old, new, login):
                return new
        time.sleep(0.1)
    raise ClusterError(f"failover of {master_name!r} from {old} did not complete in {timeout_s}s")


def _demote(old: str, new: str, login: Login | None = None) -> bool:
    """True once the old primary no longer acts as one (a replica now, or unreachable).

    Sentinel reconfigures an old primary only some 8 s after a failover; doing
    the same at once (REPLICAOF the new primary, CONFIG REWRITE so a restart
    keeps it) closes the window in which two primaries accept writes.
    """
    client = health.redis_client(int(old.rsplit(":", 1)[1]), login=login)
    try:
        if client.info("replication").get("role") != "master":
            return True
        host, port = new.rsplit(":", 1)
        health.command(client, "REPLICAOF", host, port)
        health.command(client, "CONFIG", "REWRITE")
        return client.info("replication").get("role") != "master"
    except (redis_py.RedisError, OSError):
        return True
    finally:
        client.close()
