"""Proxies and toxics as data, their JSON in Toxiproxy 2.x's shapes, and request bodies.

A request body is decoded the way Toxiproxy's Go handlers decode it
(`gojson`), in the same order, so the same bad input gets the same status
and message: for a new toxic, the body, then the stream, then the type, then
(in the collection) the name's uniqueness, then the attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from pigeon_lab.proxy.addr import normalize_source
from pigeon_lab.proxy.gojson import (
    ApiError,
    as_object,
    fields,
    get_bool,
    get_float,
    get_str,
    kind_of,
    type_error,
)

UPSTREAM = "upstream"  # client -> server
DOWNSTREAM = "downstream"  # server -> client
DIRECTIONS = (UPSTREAM, DOWNSTREAM)


@dataclass(frozen=True)
class ToxicType:
    """A toxic type: its attributes (JSON key, Go type) and the Go struct they decode into."""

    name: str
    go_struct: str
    attributes: tuple[tuple[str, str], ...]

    @property
    def schema(self) -> dict[str, str]:
        return dict(self.attributes)


TOXIC_TYPES: dict[str, ToxicType] = {
    t.name: t
    for t in (
        ToxicType("latency", "LatencyToxic", (("latency", "int64"), ("jitter", "int64"))),
        ToxicType("bandwidth", "BandwidthToxic", (("rate", "int64"),)),
        ToxicType("slow_close", "SlowCloseToxic", (("delay", "int64"),)),
        ToxicType("timeout", "TimeoutToxic", (("timeout", "int64"),)),
        ToxicType("reset_peer", "ResetToxic", (("timeout", "int64"),)),
        ToxicType(
            "slicer",
            "SlicerToxic",
            (("average_size", "int"), ("size_variation", "int"), ("delay", "int")),
        ),
        ToxicType("limit_data", "LimitDataToxic", (("bytes", "int64"),)),
    )
}

ERR_NOT_FOUND = ApiError("proxy not found", 404)
ERR_EXISTS = ApiError("proxy already exists", 409)
ERR_STREAM = ApiError("stream was invalid, can be either upstream or downstream", 400)
ERR_TOXIC_TYPE = ApiError("invalid toxic type", 400)
ERR_TOXIC_EXISTS = ApiError("toxic already exists", 409)
ERR_TOXIC_NOT_FOUND = ApiError("toxic not found", 404)


def missing(what: str) -> ApiError:
    return ApiError(f"missing required field: {what}", 400)


@dataclass(frozen=True)
class Toxic:
    """One toxic of a proxy, as the API shows it (`stream` is echoed as it was given)."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def direction(self) -> str:
        """`upstream` or `downstream` (the stream, parsed case-insensitively)."""
        return self.stream.lower()

    def attr(self, key: str) -> int:
        """An attribute's value (missing ones are 0, as in Go)."""
        return self.attributes.get(key, 0)

    def to_json(self) -> dict[str, object]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


