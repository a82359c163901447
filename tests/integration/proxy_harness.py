"""Helpers for the fault proxy's tests: small loopback servers, a running proxy, a client.

`TcpServer` runs a handler per accepted connection in a thread (echo, send
then close, ...). `running_proxy` starts the real `python -m pigeon_lab.proxy`
as a ManagedProcess, the way the supervisor will.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from pigeon_lab.cluster.fault_proxy import proxy_process, proxy_url
from pigeon_lab.cluster.ports import free_port
from pigeon_lab.cluster.process import ManagedProcess
from pigeon_lab.proxy.client import ProxyClient, ProxyInfo

HOST = "127.0.0.1"
Handler = Callable[[socket.socket], None]


class TcpServer:
    """A loopback TCP server running `handler(conn)` in a thread per connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server((HOST, 0), backlog=1024)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for conn in self._conns:
            with suppress(OSError):
                conn.close()


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def sink(conn: socket.socket) -> None:
    while conn.recv(1 << 20):
        pass


def sender(size: int) -> Handler:
    """Send `size` bytes at once, then wait for the client to close."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"x" * size)
        while conn.recv(65536):
            pass

    return handler


def close_after_first_byte(conn: socket.socket) -> None:
    conn.recv(1)


@contextmanager
def tcp_server(handler: Handler) -> Iterator[TcpServer]:
    server = TcpServer(handler)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def running_proxy(run_dir: Path, name: str = "fault-proxy") -> Iterator[ManagedProcess]:
    proc = proxy_process(name, free_port(), run_dir)
    proc.start()
    try:
        proc.wait_ready(time.monotonic() + 20)
        yield proc
    finally:
        proc.terminate(grace_s=5)
        proc.close()


def client_of(proc: ManagedProcess) -> ProxyClient:
    assert proc.port is not None
    return ProxyClient(proxy_url(proc.port))


@pytest.fixture(scope="module")
def fault_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    """One fault proxy process for a test module."""
    with running_proxy(tmp_path_factory.mktemp("proxy")) as proc:
        yield proc


@pytest.fixture
def proxy_client(fault_proxy: ManagedProcess) -> Iterator[ProxyClient]:
    """A client of the module's proxy; every proxy is deleted after the test."""
    client = client_of(fault_proxy)
    yield client
    for name in client.proxies():
        client.delete(name)


def connect(info: ProxyInfo, timeout_s: float = 5.0) -> socket.socket:
    sock = socket.create_connection((HOST, info.port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        data = sock.recv(size - len(out))
        if not data:
            raise EOFError(f"closed after {len(out)} of {size} bytes")
        out += data
    return bytes(out)


def round_trip_ms(sock: socket.socket, message: bytes = b"ping") -> float:
    start = time.perf_counter()
    sock.sendall(message)
    recv_exactly(sock, len(message))
    return (time.perf_counter() - start) * 1000.0


def read_until_closed(sock: socket.socket) -> tuple[bytes, str]:
    """Everything until the peer closes, and how: 'eof' or 'reset'."""
    out = bytearray()
    try:
        while data := sock.recv(65536):
            out += data
    except ConnectionResetError:
        return bytes(out), "reset"
    return bytes(out), "eof"
