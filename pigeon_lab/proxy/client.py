"""A typed client for a Toxiproxy 2.x server: pigeon-lab's fault proxy or a real toxiproxy-server.

It is a thin layer over toxiproxy-python: requests go through its
`APIConsumer` (its HTTP calls and its mapping of 400/404/409 answers to
`InvalidToxic`, `NotFound` and `ProxyExists`), bound to this client's host
and port by a subclass, so clients of several servers can live side by side.
Its `Toxiproxy`/`Proxy` objects are not used: they share one global host and
port, send no timeout, and let 403 and 500 answers pass as if they had worked
(a failed `enable` returns normally), which would hide a fault that did not
happen. Every error, toxiproxy-python's or the network's, becomes a
`ProxyError` naming the server, the proxy and the server's message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from pigeon_lab.errors import ConfigError, ProxyError

DEFAULT_URL = "http://127.0.0.1:8474"
TOXIC_TYPES = (
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "reset_peer",
    "limit_data",
    "slicer",
)
_STATUS_OF = {InvalidToxic: 400, NotFound: 404, ProxyExists: 409}


@dataclass(frozen=True)
class ToxicInfo:
    """A toxic as the server reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToxicInfo:
        attrs = data.get("attributes") or {}
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            stream=str(data["stream"]),
            toxicity=float(data["toxicity"]),
            attributes={str(k): int(v) for k, v in attrs.items()},
        )


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the server reports it; `listen` is the real address once it is enabled.
    `source`: the client address it takes on a shared listen address (the embedded
    server's extension; "" for any source, and always from a real toxiproxy-server)."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()
    source: str = ""

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProxyInfo:
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data["enabled"]),
            toxics=tuple(ToxicInfo.from_json(t) for t in data.get("toxics") or ()),
            source=str(data.get("source") or ""),
        )


@dataclass(frozen=True)
class ProxySpec:
    """A proxy to create: where it listens (port 0: any free port) and where it forwards;
    with `source`, only for clients dialling from that address (embedded server only)."""

    name: str
    upstream: str
    listen: str = "127.0.0.1:0"
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


