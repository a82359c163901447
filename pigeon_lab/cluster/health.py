"""Probes shared by readiness waits and `status`: HTTP /readyz, Redis PING and roles, HAProxy stats.

Timeouts are short because a paused (SIGSTOPped) process accepts TCP
connections but never answers; that must read as 'unready', not hang.
Redis and Sentinel probes log in with `login` (the cluster's admin user) when the
cluster has ACL users; anonymous clients are refused there.
"""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request

import redis

from pigeon_lab.cluster.redis_acl import Login

HOST = "127.0.0.1"


def http_status(url: str, timeout_s: float = 0.5) -> int | None:
    """The HTTP status of GET `url`, or None when it cannot be had in time."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def http_ready(base_url: str, timeout_s: float = 0.5) -> bool:
    return http_status(base_url.rstrip("/") + "/readyz", timeout_s) == 200


def redis_client(port: int, timeout_s: float = 0.5, login: Login | None = None) -> redis.Redis:
    return redis.Redis(
        host=HOST,
        port=port,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        decode_responses=True,
        username=login.username if login else None,
        password=login.password if login else None,
    )


def redis_info(
    port: int, section: str = "replication", timeout_s: float = 0.5, login: Login | None = None
) -> dict[str, str] | None:
    """INFO <section> as a dict, or None when Redis does not answer."""
    client = redis_client(port, timeout_s, login)
    try:
        return {str(k): str(v) for k, v in client.info(section).items()}
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def redis_ping(port: int, timeout_s: float = 0.5, login: Login | None = None) -> bool:
    client = redis_client(port, timeout_s, login)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def redis_health(port: int, timeout_s: float = 0.5, login: Login | None = None) -> str:
    """'master', 'replica (link up|down)' or 'unreachable'."""
    info = redis_info(port, timeout_s=timeout_s, login=login)
    if info is None:
        return "unreachable"
    if info.get("role") == "master":
        return f"master ({info.get('connected_slaves', '0')} replicas)"
    return (
        f"replica of :{info.get('master_port', '?')} (link {info.get('master_link_status', '?')})"
    )


def replica_synced(port: int, login: Login | None = None) -> bool:
    """Ready as a replica: its link is up (or Sentinel promoted it and it is a primary now)."""
    info = redis_info(port, login=login)
    return info is not None and (
        info.get("role") == "master" or info.get("master_link_status") == "up"
    )


def command(client: redis.Redis, *args: str | int) -> object:
    """The raw reply to one Redis command (redis-py leaves ``execute_command`` untyped)."""
    reply: object = client.execute_command(*args)  # type: ignore[no-untyped-call]
    return reply


def sentinel_primary(
    port: int, master_name: str, timeout_s: float = 0.5, login: Login | None = None
) -> str | None:
    """The primary 'host:port' that a Sentinel reports, or None."""
    client = redis_client(port, timeout_s, login)
    try:
        addr = command(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name)
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()
    if not addr:
        return None
    host, mport = addr if isinstance(addr, (list, tuple)) else (None, None)
    return f"{host}:{mport}" if host else None


def sentinel_health(
    port: int, master_name: str, timeout_s: float = 0.5, login: Login | None = None
) -> str:
    primary = sentinel_primary(port, master_name, timeout_s, login)
    return f"primary {primary}" if primary else "unreachable"


def haproxy_server_states(stats_url: str, timeout_s: float = 0.5) -> dict[str, str]:
    """{server name: status ('UP', 'DOWN', 'MAINT', ...)} of the `nodes` backend."""
    try:
        with urllib.request.urlopen(stats_url + ";csv", timeout=timeout_s) as resp:
            text = resp.read().decode()
    except (OSError, ValueError):
        return {}
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {
        row["svname"]: row["status"].split(" ")[0]
        for row in rows
        if row.get("pxname") == "nodes" and row.get("svname") not in ("FRONTEND", "BACKEND")
    }
