"""Listening sockets shared by proxies, and the routing of each accepted connection by source.

An extension of Toxiproxy's model (docs/interfaces.md, "Fault proxy"): proxies whose
`listen` is the same address share one listening socket, and each has a `source` (the
IP address the connecting process dials from; empty: any other source). An accepted
connection goes to the proxy of its source address, else to the proxy without a source
on that address. Processes that all dial one advertised address (Redis replicas and
Sentinels, which learn each other's addresses from Redis) can so have a link each,
when each dials from its own loopback address (`bind-source-addr`).

A proxy alone on its address behaves as in Toxiproxy: disabling it closes the listening
socket, so connecting is refused. With several proxies on one address the socket stays
open while any of them is enabled; a connection whose proxy is disabled is reset as it
is accepted (SO_LINGER 0, then close), never handed to another proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
from typing import TYPE_CHECKING

from pigeon_lab.proxy.addr import (
    AddressError,
    go_strerror,
    join_host_port,
    normalize_source,
    split_host_port,
)
from pigeon_lab.proxy.connection import Connection
from pigeon_lab.proxy.gojson import ApiError

if TYPE_CHECKING:
    from pigeon_lab.proxy.listener import Proxy

log = logging.getLogger("pigeon_lab.proxy")

BACKLOG = 4096
Key = tuple[str, int]
Candidate = tuple[socket.AddressFamily, Key]
LINGER0 = struct.pack("ii", 1, 0)


def _peer_ip(peer: object) -> str:
    if isinstance(peer, tuple) and peer and isinstance(peer[0], str):
        try:
            return normalize_source(peer[0])
        except ValueError:
            return peer[0]
    return ""


def _reset(sock: socket.socket) -> None:
    """Close an accepted socket with a TCP RST."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    sock.close()


def _client_side(proxy: Proxy) -> asyncio.Protocol:
    return Connection(proxy).client


class Listening:
    """One listening address: its socket (while a route is enabled) and its routes."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.routes: dict[str, Proxy] = {}  # source ("" = any other) -> proxy
        self.sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return join_host_port(*self.key)

    def route(self, peer_ip: str) -> Proxy | None:
        proxy = self.routes.get(peer_ip)
        return proxy if proxy is not None else self.routes.get("")

    def serve(self, sock: socket.socket) -> None:
        self.sock = sock
        self._task = asyncio.get_running_loop().create_task(self._accept(sock))

    def close(self) -> None:
        """Stop accepting and close the socket (connecting is refused from now on)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                if sock.fileno() < 0:
                    return
                log.warning("accept on %s failed: %s", self.address, exc)
                await asyncio.sleep(0.05)  # e.g. out of file descriptors: do not spin
                continue
            proxy = self.route(_peer_ip(peer))
            if proxy is None or not proxy.enabled:
                _reset(conn)
                continue
            conn.setblocking(False)
            try:
                await loop.connect_accepted_socket(functools.partial(_client_side, proxy), conn)
            except OSError as exc:
                log.warning("%s: cannot take a connection from %s: %s", proxy.name, peer, exc)
                conn.close()


class ListenPool:
    """Every listening address of a server, shared by the proxies that name it."""

    def __init__(self) -> None:
        self.by_key: dict[Key, Listening] = {}

    async def open(self, proxy: Proxy) -> str:
        """Route `proxy`'s source on its address and make sure the socket listens.

        Returns the real listen address (a port 0 gets one). Another proxy with the same
        source on that address: 500 `address already in use`, like a second bind."""
        listening = self.by_key.get(proxy.route_key) if proxy.route_key else None
        if listening is None:
            host, port = _split(proxy.listen)
            candidates = await _candidates(host, port)
            if port:
                listening = next((self.by_key[a] for _, a in candidates if a in self.by_key), None)
            if listening is None:
                sock = _bind(proxy.listen, host, candidates)
                name = sock.getsockname()
                listening = Listening((str(name[0]), int(name[1])))
                self.by_key[listening.key] = listening
                listening.serve(sock)
            other = listening.routes.get(proxy.source)
            if other is not None and other is not proxy:
                raise ApiError(f"listen tcp {proxy.listen}: bind: address already in use", 500)
            listening.routes[proxy.source] = proxy
            proxy.route_key = listening.key
        if listening.sock is None:
            family = socket.AF_INET6 if ":" in listening.key[0] else socket.AF_INET
            listening.serve(_bind(listening.address, listening.key[0], [(family, listening.key)]))
        return listening.address

    def closed(self, proxy: Proxy) -> None:
        """`proxy` was disabled: close the socket when no proxy on it is enabled any more."""
        listening = self.by_key.get(proxy.route_key) if proxy.route_key else None
        if listening is not None and not any(p.enabled for p in listening.routes.values()):
            listening.close()

    def forget(self, proxy: Proxy) -> None:
        """`proxy` is gone (deleted, or it moves): drop its route, and the socket if unused."""
        listening = self.by_key.get(proxy.route_key) if proxy.route_key else None
        proxy.route_key = None
        if listening is None:
            return
        if listening.routes.get(proxy.source) is proxy:
            del listening.routes[proxy.source]
        if not any(p.enabled for p in listening.routes.values()):
            listening.close()
        if not listening.routes:
            del self.by_key[listening.key]


def _split(listen: str) -> tuple[str, int]:
    try:
        return split_host_port(listen)
    except AddressError as exc:
        raise ApiError(f"listen tcp: {exc}", 500) from exc


async def _candidates(host: str, port: int) -> list[Candidate]:
    """Where `host:port` binds: an empty host is every interface (dual stack, else IPv4);
    a name is looked up and its first address taken, IPv4 first like Go."""
    if host == "":
        return [(socket.AF_INET6, ("::", port)), (socket.AF_INET, ("0.0.0.0", port))]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        raise ApiError(f"listen tcp: lookup {host}: no such host", 500) from exc
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, address = infos[0][0], infos[0][4]
    return [(family, (str(address[0]), int(address[1])))]


def _bind(listen: str, host: str, candidates: list[Candidate]) -> socket.socket:
    last: OSError | None = None
    for family, address in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and host in ("", "::"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    assert last is not None
    raise ApiError(f"listen tcp {listen}: bind: {go_strerror(last)}", 500) from last
