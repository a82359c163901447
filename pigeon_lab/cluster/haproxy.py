"""HAProxy in front of the backend nodes: generated haproxy.cfg and its process.

- `mode http`: HAProxy sees the WebSocket upgrade and switches the
  connection to a tunnel, whose idle limit is `timeout tunnel` (long, so
  quiet websockets are not cut; Engine.IO pings keep them busy anyway).
- Health checks `GET /readyz` every 500 ms, down after 2 failures, up after
  1 success: a killed or paused node leaves rotation within ~1.5 s.
- Long-polling requests of one Engine.IO session (and its websocket upgrade) go to
  the node that holds the session: by the `sid` query parameter, which the reference
  backend prefixes with the node's name (`node-2.<random>`: `use-server` rules), so a
  client without cookies (socket.io-client in Node, by default) is served too; and by
  `cookie SERVERID insert indirect nocache` for the rest. `option redispatch` ignores
  both when that node is down, so the client's reconnect lands elsewhere.
- The public frontend serves the Socket.IO path only (`/socket.io/`), plus the load
  balancer's own `/healthz` (alive) and `/readyz` (at least one node UP), answered by
  HAProxy itself: the nodes' `/metrics` and `/readyz` stay on their own ports. Any other
  path is 404.
- A stats page (`/stats`, `;csv`) on its own port: the supervisor reads
  server states from it.
- `sticky=False` (`ClusterSpec.lb_sticky`) drops every stickiness directive and
  balances round robin: the misconfiguration `pigeon-lab probe` must catch (polling
  requests reaching a node that does not know their session).
"""

from __future__ import annotations

import re
import resource
import shutil
from collections.abc import Callable
from pathlib import Path

from pigeon_lab.cluster import health
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.errors import EnvironmentProblem

HOST = health.HOST
SOCKETIO_PATH = "/socket.io"  # the only path the public frontend forwards


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise EnvironmentProblem("haproxy not found; install it: sudo apt-get install -y haproxy")
    return found


def haproxy_config(
    port: int, stats_port: int, nodes: dict[str, int], *, balance: str = "leastconn"
) -> str:
    """haproxy.cfg balancing over `nodes` ({name: port}) with the `balance` algorithm.

    The cluster uses `leastconn`; bench/backend.py passes `roundrobin`, the Node peer's method.
    """
    # Each proxied connection holds two fds; stay inside the fd limit HAProxy inherits.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    maxconn = max(256, min(20000, (limit - 200) // 2))
    servers = "\n".join(
        f"    server {name} {HOST}:{nport} check cookie {name}" for name, nport in nodes.items()
    )
    by_sid = "\n".join(  # the backend's sids start with "<node name>." (reference_backend/app.py)
        f"    use-server {name} if {{ url_param(sid) -m beg {name}. }}" for name in nodes
    )
    return f"""\
global
    maxconn {maxconn}
    hard-stop-after 2s

defaults
    mode http
    option redispatch
    retries 2
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout client-fin 5s
    timeout http-request 10s
    timeout check 400ms

frontend pigeon
    bind {HOST}:{port}
    acl socketio path_beg {SOCKETIO_PATH}/
    acl socketio path {SOCKETIO_PATH}
    acl some_node_up nbsrv(nodes) gt 0
    acl lb_health path /healthz
    acl lb_ready path /readyz
    http-request return status 200 content-type text/plain string "ok" if lb_health
    http-request return status 200 content-type text/plain string "ready" if lb_ready some_node_up
    http-request return status 503 content-type text/plain string "no node" if lb_ready
    http-request deny deny_status 404 unless socketio
    default_backend nodes

backend nodes
    balance {balance}
    option httpchk GET /readyz
    http-check expect status 200
    cookie SERVERID insert indirect nocache
    default-server inter 500ms fastinter 250ms downinter 500ms rise 1 fall 2
{by_sid}
{servers}

listen stats
    bind {HOST}:{stats_port}
    stats enable
    stats uri /stats
    stats refresh 2s
"""


_STICKY_LINE = re.compile(r"^\s*(cookie|use-server|stick|stick-table)\s")
_SERVER_COOKIE = re.compile(r"\s+cookie\s+\S+")


def without_stickiness(config: str) -> str:
    """`config` with no stickiness left: no cookie, stick or use-server lines, no server
    cookies, and `balance roundrobin` (consecutive requests go to different nodes)."""
    out: list[str] = []
    for line in config.splitlines():
        if _STICKY_LINE.match(line):
            continue
        if line.strip().startswith("server "):
            line = _SERVER_COOKIE.sub("", line)
        if line.strip().startswith("balance "):
            line = line[: len(line) - len(line.lstrip())] + "balance roundrobin"
        out.append(line)
    return "\n".join(out) + "\n"


def haproxy_process(
    run_dir: Path,
    port: int,
    stats_port: int,
    nodes: dict[str, int],
    expect_up: Callable[[], list[str]],
    *,
    name: str = "haproxy",
    balance: str = "leastconn",
    sticky: bool = True,
) -> ManagedProcess:
    """Write `<run_dir>/<name>/haproxy.cfg`; ready when the nodes `expect_up()` names are UP.

    `name` names the process, its log (`<run_dir>/logs/<name>.log`) and its config folder, so
    that several load balancers can share one run folder (the benchmark runs two at once).
    """
    conf_dir = run_dir / name
    conf_dir.mkdir(parents=True, exist_ok=True)
    conf = conf_dir / "haproxy.cfg"
    text = haproxy_config(port, stats_port, nodes, balance=balance)
    conf.write_text(text if sticky else without_stickiness(text))
    stats_url = f"http://{HOST}:{stats_port}/stats"

    def ready() -> bool:
        states = health.haproxy_server_states(stats_url)
        return bool(states) and all(states.get(n) == "UP" for n in expect_up())

    return ManagedProcess(
        name,
        "haproxy",
        [haproxy_binary(), "-db", "-f", str(conf)],
        log_path=run_dir / "logs" / f"{name}.log",
        cwd=conf_dir,
        port=port,
        ready_check=ready,
    )
