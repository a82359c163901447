"""`--redis-address-map`: rewrite every Redis and Sentinel address this node dials.

A lab that puts a fault proxy on each of a node's links to Redis (pigeon-lab does) gives
each node its own proxy ports, while Sentinel hands every client the one address Redis
servers advertise, and a different one after a failover. The map is applied to whatever
the node is about to dial: the hosts of `--redis-url` (Redis or the Sentinels) and the
primary (and replicas) Sentinel reports, before and after a failover, in the message store
and in the Socket.IO adapter alike. An address the map does not name is dialled as it is.

Syntax: `HOST:PORT=HOST:PORT` pairs separated by commas, e.g.
`127.0.0.1:7001=127.0.0.1:9101,127.0.0.1:7002=127.0.0.1:9102`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio.sentinel import Sentinel

Address = tuple[str, int]


def _address(text: str) -> Address:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text.strip()!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class AddressMap:
    """Where to dial instead: (host, port) -> (host, port); unknown addresses pass."""

    def __init__(self, pairs: Mapping[Address, Address] | None = None) -> None:
        self.pairs: dict[Address, Address] = dict(pairs or {})

    @classmethod
    def parse(cls, text: str) -> AddressMap:
        """`A=B,C=D` (empty: no mapping); ValueError naming the bad pair."""
        pairs: dict[Address, Address] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            left, sep, right = item.partition("=")
            if not sep:
                raise ValueError(f"{item!r} is not FROM=TO (HOST:PORT=HOST:PORT)")
            pairs[_address(left)] = _address(right)
        return cls(pairs)

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def __call__(self, host: Any, port: Any) -> Address:
        """The address to dial for `host:port` (Sentinel may answer bytes or str)."""
        h = host.decode() if isinstance(host, bytes) else str(host)
        return self.pairs.get((h, int(port)), (h, int(port)))

    def many(self, addresses: Iterable[tuple[Any, Any]]) -> list[Address]:
        return [self(h, p) for h, p in addresses]

    def url(self, url: str) -> str:
        """`url` with each host:port of its netloc mapped (credentials kept)."""
        parts = urlsplit(url)
        if not self.pairs or parts.scheme == "unix" or not parts.netloc:
            return url
        creds, at, hosts = parts.netloc.rpartition("@")
        mapped = []
        for host_port in hosts.split(","):
            try:
                host, port = self(*_address(host_port))
            except ValueError:  # no port: the client's default, which the map cannot name
                mapped.append(host_port)
                continue
            mapped.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        netloc = creds + at + ",".join(mapped)
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class MappedSentinel(Sentinel):
    """redis-py's asyncio Sentinel whose Sentinels, and the servers they report, are mapped."""

    def __init__(
        self, address_map: AddressMap, sentinels: Sequence[tuple[Any, Any]], **kwargs: Any
    ) -> None:
        self.address_map = address_map
        super().__init__(address_map.many(sentinels), **kwargs)  # type: ignore[no-untyped-call]

    async def discover_master(self, service_name: str) -> Address:
        host, port = await cast(Any, super()).discover_master(service_name)
        return self.address_map(host, port)

    async def discover_slaves(self, service_name: str) -> list[Address]:
        found = await cast(Any, super()).discover_slaves(service_name)
        return self.address_map.many(found)


__all__ = ["AddressMap", "MappedSentinel"]
