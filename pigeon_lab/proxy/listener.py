"""One proxy: its listening socket, its live connections and its two toxic chains.

It follows Toxiproxy's `Proxy`: `start` binds and listens (port 0 picks one and
`listen` then shows the real address), `stop` closes the listener (new
connections are refused, a dead host) and every live connection, and keeps the
toxics for the next `start`. A toxic added, changed or removed reaches every
live connection at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket

from pigeon_lab.proxy.addr import AddressError, go_strerror, join_host_port, split_host_port
from pigeon_lab.proxy.connection import Connection
from pigeon_lab.proxy.gojson import ApiError
from pigeon_lab.proxy.model import (
    DIRECTIONS,
    DOWNSTREAM,
    ERR_TOXIC_EXISTS,
    ERR_TOXIC_NOT_FOUND,
    UPSTREAM,
    ProxyConfig,
    Toxic,
    ToxicRequest,
    parse_toxic_update,
    with_attributes,
)

log = logging.getLogger("pigeon_lab.proxy")

BACKLOG = 4096


class AlreadyStarted(Exception):
    """`start` on a running proxy (`/reset` ignores it, as Toxiproxy does)."""


class Proxy:
    """A listening proxy and everything that goes through it."""

    def __init__(self, config: ProxyConfig, rng: random.Random) -> None:
        self.name = config.name
        self.listen = config.listen
        self.upstream = config.upstream
        self.enabled = False
        self.rng = rng
        self.chains: dict[str, list[Toxic]] = {UPSTREAM: [], DOWNSTREAM: []}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    # what a connection asks of its proxy (link.LinkHost) -------------------------
    def chain(self, direction: str) -> list[Toxic]:
        return list(self.chains[direction])

    def has_reset_peer(self) -> bool:
        return any(t.type == "reset_peer" for d in DIRECTIONS for t in self.chains[d])

    def adopt(self, conn: Connection) -> None:
        self.connections.add(conn)

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)

    # listening --------------------------------------------------------------------
    async def start(self) -> None:
        if self.enabled:
            raise AlreadyStarted(self.name)
        sock = await self._bind()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self).client, sock=sock, backlog=BACKLOG
        )
        host, port = sock.getsockname()[:2]
        self.listen = join_host_port(host, port)
        self.enabled = True
        log.info("proxy %s listening on %s, upstream %s", self.name, self.listen, self.upstream)

    async def _bind(self) -> socket.socket:
        try:
            host, port = split_host_port(self.listen)
        except AddressError as exc:
            raise ApiError(f"listen tcp: {exc}", 500) from exc
        candidates: list[tuple[socket.AddressFamily, tuple[str, int]]]
        if host == "":
            candidates = [(socket.AF_INET6, ("::", port)), (socket.AF_INET, ("0.0.0.0", port))]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
                )
            except OSError as exc:
                raise ApiError(f"listen tcp: lookup {host}: no such host", 500) from exc
            infos.sort(key=lambda info: info[0] != socket.AF_INET)  # IPv4 first, like Go
            candidates = [(info[0], info[4][:2]) for info in infos[:1]]  # type: ignore[misc]
        last: OSError | None = None
        for family, address in candidates:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and host == "":
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind(address)
                sock.listen(BACKLOG)
                sock.setblocking(False)
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        assert last is not None
        raise ApiError(f"listen tcp {self.listen}: bind: {go_strerror(last)}", 500) from last

    async def stop(self) -> None:
        """Stop listening and close every connection (toxics are kept)."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()
        log.info("proxy %s stopped (%s)", self.name, self.listen)

    async def update(self, config: ProxyConfig) -> None:
        """A new listen or upstream restarts the proxy; `enabled` starts or stops it."""
        if config.listen != self.listen or config.upstream != self.upstream:
            await self.stop()
            self.listen, self.upstream = config.listen, config.upstream
        if config.enabled != self.enabled:
            if config.enabled:
                await self.start()
            else:
                await self.stop()

    # toxics -----------------------------------------------------------------------
    def toxics(self) -> list[Toxic]:
        """Upstream chain first, then downstream (the API's order)."""
        return [*self.chains[UPSTREAM], *self.chains[DOWNSTREAM]]

    def find(self, name: str) -> Toxic | None:
        return next((t for t in self.toxics() if t.name == name), None)

    def get_toxic(self, name: str) -> Toxic:
        toxic = self.find(name)
        if toxic is None:
            raise ERR_TOXIC_NOT_FOUND
        return toxic

    def add_toxic(self, request: ToxicRequest) -> Toxic:
        if self.find(request.toxic.name) is not None:
            raise ERR_TOXIC_EXISTS
        toxic = with_attributes(request.toxic, request.raw_attributes)
        self.chains[toxic.direction].append(toxic)
        for conn in list(self.connections):
            conn.link(toxic.direction).add(toxic)
        log.info("proxy %s: toxic added %s", self.name, toxic.to_json())
        return toxic

    def update_toxic(self, name: str, body: object) -> Toxic:
        current = self.get_toxic(name)
        toxic = parse_toxic_update(body, current)
        chain = self.chains[toxic.direction]
        chain[chain.index(current)] = toxic
        for conn in list(self.connections):
            conn.link(toxic.direction).update(toxic)
        log.info("proxy %s: toxic updated %s", self.name, toxic.to_json())
        return toxic

    def remove_toxic(self, name: str) -> None:
        toxic = self.get_toxic(name)
        self.chains[toxic.direction].remove(toxic)
        for conn in list(self.connections):
            conn.link(toxic.direction).remove(name)
        log.info("proxy %s: toxic removed %s", self.name, name)

    def reset_toxics(self) -> None:
        for direction in DIRECTIONS:
            while self.chains[direction]:
                self.remove_toxic(self.chains[direction][0].name)

    def config(self) -> ProxyConfig:
        return ProxyConfig(self.name, self.listen, self.upstream, self.enabled)

    def to_json(self) -> dict[str, object]:
        return {
            **self.config().to_json(),
            "toxics": [t.to_json() for t in self.toxics()],
        }
