"""Engine.IO 4 by hand: the polling handshake, polling sessions with or without cookies,
and the websocket upgrade, so that checks see the raw answers (status, headers, body).

python-socketio's client hides exactly what the handshake, stickiness, upgrade and CORS
checks look at (which node answered, a 400 ``Session ID unknown``, the CORS headers), so
these requests go out with ``requests`` and ``websocket-client`` directly. Packets:
``0`` open, ``1`` close, ``2`` ping, ``3`` pong, ``4`` message (``40`` CONNECT, ``42`` EVENT,
``43`` ACK, ``44`` CONNECT_ERROR), ``5`` upgrade, ``6`` noop; a polling payload joins
packets with the record separator ``\\x1e``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests
import websocket

from pigeon_lab.advisor.probe.context import ProbeContext

SEPARATOR = "\x1e"
UNKNOWN_SESSION = ("session id unknown", "invalid session", "session not found")
"""How Node's engine.io and python-engineio word a 400 for a session the node does not hold."""


def base_url(url: str) -> str:
    parsed = urlparse(url)
    scheme = {"ws": "http", "wss": "https"}.get(parsed.scheme, parsed.scheme)
    return f"{scheme}://{parsed.netloc}"


def endpoint(url: str, path: str) -> str:
    return f"{base_url(url)}/{path.strip('/')}/"


def ws_endpoint(url: str, path: str) -> str:
    http = endpoint(url, path)
    return "ws" + http[4:] if http.startswith("http") else http


def split_payload(body: str) -> list[str]:
    return [p for p in body.split(SEPARATOR) if p]


def connect_packet(namespace: str, auth: dict[str, Any] | None) -> str:
    """The Socket.IO CONNECT packet as an Engine.IO message (``40`` ...)."""
    ns = "" if namespace == "/" else f"{namespace},"
    return "40" + ns + (json.dumps(auth, separators=(",", ":")) if auth is not None else "")


def event_packet(namespace: str, ack_id: int, event: str, data: Any) -> str:
    ns = "" if namespace == "/" else f"{namespace},"
    return f"42{ns}{ack_id}" + json.dumps([event, data], separators=(",", ":"))


def is_unknown_session(status: int, body: str) -> bool:
    return status == 400 and any(w in body.lower() for w in UNKNOWN_SESSION)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, the headers a check may cite, the body (cut)."""

    status: int
    headers: dict[str, str]
    body: str
    error: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def line(self, *header_names: str) -> str:
        """``200; set-cookie: SERVERID=node-1; body 0{...}``."""
        if self.error:
            return f"no answer: {self.error}"
        parts = [str(self.status)]
        for name in header_names:
            value = self.header(name)
            if value is not None:
                parts.append(f"{name}: {value}")
        body = self.body.replace(SEPARATOR, "\\x1e")
        parts.append(f"body {body[:180]!r}" if body else "empty body")
        return "; ".join(parts)


@dataclass(frozen=True)
class OpenPacket:
    """The handshake's answer (``0{...}``)."""

    sid: str
    upgrades: tuple[str, ...]
    ping_interval_ms: int | None
    ping_timeout_ms: int | None
    max_payload: int | None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: str) -> OpenPacket | None:
        first = split_payload(body)[0] if body else ""
        if not first.startswith("0"):
            return None
        try:
            data = json.loads(first[1:])
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            return None

        def num(key: str) -> int | None:
            value = data.get(key)
            return int(value) if isinstance(value, (int, float)) else None

        ups = data.get("upgrades")
        return cls(
            sid=data["sid"],
            upgrades=tuple(str(u) for u in ups) if isinstance(ups, list) else (),
            ping_interval_ms=num("pingInterval"),
            ping_timeout_ms=num("pingTimeout"),
            max_payload=num("maxPayload"),
            raw=data,
        )


