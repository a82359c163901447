"""The fault proxy's pure parts: Go-style JSON, request bodies, addresses, the slicer's cuts."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon_lab.proxy import gojson
from pigeon_lab.proxy.addr import AddressError, join_host_port, split_host_port
from pigeon_lab.proxy.gojson import ApiError
from pigeon_lab.proxy.model import (
    ProxyConfig,
    Toxic,
    parse_populate,
    parse_proxy_create,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
    with_attributes,
)
from pigeon_lab.proxy.toxics import Chunk, Latency, slice_bounds


def error(fn: object, *args: object) -> ApiError:
    with pytest.raises(ApiError) as exc:
        fn(*args)  # type: ignore[operator]
    return exc.value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "bad request body: EOF"),
        (b"   \n", "bad request body: EOF"),
        (b'{"a": ', "bad request body: unexpected EOF"),
        (b"{nope}", "bad request body: invalid character 'n'"),
    ],
)
def test_decode_errors_read_like_go(raw: bytes, message: str) -> None:
    err = error(gojson.decode_body, raw)
    assert err.status == 400 and err.message.startswith(message)


def test_decode_reads_only_the_first_value() -> None:
    assert gojson.decode_body(b' {"a": 1} trailing') == {"a": 1}


def test_fields_match_keys_like_go() -> None:
    schema = {"name": "string", "enabled": "bool"}
    got = gojson.fields({"NAME": "loose", "name": "exact", "enabled": None, "x": 1}, schema, "P")
    assert got == {"name": "exact"}  # exact wins, null leaves it unset, unknown ignored
    assert gojson.fields({"Enabled": False}, schema, "P") == {"enabled": False}


@pytest.mark.parametrize(
    ("value", "gotype", "message"),
    [
        ("5", "int64", "cannot unmarshal string into Go struct field T.f of type int64"),
        (1.5, "int64", "cannot unmarshal number 1.5 into Go struct field T.f of type int64"),
        (True, "int64", "cannot unmarshal bool into Go struct field T.f of type int64"),
        (5, "string", "cannot unmarshal number into Go struct field T.f of type string"),
        ([], "bool", "cannot unmarshal array into Go struct field T.f of type bool"),
        ("x", "float32", "cannot unmarshal string into Go struct field T.f of type float32"),
    ],
)
def test_wrong_kinds_are_400(value: object, gotype: str, message: str) -> None:
    err = error(gojson.convert, value, gotype, "T", "f")
    assert err.status == 400 and err.message == f"bad request body: json: {message}"


def test_dumps_is_compact_with_gos_escapes_and_float32_integers() -> None:
    assert gojson.dumps({"a": 1.0, "b": 0.5, "c": "<&>"}) == (
        b'{"a":1,"b":0.5,"c":"\\u003c\\u0026\\u003e"}'
    )


def test_proxy_bodies() -> None:
    assert parse_proxy_create({"name": "a", "upstream": "h:1"}) == ProxyConfig("a", "", "h:1", True)
    assert parse_proxy_create(
        {"name": "a", "upstream": "h:1", "listen": "l:2", "enabled": False}
    ) == ProxyConfig("a", "l:2", "h:1", False)
    assert error(parse_proxy_create, {"upstream": "h:1"}).message == "missing required field: name"
    assert error(parse_proxy_create, {"name": "a"}).message == "missing required field: upstream"
    assert error(parse_proxy_create, None).message == "missing required field: name"
    current = ProxyConfig("a", "l:2", "h:1", True)
    assert parse_proxy_update({"enabled": False, "name": "b"}, current) == ProxyConfig(
        "a", "l:2", "h:1", False
    )
    assert parse_proxy_update(None, current) == current


def test_populate_bodies() -> None:
    assert parse_populate(None) == []
    assert parse_populate([{"name": "a", "upstream": "h:1"}]) == [ProxyConfig("a", "", "h:1")]
    assert error(parse_populate, [{"upstream": "h:1"}]).message == (
        "missing required field: name at proxy 1"
    )
    dup = error(parse_populate, [{"name": "a", "upstream": "h:1"}] * 2)
    assert (dup.status, dup.message) == (500, 'duplicate proxy name "a"')
    assert error(parse_populate, {"name": "a"}).message.startswith(
        "bad request body: json: cannot unmarshal object into Go value of type"
    )


def test_toxic_create_defaults_and_error_order() -> None:
    req = parse_toxic_create({"type": "latency", "attributes": {"latency": 5}})
    assert req.toxic == Toxic("latency_downstream", "latency", "downstream", 1.0)
    assert req.raw_attributes == {"latency": 5}
    assert (
        parse_toxic_create({"type": "timeout", "stream": "UPSTREAM"}).toxic.direction == "upstream"
    )
    # the stream is checked before the type, as in Toxiproxy
    assert error(parse_toxic_create, {"type": "bogus", "stream": "x"}).message.startswith("stream")
    assert error(parse_toxic_create, {"type": "bogus"}).message == "invalid toxic type"
    assert error(parse_toxic_create, {"type": "latency", "stream": ""}).message.startswith("stream")


def test_attributes_merge_and_updates_touch_only_attributes_and_toxicity() -> None:
    base = with_attributes(Toxic("l", "latency", "downstream", 1.0), {"latency": 10, "other": 1})
    assert dict(base.attributes) == {"latency": 10, "jitter": 0}
    updated = parse_toxic_update(
        {"attributes": {"jitter": 4}, "toxicity": 0.5, "name": "z", "stream": "upstream"}, base
    )
    assert updated.name == "l" and updated.stream == "downstream"
    assert dict(updated.attributes) == {"latency": 10, "jitter": 4} and updated.toxicity == 0.5
    assert list(updated.to_json()) == ["attributes", "name", "type", "stream", "toxicity"]
    bad = error(parse_toxic_update, {"attributes": {"latency": "x"}}, base)
    assert "LatencyToxic.attributes.latency of type int64" in bad.message


@pytest.mark.parametrize(
    ("address", "expected"),
    [("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:9", ("::1", 9)), (":0", ("", 0))],
)
def test_split_host_port(address: str, expected: tuple[str, int]) -> None:
    assert split_host_port(address) == expected
    assert join_host_port(*expected) == address or expected[0] == ""


@pytest.mark.parametrize(
    ("address", "reason"),
    [("host", "missing port"), ("a:b:1", "too many colons"), ("h:x", "invalid port")],
)
def test_bad_addresses(address: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        split_host_port(address)


@given(
    size=st.integers(0, 5000),
    average=st.integers(-5, 300),
    variation=st.integers(-5, 100),
    seed=st.integers(0, 1000),
)
def test_slicer_pieces_cover_the_chunk(size: int, average: int, variation: int, seed: int) -> None:
    pieces = slice_bounds(0, size, average, variation, random.Random(seed))
    assert pieces[0][0] == 0 and pieces[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert all(hi > lo for lo, hi in pieces) or size == 0
    limit = max(1, average) + max(0, variation)
    assert all(hi - lo <= limit for lo, hi in pieces) or size <= 1


def test_toxicity_is_drawn_at_each_restart_and_restarts_release_waits() -> None:
    async def scenario() -> tuple[list[bool], float]:
        toxic = Toxic("l", "latency", "downstream", 0.5, {"latency": 10_000})
        stage = Latency(toxic, random.Random(3), lambda _s: None)
        draws = []
        for _ in range(40):
            stage.restart()
            draws.append(stage.active)
        stage.restart(Toxic("l", "latency", "downstream", 1.0, {"latency": 10_000}))
        out: list[Chunk] = []

        async def emit(chunk: Chunk) -> None:
            out.append(chunk)

        loop = asyncio.get_running_loop()
        start = loop.time()
        task = asyncio.ensure_future(stage.handle(Chunk(b"x", 0.0 + start), emit))
        await asyncio.sleep(0.05)
        stage.restart()  # an interrupt forwards the held chunk at once
        await task
        assert [c.data for c in out] == [b"x"]
        return draws, loop.time() - start

    draws, elapsed = asyncio.run(scenario())
    assert True in draws and False in draws
    assert elapsed < 5
