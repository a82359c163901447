"""Free loopback ports for the processes of one cluster.

A port is taken when a bind to it succeeds; all sockets of one request stay
open until every port is chosen, so one call never hands out the same port
twice. The window between closing and the child binding is small;
a lost race shows up as a ClusterError with "Address already in use" in the
process's log tail.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

from pigeon_lab.errors import EnvironmentProblem

HOST = "127.0.0.1"
PRIVATE_LOW = 20000  # start of the range drawn from (below the ephemeral ports)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int, host: str = HOST) -> list[int]:
    """Return `count` distinct ports that are free on `host` right now.

    They are drawn below the kernel's ephemeral range when there is room,
    because ports in it are handed to outgoing connections at any moment and
    one of those could take a port between this check and the child's bind.
    """
    low = _ephemeral_low()
    pool = range(PRIVATE_LOW, low) if low - PRIVATE_LOW >= 1000 else None
    sockets: list[socket.socket] = []
    tries = 0
    try:
        while len(sockets) < count:
            tries += 1
            use_pool = pool is not None and tries <= 50 * count
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((host, random.choice(pool) if use_pool and pool else 0))
            except OSError:
                sock.close()
                if not use_pool:
                    raise
                continue
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    except OSError as exc:
        raise EnvironmentProblem(f"cannot find {count} free ports on {host}: {exc}") from exc
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = HOST) -> int:
    """Return one free port on `host`."""
    return free_ports(1, host)[0]


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on `port` (a bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
