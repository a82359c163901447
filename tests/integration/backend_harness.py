"""A small real harness for the reference backend's tests: redis-server and backend nodes.

Everything runs as real processes on free loopback ports, started through the cluster
package's process module (`pigeon_lab.cluster.process.ManagedProcess`: own process group,
PR_SET_PDEATHSIG, log `<workdir>/logs/<name>.log`) with the cluster's Redis and Sentinel
configs and node command line, and is killed by `Lab.close()` whatever happens (fixtures call
it on teardown, also after a failed test). Test modules import the fixtures they need from
here (no conftest plugin): `lab_fixture` and `stack_fixture`, which provide the `lab` and
`stack` fixtures (the functions are not named after their fixtures so that test parameters do
not shadow imports).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import socketio
from engineio import payload

from pigeon_lab.cluster import redis as cluster_redis
from pigeon_lab.cluster.nodes import backend_node
from pigeon_lab.cluster.ports import free_port
from pigeon_lab.cluster.process import ManagedProcess, log_tail
from pigeon_lab.errors import ClusterError
from pigeon_lab.tokens import mint_token

SECRET = "test-secret-0123456789-abcdefghijkl"  # >= 32 bytes: PyJWT warns on short HMAC keys
# python-engineio's client refuses a long-polling response of more than 16 packets; the
# reference backend drains its queue per poll up to a byte budget (as pigeon_lab's load
# client, pigeon_lab.load.sio_client, the tests' clients take more).
payload.Payload.max_decode_packets = max(payload.Payload.max_decode_packets, 100_000)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@dataclass
class Proc:
    """One started child process (a ManagedProcess) as the tests see it."""

    process: ManagedProcess

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def port(self) -> int:
        assert self.process.port is not None
        return self.process.port

    @property
    def popen(self) -> subprocess.Popen[bytes]:
        assert self.process.popen is not None, f"{self.name} was never started"
        return self.process.popen

    @property
    def log(self) -> Path:
        return self.process.log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, sig: int) -> None:
        """Send `sig` to the process group; nothing when the process has exited."""
        if self.process.returncode is None:
            self.process.signal(sig)

    def kill(self) -> None:
        """SIGKILL the process group and reap the process."""
        self.process.kill()

    def log_tail(self, n: int = 40) -> str:
        return log_tail(self.log, n) or "(no log)"


@dataclass
class Lab:
    """The processes of one test module; `close()` kills them all."""

    workdir: Path
    procs: list[Proc] = field(default_factory=list)

    def _start(self, process: ManagedProcess) -> Proc:
        proc = Proc(process)
        self.procs.append(proc)
        process.start()
        return proc

    def redis(self, name: str = "redis", replica_of: int | None = None) -> Proc:
        return self.redis_on(free_port(), name, replica_of)

    def redis_on(self, port: int, name: str, replica_of: int | None = None) -> Proc:
        """A redis-server on a given port (e.g. to bring a killed one back), no persistence.

        A replica is ready once its link to the primary is up, a primary when it answers PING.
        """
        data_dir = self.workdir / "redis" / name
        conf = cluster_redis.server_config(port, data_dir, replica_of=replica_of, aof=False)
        replica = replica_of is not None
        kind = "redis-replica" if replica else "redis-primary"
        proc = self._start(
            cluster_redis.redis_process(name, kind, conf, port, self.workdir, replica=replica)
        )
        wait_ping(proc, name)
        return proc

    def sentinel(self, primary_port: int, master: str = "pigeon") -> Proc:
        """One Sentinel (quorum 1) watching `primary_port`, with quick failure detection."""
        port = free_port()
        name = f"sentinel-{port}"
        conf = cluster_redis.sentinel_config(
            port,
            self.workdir / "redis" / name,
            master_name=master,
            primary_port=primary_port,
            quorum=1,
            down_after_ms=1000,
            failover_timeout_ms=5000,
        )
        process = cluster_redis.redis_process(
            name, "sentinel", conf, port, self.workdir, sentinel=True
        )
        proc = self._start(process)
        wait_ping(proc, "sentinel")
        return proc

    def backend(
        self,
        redis_port: int,
        *extra: str,
        name: str | None = None,
        ready: bool = True,
        redis_url: str | None = None,
    ) -> Proc:
        """One reference_backend node (`--log-level warning`, the harness's SECRET)."""
        port = free_port()
        name = name or f"node-{port}"
        url = redis_url or f"redis://127.0.0.1:{redis_port}/0"
        process = backend_node(
            name,
            port,
            run_dir=self.workdir,
            redis_url=url,
            jwt_secret=SECRET,
            args=["--log-level", "warning", *extra],
        )
        proc = self._start(process)
        if ready:
            wait_ready(proc)
        return proc

    def close(self) -> None:
        """SIGKILL every process group, newest first (teardown must reach all of them)."""
        for proc in reversed(self.procs):
            with contextlib.suppress(ClusterError):
                proc.process.kill()
            proc.process.close()
        self.procs.clear()


def _wait(proc: Proc, timeout: float) -> None:
    """The process's own ready check; RuntimeError naming it, its exit code and its log tail."""
    try:
        proc.process.wait_ready(time.monotonic() + timeout)
    except ClusterError as exc:
        raise RuntimeError(str(exc)) from exc


def wait_ping(proc: Proc, what: str, timeout: float = 10.0) -> None:
    """Wait until the redis-server or Sentinel `proc` is ready (answers PING; a replica: synced)."""
    try:
        _wait(proc, timeout)
    except RuntimeError as exc:
        raise RuntimeError(f"{what} did not start: {exc}") from exc


def wait_ready(proc: Proc, timeout: float = 20.0) -> None:
    """Wait until the node `proc` answers GET /readyz with 200."""
    _wait(proc, timeout)


@pytest.fixture(scope="module", name="lab")
def lab_fixture() -> Iterator[Lab]:
    """A fresh Lab for a test module, torn down (SIGKILL by group) even on failure."""
    workdir = Path(tempfile.mkdtemp(prefix="pigeon-backend-test-"))
    the_lab = Lab(workdir)
    try:
        yield the_lab
    finally:
        the_lab.close()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Stack:
    """One Redis and two backend nodes sharing it."""

    lab: Lab
    redis: Proc
    a: Proc
    b: Proc

    def flush(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.redis.port)
        try:
            client.flushall()
        finally:
            client.close()


def start_two_nodes(lab: Lab) -> Stack:
    """Redis + nodes A and B with default settings (tests use fresh channel names)."""
    r = lab.redis()
    return Stack(lab, r, lab.backend(r.port, name="node-a"), lab.backend(r.port, name="node-b"))


@pytest.fixture(scope="module", name="stack")
def stack_fixture(lab: Lab) -> Stack:
    """Redis + nodes A and B with default settings (tests use fresh channel names)."""
    return start_two_nodes(lab)


# ---- clients ------------------------------------------------------------------------------
class Peer:
    """An async Socket.IO client that records every `message` push."""

    def __init__(self, url: str, token: str | None, auth: Any = None) -> None:
        self.url = url
        self.auth = {"token": token} if auth is None else auth
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages: list[dict[str, Any]] = []
        self.connect_error: Any = None
        self.sio.on("message", self._on_message)
        self.sio.on("connect_error", self._on_connect_error)

    async def _on_message(self, data: dict[str, Any]) -> None:
        self.messages.append(data)

    async def _on_connect_error(self, data: Any = None) -> None:
        self.connect_error = data

    async def connect(self, transport: str = "websocket") -> Peer:
        await self.sio.connect(self.url, auth=self.auth, transports=[transport], wait_timeout=5)
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 5.0) -> Any:
        return await self.sio.call(event, data, timeout=timeout)

    async def close(self) -> None:
        # Over long-polling the client's disconnect waits for the pending GET (up to the
        # server's ping interval): bound it, the server side is closed by then anyway.
        try:
            await asyncio.wait_for(self.sio.disconnect(), 2.0)
        except TimeoutError:
            await self.sio.eio.disconnect(abort=True)

    async def wait_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.messages


def token(ws: str = "w1", user: str = "u1", ttl_s: float = 3600.0) -> str:
    return mint_token(SECRET, ws, user, ttl_s=ttl_s)


async def peer(url: str, ws: str = "w1", user: str = "u1") -> Peer:
    return await Peer(url, token(ws, user)).connect()


def run(coro: Any, timeout: float = 30.0) -> Any:
    """Run one async scenario from a sync test (no pytest-asyncio dependency)."""
    return asyncio.run(asyncio.wait_for(coro, timeout))