class Polling:
    """One Engine.IO polling session over HTTP.

    ``cookies=False`` drops every cookie before each request: a client that keeps none
    (socket.io-client in Node by default, a cross-origin browser without
    ``withCredentials``).
    """

    def __init__(
        self,
        ctx: ProbeContext,
        *,
        url: str | None = None,
        cookies: bool = True,
        headers: dict[str, str] | None = None,
        eio: int = 4,
    ) -> None:
        self.ctx = ctx
        self.url = endpoint(url or ctx.target.url, ctx.target.codec.socketio_path)
        self.cookies = cookies
        self.eio = eio
        self.http = requests.Session()
        self.http.headers.update(headers or {})
        self.sid: str | None = None
        self.open: OpenPacket | None = None
        self.requests = 0
        self._counted = True
        ctx.budget.opening()
        self.unknown_session = 0

    def _query(self) -> str:
        q = f"?EIO={self.eio}&transport=polling"
        return q + (f"&sid={self.sid}" if self.sid else "")

    def request(
        self, method: str, body: str | None = None, *, headers: dict[str, str] | None = None
    ) -> Answer:
        """One paced request of this session (GET polls, POST sends packets)."""
        if not self.cookies:
            self.http.cookies.clear()
        self.ctx.pace.take()
        self.requests += 1
        try:
            resp = self.http.request(
                method,
                self.url + self._query(),
                data=body.encode() if body is not None else None,
                headers={"Content-Type": "text/plain;charset=UTF-8", **(headers or {})},
                timeout=self.ctx.limits.timeout_s,
            )
        except requests.RequestException as exc:
            return Answer(0, {}, "", error=type(exc).__name__)
        answer = Answer(
            resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.text[:4000]
        )
        if is_unknown_session(answer.status, answer.body):
            self.unknown_session += 1
        return answer

    def describe(self, method: str, what: str = "", *, handshake: bool = False) -> str:
        cookie = "" if self.cookies else ", no cookies"
        query = f"?EIO={self.eio}&transport=polling" if handshake else self._query()
        return f"{method} {urlparse(self.url).path}{query}{cookie}{what}"

    def handshake(self) -> tuple[Answer, OpenPacket | None]:
        answer = self.request("GET")
        self.open = OpenPacket.parse(answer.body) if answer.status == 200 else None
        self.sid = self.open.sid if self.open else None
        return answer, self.open

    def post(self, *packets: str) -> Answer:
        return self.request("POST", SEPARATOR.join(packets))

    def poll(self) -> tuple[Answer, list[str]]:
        answer = self.request("GET")
        return answer, split_payload(answer.body) if answer.status == 200 else []

    def clone(self) -> Polling:
        """The same session on a second HTTP connection (a client's pending poll beside
        its posts), with the cookies so far."""
        twin = Polling(self.ctx, cookies=self.cookies, eio=self.eio)
        twin.url = self.url
        twin.http.headers.update(self.http.headers)
        twin.http.cookies.update(self.http.cookies)
        twin.sid, twin.open = self.sid, self.open
        return twin

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)

    def close(self, goodbye: bool = True) -> None:
        """Say goodbye (a close packet) so that the server frees the session at once."""
        if goodbye and self.sid is not None and self.open is not None:
            try:
                self.ctx.pace.take()
                if not self.cookies:
                    self.http.cookies.clear()
                self.http.post(
                    self.url + self._query(), data=b"1", timeout=self.ctx.limits.timeout_s
                )
            except requests.RequestException:
                pass
        self.sid = None
        self.http.close()
        if self._counted:
            self._counted = False
            self.ctx.budget.closed()


def upgrade(
    ctx: ProbeContext, session: Polling, connect: str
) -> tuple[bool, list[tuple[str, str]]]:
    """Upgrade a polling session to a websocket: ``2probe`` -> ``3probe``, ``5``, then the
    Socket.IO CONNECT (``connect``) over the websocket must be answered there.

    Returns whether the upgraded transport carried the CONNECT and the exchanges.
    """
    if session.sid is None:
        return False, [("websocket upgrade", "no polling session to upgrade (no handshake)")]
    url = "ws" + session.url[4:] + f"?EIO=4&transport=websocket&sid={session.sid}"
    shown_url = f"{urlparse(url).path}?EIO=4&transport=websocket&sid={session.sid}"
    seen: list[tuple[str, str]] = []
    cookie = session.cookie_header() if session.cookies else None
    ctx.pace.take()
    ctx.budget.opening()
    try:
        ws = websocket.create_connection(url, timeout=ctx.limits.timeout_s, cookie=cookie)
    except (websocket.WebSocketException, OSError) as exc:
        status = getattr(exc, "status_code", None)
        refused = f"refused{f' (HTTP {status})' if status else ''}: {str(exc)[:160]}"
        seen.append((f"websocket upgrade {shown_url}", refused))
        ctx.budget.closed()
        return False, seen
    try:
        seen.append((f"websocket upgrade {shown_url}", "101 Switching Protocols"))
        ws.send("2probe")
        reply = str(ws.recv())
        seen.append(("websocket: 2probe", reply[:80]))
        if reply != "3probe":
            return False, seen
        ws.send("5")
        ws.send(connect)
        for _ in range(10):
            packet = str(ws.recv())
            if packet.startswith("2"):
                ws.send("3")
                continue
            if packet.startswith("4"):
                seen.append(("websocket: 5 (upgrade), then the CONNECT", packet[:120]))
                return packet.startswith(("40", "44")), seen
        seen.append(("websocket: 5 (upgrade), then the CONNECT", "no Socket.IO answer"))
        return False, seen
    except (websocket.WebSocketException, OSError) as exc:
        seen.append(("websocket", f"failed: {str(exc)[:160]}"))
        return False, seen
    finally:
        with contextlib.suppress(websocket.WebSocketException, OSError):
            ws.send("1")
        ws.close()
        ctx.budget.closed()


__all__ = [
    "SEPARATOR",
    "Answer",
    "OpenPacket",
    "Polling",
    "base_url",
    "connect_packet",
    "endpoint",
    "event_packet",
    "is_unknown_session",
    "split_payload",
    "upgrade",
]
