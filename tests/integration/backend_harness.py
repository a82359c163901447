"""A small real harness for the reference backend's tests: redis-server and backend nodes.

Everything runs as real processes on free loopback ports, each in its own process group,
and is killed by `Lab.close()` whatever happens (fixtures call it on teardown, also after a
failed test). Test modules import the fixtures they need from here (no conftest plugin):
`lab_fixture` and `stack_fixture`, which provide the `lab` and `stack` fixtures (the
functions are not named after their fixtures so that test parameters do not shadow imports).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import socketio

from pigeon_lab.cluster.health import http_ready, redis_ping
from pigeon_lab.cluster.ports import free_port
from pigeon_lab.tokens import mint_token

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REPO = Path(__file__).resolve().parents[2]
SECRET = "test-secret-0123456789-abcdefghijkl"  # >= 32 bytes: PyJWT warns on short HMAC keys


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@dataclass
class Proc:
    """One child process in its own group, with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.popen.kill()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


@dataclass
class Lab:
    """The processes of one test module; `close()` kills them all."""

    workdir: Path
    procs: list[Proc] = field(default_factory=list)

    def _spawn(
        self, name: str, argv: Sequence[str], port: int, env: dict[str, str] | None = None
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(  # fixed argv
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
                start_new_session=True,
            )
        proc = Proc(name, popen, port, log)
        self.procs.append(proc)
        return proc

    def redis(self, name: str = "redis", replica_of: int | None = None) -> Proc:
        return self.redis_on(free_port(), name, replica_of)

    def redis_on(self, port: int, name: str, replica_of: int | None = None) -> Proc:
        """A redis-server on a given port (e.g. to bring a killed one back)."""
        argv = [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
        ]
        if replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        proc = self._spawn(name, argv, port)
        wait_ping(proc, name)
        return proc

    def sentinel(self, primary_port: int, master: str = "pigeon") -> Proc:
        """One Sentinel (quorum 1) watching `primary_port`, with quick failure detection."""
        port = free_port()
        conf = self.workdir / f"sentinel-{port}.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {master} 127.0.0.1 {primary_port} 1\n"
            f"sentinel down-after-milliseconds {master} 1000\n"
            f"sentinel failover-timeout {master} 5000\n"
        )
        proc = self._spawn(f"sentinel-{port}", [REDIS_SERVER, str(conf), "--sentinel"], port)
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
        port = free_port()
        name = name or f"node-{port}"
        url = redis_url or f"redis://127.0.0.1:{redis_port}/0"
        argv = [
            sys.executable,
            "-m",
            "reference_backend",
            "--port",
            str(port),
            "--redis-url",
            url,
            "--jwt-secret",
            SECRET,
            "--node-name",
            name,
            "--log-level",
            "warning",
            *extra,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = self._spawn(name, argv, port, env)
        if ready:
            wait_ready(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.kill()
        self.procs.clear()


def wait_ping(proc: Proc, what: str, timeout: float = 10.0) -> None:
    """Wait until the redis-server or Sentinel `proc` answers PING."""
    deadline = time.monotonic() + timeout
    while not redis_ping(proc.port, timeout_s=1.0):
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{proc.log_tail()}")
        time.sleep(0.05)


def wait_ready(proc: Proc, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited {proc.popen.returncode}:\n{proc.log_tail()}")
        if http_ready(proc.url, timeout_s=1.0):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready in {timeout}s:\n{proc.log_tail()}")


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