@dataclass(frozen=True)
class ProxyConfig:
    """What a proxy is asked to be: its name, where it listens, where it forwards.

    `source` (pigeon-lab's extension, see `sockets.py`): the IP address of the clients
    this proxy takes on a listen address it shares with others; empty: any other source.
    It is in the JSON only when set, so plain proxies keep Toxiproxy's shape."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True
    source: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
        }
        if self.source:
            out["source"] = self.source
        return out


PROXY_SCHEMA = {
    "name": "string",
    "listen": "string",
    "upstream": "string",
    "enabled": "bool",
    "source": "string",
}


def _source(got: dict[str, object], default: str = "") -> str:
    """The `source` field as one spelling of an IP address ("" when not given)."""
    raw = get_str(got, "source", default)
    if not raw:
        return ""
    try:
        return normalize_source(raw)
    except ValueError:
        raise ApiError(f"bad request body: source {raw!r} is not an IP address", 400) from None


def _proxy_fields(value: object, gotype: str) -> dict[str, object]:
    return fields(as_object(value, gotype), PROXY_SCHEMA, "Proxy")


def parse_proxy_create(body: object) -> ProxyConfig:
    """POST /proxies: name and upstream required, `enabled` defaults to true."""
    got = _proxy_fields(body, "toxiproxy.Proxy")
    name, upstream = get_str(got, "name", ""), get_str(got, "upstream", "")
    if not name:
        raise missing("name")
    if not upstream:
        raise missing("upstream")
    return ProxyConfig(
        name, get_str(got, "listen", ""), upstream, get_bool(got, "enabled", True), _source(got)
    )


def parse_proxy_update(body: object, current: ProxyConfig) -> ProxyConfig:
    """POST/PATCH /proxies/{p}: listen, upstream and enabled; unset fields keep their values."""
    got = _proxy_fields(body, "toxiproxy.Proxy")
    return ProxyConfig(
        current.name,
        get_str(got, "listen", current.listen),
        get_str(got, "upstream", current.upstream),
        get_bool(got, "enabled", current.enabled),
        _source(got, current.source),
    )


def parse_populate(body: object) -> list[ProxyConfig]:
    """POST /populate: every entry validated before anything changes."""
    if body is None:
        return []
    if not isinstance(body, list):
        raise ApiError(
            f"bad request body: json: cannot unmarshal {kind_of(body)} into Go value of type "
            "[]toxiproxy.Proxy",
            400,
        )
    out: list[ProxyConfig] = []
    seen: set[str] = set()
    for i, entry in enumerate(body, start=1):
        got = _proxy_fields(entry, "toxiproxy.Proxy")
        name, upstream = get_str(got, "name", ""), get_str(got, "upstream", "")
        if not name:
            raise missing(f"name at proxy {i}")
        if not upstream:
            raise missing(f"upstream at proxy {i}")
        if name in seen:
            raise ApiError(f'duplicate proxy name "{name}"', 500)
        seen.add(name)
        listen, enabled = get_str(got, "listen", ""), get_bool(got, "enabled", True)
        out.append(ProxyConfig(name, listen, upstream, enabled, _source(got)))
    return out


WRAPPER_SCHEMA = {"name": "string", "type": "string", "stream": "string", "toxicity": "float32"}


@dataclass(frozen=True)
class ToxicRequest:
    """A new toxic's body, decoded up to (not including) its attributes."""

    toxic: Toxic
    raw_attributes: dict[str, Any] | None


def parse_toxic_create(body: object) -> ToxicRequest:
    """POST /proxies/{p}/toxics: stream downstream, toxicity 1, name type_stream by default."""
    obj = as_object(body, "toxics.ToxicWrapper")
    got = fields(obj, WRAPPER_SCHEMA, "ToxicWrapper")
    raw_attrs = _attributes_object(obj, "ToxicWrapper", "toxics.NoopToxic")
    stream = get_str(got, "stream", DOWNSTREAM)
    if stream.lower() not in DIRECTIONS:
        raise ERR_STREAM
    kind = get_str(got, "type", "")
    name = get_str(got, "name", "") or f"{kind}_{stream}"
    if kind not in TOXIC_TYPES:
        raise ERR_TOXIC_TYPE
    toxicity = get_float(got, "toxicity", 1.0)
    return ToxicRequest(Toxic(name, kind, stream, toxicity), raw_attrs)


def _attributes_object(
    obj: dict[str, Any] | None, struct: str, gotype: str
) -> dict[str, Any] | None:
    if not obj:
        return None
    found: object = None
    for key, value in obj.items():
        if key.lower() == "attributes":
            found = value
    if found is None:
        return None
    if isinstance(found, dict):
        return found
    raise type_error(found, struct, "attributes", gotype)


def with_attributes(toxic: Toxic, raw: dict[str, Any] | None) -> Toxic:
    """`toxic` with `raw` decoded into its type's attributes over the ones it has."""
    kind = TOXIC_TYPES[toxic.type]
    base = {key: toxic.attr(key) for key, _ in kind.attributes}
    for key, value in fields(raw, kind.schema, kind.go_struct, "attributes.").items():
        assert isinstance(value, int)  # `fields` converted it to the Go int type
        base[key] = value
    return replace(toxic, attributes=MappingProxyType(base))


def parse_toxic_update(body: object, current: Toxic) -> Toxic:
    """POST/PATCH /proxies/{p}/toxics/{t}: only attributes and toxicity change."""
    obj = as_object(body, "struct { Attributes interface {}; Toxicity float32 }")
    got = fields(obj, {"toxicity": "float32"}, "ToxicWrapper")
    raw_attrs = _attributes_object(obj, "ToxicWrapper", TOXIC_TYPES[current.type].go_struct)
    updated = with_attributes(current, raw_attrs)
    return replace(updated, toxicity=get_float(got, "toxicity", current.toxicity))
