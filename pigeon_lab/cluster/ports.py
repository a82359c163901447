"""Free loopback ports for the processes of one cluster.

A port is taken when a bind to it succeeds; all sockets of one request stay
open until every port is chosen, so one call never hands out the same port
twice. The window between closing and the child binding is small;
a lost race shows up as a ClusterError with "Address already in use" in the
process's log tail.

``PIGEON_LAB_PORTS=LOW-HIGH`` confines the draw to one range, so that labs sharing a host
(parallel test workers, two users) never race each other for a port.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

from pigeon_lab.errors import EnvironmentProblem

HOST = "127.0.0.1"
PRIVATE_LOW = 20000  # start of the range drawn from (below the ephemeral ports)
PORTS_ENV = "PIGEON_LAB_PORTS"  # LOW-HIGH: this lab's own range (see the module docstring)


def _pool() -> range | None:
    """The ports drawn from: PIGEON_LAB_PORTS, else below the ephemeral range (None: the
    kernel's choice, when there is no room below it)."""
    spec = os.environ.get(PORTS_ENV, "").strip()
    if spec:
        low_s, sep, high_s = spec.partition("-")
        try:
            low, high = int(low_s), int(high_s)
        except ValueError:
            low = high = -1
        if not sep or not 1024 <= low < high <= 65535 or high - low < 100:
            raise EnvironmentProblem(
                f"{PORTS_ENV}={spec!r}: expected LOW-HIGH, 1024 <= LOW < HIGH <= 65535, "
                "at least 100 ports"
            )
        return range(low, high + 1)
    low = _ephemeral_low()
    return range(PRIVATE_LOW, low) if low - PRIVATE_LOW >= 1000 else None


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
    pool = _pool()
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
