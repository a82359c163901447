"""The backend's `--redis-address-map`: parsing, URLs and what Sentinel reports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio.sentinel import Sentinel

from reference_backend.addrmap import AddressMap, MappedSentinel
from reference_backend.settings import parse_settings

MAP = "127.0.0.1:7001=127.0.0.1:9101, 127.0.0.1:7002=127.0.0.1:9102"


def test_parse_and_apply() -> None:
    amap = AddressMap.parse(MAP)
    assert amap("127.0.0.1", 7001) == ("127.0.0.1", 9101)
    assert amap(b"127.0.0.1", "7002") == ("127.0.0.1", 9102)
    assert amap("127.0.0.1", 7003) == ("127.0.0.1", 7003)  # not named: as it is
    assert not AddressMap.parse("") and AddressMap.parse(MAP)


@pytest.mark.parametrize("bad", ["127.0.0.1:7001", "a=b", "127.0.0.1:7001=host:99999"])
def test_a_bad_pair_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        AddressMap.parse(bad)


def test_urls_are_mapped_host_by_host() -> None:
    amap = AddressMap.parse(MAP)
    assert amap.url("redis://127.0.0.1:7001/0") == "redis://127.0.0.1:9101/0"
    assert (
        amap.url("redis+sentinel://u:pw@127.0.0.1:7001,127.0.0.1:7005/0/pigeon")
        == "redis+sentinel://u:pw@127.0.0.1:9101,127.0.0.1:7005/0/pigeon"
    )
    assert amap.url("unix:///tmp/redis.sock") == "unix:///tmp/redis.sock"


def test_sentinel_answers_are_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    amap = AddressMap.parse(MAP)
    sentinel = MappedSentinel(amap, [("127.0.0.1", 7002)])
    assert [c.connection_pool.connection_kwargs["port"] for c in sentinel.sentinels] == [9102]

    async def master(self: Any, service: str) -> tuple[str, int]:
        return ("127.0.0.1", 7001)

    async def replicas(self: Any, service: str) -> list[tuple[str, int]]:
        return [("127.0.0.1", 7002), ("127.0.0.1", 7009)]

    # the mapping sits on top of redis-py's discovery, whatever that discovery answered
    monkeypatch.setattr(Sentinel, "discover_master", master)
    monkeypatch.setattr(Sentinel, "discover_slaves", replicas)
    assert asyncio.run(sentinel.discover_master("pigeon")) == ("127.0.0.1", 9101)
    assert asyncio.run(sentinel.discover_slaves("pigeon")) == [
        ("127.0.0.1", 9102),
        ("127.0.0.1", 7009),
    ]


def test_the_flag_validates() -> None:
    s = parse_settings(["--jwt-secret", "s", "--redis-address-map", MAP])
    assert s.address_map("127.0.0.1", 7001) == ("127.0.0.1", 9101)
    with pytest.raises(SystemExit):
        parse_settings(["--jwt-secret", "s", "--redis-address-map", "nonsense"])
