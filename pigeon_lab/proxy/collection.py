"""The proxies of one server by name: add, replace, remove, populate, reset.

Mutations take one lock (Toxiproxy's collection mutex), so two requests that
race to create the same name cannot both succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from pigeon_lab.proxy.gojson import ApiError
from pigeon_lab.proxy.listener import AlreadyStarted, Proxy
from pigeon_lab.proxy.model import ERR_EXISTS, ERR_NOT_FOUND, ProxyConfig
from pigeon_lab.proxy.sockets import ListenPool


class ProxyCollection:
    """Every proxy of the server."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool = ListenPool()
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ERR_NOT_FOUND
        return proxy

    async def add(self, config: ProxyConfig) -> Proxy:
        async with self.lock:
            return await self._add(config)

    async def _add(self, config: ProxyConfig) -> Proxy:
        if config.name in self.proxies:
            raise ERR_EXISTS
        proxy = Proxy(config, self.rng, self.pool)
        if config.enabled:
            try:
                await proxy.start()
            except ApiError:
                self.pool.forget(proxy)
                raise
        self.proxies[config.name] = proxy
        return proxy

    async def remove(self, name: str) -> None:
        async with self.lock:
            proxy = self.get(name)
            await proxy.discard()
            del self.proxies[name]

    async def update(self, name: str, config: ProxyConfig) -> Proxy:
        async with self.lock:
            proxy = self.get(name)
            await proxy.update(config)
            return proxy

    async def populate(self, configs: list[ProxyConfig]) -> tuple[list[Proxy], ApiError | None]:
        """Create or replace each proxy in order; on an error, those done so far and the error.

        A proxy of the same name with the same listen and upstream is left as it
        is (even if `enabled` differs); otherwise the old one is stopped and
        replaced, its toxics lost.
        """
        done: list[Proxy] = []
        async with self.lock:
            for config in configs:
                old = self.proxies.get(config.name)
                if old is not None and (old.listen, old.upstream, old.source) == (
                    config.listen,
                    config.upstream,
                    config.source,
                ):
                    done.append(old)
                    continue
                if old is not None:
                    await old.discard()
                    del self.proxies[config.name]
                try:
                    done.append(await self._add(config))
                except ApiError as exc:
                    return done, exc
        return done, None

    async def reset(self) -> None:
        """Start every proxy (a running one stays as it is) and remove every toxic."""
        async with self.lock:
            for proxy in list(self.proxies.values()):
                with contextlib.suppress(AlreadyStarted):
                    await proxy.start()
                proxy.reset_toxics()

    async def close(self) -> None:
        """Stop every proxy (listeners and connections); the server is going away."""
        async with self.lock:
            for proxy in self.proxies.values():
                await proxy.discard()