class ProxyClient:
    """Drive one Toxiproxy-compatible server by URL."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout_s: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            raise ConfigError(f"{url!r} is not a fault proxy URL like {DEFAULT_URL}")
        self.url = f"http://{parts.netloc}"
        self.timeout_s = timeout_s
        self._api: Any = type(
            "BoundAPIConsumer", (APIConsumer,), {"host": parts.hostname, "port": parts.port}
        )

    # the one seam to toxiproxy-python --------------------------------------------
    def _call(
        self, method: str, path: str, *, proxy: str | None = None, body: object = None
    ) -> requests.Response:
        what = f"{method.upper()} {path}"
        kwargs: dict[str, Any] = {"timeout": self.timeout_s}
        if body is not None:
            kwargs["json"] = body
        try:
            response: requests.Response = getattr(self._api, method)(path, **kwargs)
        except (InvalidToxic, NotFound, ProxyExists) as exc:
            raise self._refused(what, proxy, _STATUS_OF[type(exc)], exc.args[0]) from exc
        except requests.RequestException as exc:
            raise ProxyError(
                f"fault proxy {self.url} did not answer {what}: {exc}", proxy=proxy
            ) from exc
        if response.status_code >= 400:  # 403, 405, 500: toxiproxy-python lets these through
            raise self._refused(what, proxy, response.status_code, response.content)
        return response

    def _refused(self, what: str, proxy: str | None, status: int, content: object) -> ProxyError:
        text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
        try:
            message = str(json.loads(text)["error"])
        except (ValueError, KeyError, TypeError):
            message = text.strip() or f"HTTP {status}"
        about = f" for proxy {proxy!r}" if proxy else ""
        return ProxyError(
            f"fault proxy {self.url} refused {what}{about}: {message} (HTTP {status})",
            proxy=proxy,
            status=status,
            server_error=message,
        )

    def _json(
        self, method: str, path: str, *, proxy: str | None = None, body: object = None
    ) -> Any:
        response = self._call(method, path, proxy=proxy, body=body)
        try:
            return response.json()
        except ValueError as exc:
            raise ProxyError(
                f"fault proxy {self.url}: {method.upper()} {path} answered no JSON",
                proxy=proxy,
                status=response.status_code,
            ) from exc

    # server -----------------------------------------------------------------------
    def version(self) -> str:
        return str(self._json("get", "/version")["version"])

    def running(self) -> bool:
        """True when the server answers `/version`."""
        try:
            self.version()
        except ProxyError:
            return False
        return True

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("post", "/reset")

    # proxies ----------------------------------------------------------------------
    def proxies(self) -> dict[str, ProxyInfo]:
        data = self._json("get", "/proxies")
        return {name: ProxyInfo.from_json(p) for name, p in data.items()}

    def get(self, name: str) -> ProxyInfo:
        return ProxyInfo.from_json(self._json("get", _p(name), proxy=name))

    def create(
        self,
        name: str,
        upstream: str,
        *,
        listen: str = "127.0.0.1:0",
        enabled: bool = True,
        source: str = "",
    ) -> ProxyInfo:
        spec = ProxySpec(name, upstream, listen, enabled, source)
        return ProxyInfo.from_json(self._json("post", "/proxies", proxy=name, body=spec.to_json()))

    def populate(self, specs: Sequence[ProxySpec]) -> list[ProxyInfo]:
        """Create or replace many proxies; a proxy with the same listen and upstream is kept."""
        names = ", ".join(s.name for s in specs) or None
        data = self._json("post", "/populate", proxy=names, body=[s.to_json() for s in specs])
        return [ProxyInfo.from_json(p) for p in data.get("proxies") or ()]

    def update(
        self,
        name: str,
        *,
        listen: str | None = None,
        upstream: str | None = None,
        enabled: bool | None = None,
    ) -> ProxyInfo:
        """Change what is given; POST, which every Toxiproxy 2.x server takes (PATCH too)."""
        body = {
            k: v
            for k, v in (("listen", listen), ("upstream", upstream), ("enabled", enabled))
            if v is not None
        }
        return ProxyInfo.from_json(self._json("post", _p(name), proxy=name, body=body))

    def enable(self, name: str) -> ProxyInfo:
        return self.update(name, enabled=True)

    def disable(self, name: str) -> ProxyInfo:
        """Close its listener and every connection through it (a dead host)."""
        return self.update(name, enabled=False)

    @contextmanager
    def down(self, name: str) -> Iterator[ProxyInfo]:
        """The proxy disabled inside the block, enabled again after it."""
        info = self.disable(name)
        try:
            yield info
        finally:
            self.enable(name)

    def delete(self, name: str) -> None:
        self._call("delete", _p(name), proxy=name)

    # toxics -----------------------------------------------------------------------
    def toxics(self, proxy: str) -> list[ToxicInfo]:
        return [ToxicInfo.from_json(t) for t in self._json("get", _p(proxy, "toxics"), proxy=proxy)]

    def toxic(self, proxy: str, name: str) -> ToxicInfo:
        return ToxicInfo.from_json(self._json("get", _p(proxy, "toxics", name), proxy=proxy))

    def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: Mapping[str, int] | None = None,
    ) -> ToxicInfo:
        """Add a toxic (name defaults to `<type>_<stream>`); it acts on live connections at once."""
        body = {
            "name": name or f"{type}_{stream}",
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        return ToxicInfo.from_json(self._json("post", _p(proxy, "toxics"), proxy=proxy, body=body))

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, int] | None = None,
        toxicity: float | None = None,
    ) -> ToxicInfo:
        """Change a toxic's attributes or toxicity (what is not given keeps its value)."""
        body: dict[str, object] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = _p(proxy, "toxics", name)
        return ToxicInfo.from_json(self._json("post", path, proxy=proxy, body=body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("delete", _p(proxy, "toxics", name), proxy=proxy)


def _p(*parts: str) -> str:
    return "/proxies/" + "/".join(quote(part, safe="") for part in parts)
