"""One proxy: its route on a listening socket, its live connections and its two toxic chains.

It follows Toxiproxy's `Proxy`: `start` binds and listens (port 0 picks one and
`listen` then shows the real address), `stop` closes the listener (new
connections are refused, a dead host) and every live connection, and keeps the
toxics for the next `start`. A toxic added, changed or removed reaches every
live connection at once. Proxies may share a listen address, each for its own
`source` (see `sockets.py`): then `stop` refuses only that source's connections.
"""

from __future__ import annotations

import logging
import random

from pigeon_lab.proxy.connection import Connection
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
from pigeon_lab.proxy.sockets import Key, ListenPool

log = logging.getLogger("pigeon_lab.proxy")


class AlreadyStarted(Exception):
    """`start` on a running proxy (`/reset` ignores it, as Toxiproxy does)."""


class Proxy:
    """A listening proxy and everything that goes through it."""

    def __init__(self, config: ProxyConfig, rng: random.Random, pool: ListenPool) -> None:
        self.name = config.name
        self.listen = config.listen
        self.upstream = config.upstream
        self.source = config.source
        self.enabled = False
        self.rng = rng
        self.pool = pool
        self.route_key: Key | None = None  # the listening address it is routed on
        self.chains: dict[str, list[Toxic]] = {UPSTREAM: [], DOWNSTREAM: []}
        self.connections: set[Connection] = set()

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
        self.listen = await self.pool.open(self)
        self.enabled = True
        via = f" for source {self.source}" if self.source else ""
        log.info(
            "proxy %s listening on %s%s, upstream %s", self.name, self.listen, via, self.upstream
        )

    async def stop(self) -> None:
        """Stop listening (for this source) and close every connection (toxics are kept)."""
        if not self.enabled:
            return
        self.enabled = False
        self.pool.closed(self)
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()
        log.info("proxy %s stopped (%s)", self.name, self.listen)

    async def discard(self) -> None:
        """Stop, and give up its place on the listening address (the proxy is deleted)."""
        await self.stop()
        self.pool.forget(self)

    async def update(self, config: ProxyConfig) -> None:
        """A new listen or upstream restarts the proxy; `enabled` starts or stops it."""
        if (config.listen, config.upstream, config.source) != (
            self.listen,
            self.upstream,
            self.source,
        ):
            await self.discard()
            self.listen, self.upstream, self.source = config.listen, config.upstream, config.source
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
        return ProxyConfig(self.name, self.listen, self.upstream, self.enabled, self.source)

    def to_json(self) -> dict[str, object]:
        return {
            **self.config().to_json(),
            "toxics": [t.to_json() for t in self.toxics()],
        }
