"""Shared fixtures: the session's bundled cluster, a Socket.IO client factory, a free port.

`cluster` is started once per session (3 nodes, 1 replica, 3 Sentinels,
HAProxy, durability fast, Engine.IO pings every 2 s so dead peers are noticed
fast). Tests that kill, pause or fail over parts of it call `cluster.heal()`
when done; tests that need another topology start their own `Cluster`.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio

from pigeon_lab.cluster import Cluster, ClusterSpec
from pigeon_lab.cluster.ports import PORTS_ENV
from pigeon_lab.cluster.ports import free_port as _free_port
from pigeon_lab.tokens import mint_token
from tests.integration.backend_harness import SECRET

FAST_PINGS = ("--ping-interval", "2", "--ping-timeout", "2")
PORTS_LOW, PORTS_HIGH = 20000, 32767  # below the kernel's ephemeral range


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``./lab test`` runs two workers) each worker draws its ports from
    a range of its own, so two workers' clusters never race for one port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and PORTS_ENV not in os.environ:
        index, count = int(worker[2:]), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        span = (PORTS_HIGH - PORTS_LOW + 1) // max(count, 1)
        low = PORTS_LOW + index * span
        os.environ[PORTS_ENV] = f"{low}-{low + span - 1}"


def missing_cluster_binaries() -> list[str]:
    """The binaries a bundled cluster needs that this machine lacks."""
    wanted = {"redis-server": "/usr/bin:/usr/local/bin", "haproxy": "/usr/sbin:/usr/local/sbin"}
    return [
        b for b, extra in wanted.items() if not (shutil.which(b) or shutil.which(b, path=extra))
    ]


def require_cluster_binaries() -> None:
    missing = missing_cluster_binaries()
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (./lab test installs them)")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's running cluster; torn down at the end of the session."""
    require_cluster_binaries()
    spec = ClusterSpec(
        run_dir=tmp_path_factory.mktemp("cluster"),
        nodes=3,
        replicas=1,
        sentinels=3,
        durability="fast",
        load_balancer=True,
        backend_args=FAST_PINGS,
        jwt_secret=SECRET,  # the backend harness's secret, so protocol tests run on both
    )
    with Cluster.start(spec) as running:
        yield running


@pytest.fixture
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    return _free_port()


@dataclass
class PigeonClient:
    """A python-socketio client with the messages it received (thread-safe list)."""

    sio: socketio.Client
    messages: list[dict[str, Any]] = field(default_factory=list)
    connects: int = 0
    connected_event: threading.Event = field(default_factory=threading.Event)

    def call(self, event: str, data: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        ack: dict[str, Any] = self.sio.call(event, data, timeout=timeout)
        return ack

    def seqs(self, channel: str) -> list[int]:
        return [int(m["seq"]) for m in list(self.messages) if m.get("channel") == channel]


ClientFactory = Callable[..., PigeonClient]


@pytest.fixture
def pigeon_client() -> Iterator[ClientFactory]:
    """Factory: `pigeon_client(url, secret, workspace="ws1", user="u1")` -> connected client.

    Websocket transport, fast reconnection; every client is disconnected at teardown.
    """
    made: list[PigeonClient] = []

    def make(
        url: str,
        secret: str,
        workspace: str = "ws1",
        user: str = "u1",
        transports: tuple[str, ...] = ("websocket",),
    ) -> PigeonClient:
        sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1.0)
        client = PigeonClient(sio)

        def _on_message(data: dict[str, Any]) -> None:
            client.messages.append(data)

        def _on_connect() -> None:
            client.connects += 1
            client.connected_event.set()

        sio.on("message", _on_message)
        sio.on("connect", _on_connect)

        made.append(client)
        token = mint_token(secret, workspace, user)
        sio.connect(url, auth={"token": token}, transports=list(transports), wait_timeout=5)
        return client

    yield make
    for client in made:
        client.sio.disconnect()
