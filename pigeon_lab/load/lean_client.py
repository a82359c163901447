"""A lean Socket.IO v5 / Engine.IO v4 client over a raw websocket, for gevent.

python-socketio's sync client (websocket-client underneath) spends most of a received
message's time outside the application: a pure-Python UTF-8 check of every frame, one
new greenlet per received event, a write queue and its greenlet, the stdlib JSON
decoder. This client does only what the Pigeon protocol needs, on one gevent socket
per connection with one reader greenlet:

- websocket: HTTP/1.1 upgrade, RFC 6455 frames (``wsframe.py``: masked out, unmasked in,
  fragments, ping/pong, close); no extensions (no permessage-deflate is offered);
- Engine.IO 4: open packet (ping interval/timeout), ping -> pong, close, noop; a
  silent server is dropped after ``pingInterval + pingTimeout`` (one watchdog greenlet per
  process checks every client each second: a socket timeout would cost a gevent timer
  per blocking read);
- Socket.IO 5, default namespace only: CONNECT with an ``auth`` object, CONNECT_ERROR,
  EVENT (with or without an ack id), ACK, DISCONNECT. No binary packets.

Its surface is the part of ``socketio.Client`` the load users call: ``on``,
``connect(url, auth=, transports=, wait_timeout=)``, ``emit(event, data, callback=)``,
``disconnect()``, ``connected``. Handlers run in the reader greenlet, so they must not
block for long. Reconnection is the caller's business (the client algorithm's).
Disconnect reasons are python-socketio's: ``client disconnect``, ``server disconnect``,
``transport error``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import time
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import gevent
import orjson
from gevent import socket as gsocket
from gevent.event import Event
from gevent.lock import Semaphore
from socketio import exceptions as sio_exc

from pigeon_lab.load.wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameParser,
    encode_frame,
)

CLIENT_DISCONNECT = "client disconnect"
SERVER_DISCONNECT = "server disconnect"
TRANSPORT_ERROR = "transport error"

_DIGITS = b"0123456789"
_mono = time.monotonic
_clients: weakref.WeakSet[LeanSocketIOClient] = weakref.WeakSet()
_watchdog: list[gevent.Greenlet] = []


def _watch(period_s: float = 1.0) -> None:
    """Drop connections whose server has been silent past ``pingInterval + pingTimeout``."""
    while True:
        gevent.sleep(period_s)
        now = _mono()
        for c in list(_clients):
            sock = c._sock
            if sock is not None and now - c.last_rx > c.ping_timeout_s:
                c._lost(sock, TRANSPORT_ERROR)


def use_lean_client(cfg: Any, url: str) -> bool:
    """Whether a ``LoadConfig`` user connects with this client: ``client="lean"``, or
    ``"auto"`` with the websocket transport to an ``http://``/``ws://`` URL (polling and
    TLS go through python-socketio)."""
    if cfg.client == "python-socketio" or cfg.workload.transport != "websocket":
        return False
    profile = getattr(cfg, "profile", None)
    if profile is not None and profile.namespace != "/":
        return False  # the lean client speaks the default namespace only
    return bool(cfg.client == "lean" or urlsplit(url).scheme in ("http", "ws"))


class LeanConnectionError(sio_exc.ConnectionError):  # type: ignore[misc]
    """The connection or the Socket.IO CONNECT failed (a ``socketio`` ConnectionError)."""


def split_sio(packet: bytes, start: int) -> tuple[str | None, int | None, Any]:
    """Parse ``[/nsp,][id][json]`` of a Socket.IO packet from ``start``: (namespace, id, data)."""
    nsp = None
    if packet[start : start + 1] == b"/":
        comma = packet.find(b",", start)
        nsp, start = packet[start:comma].decode(), comma + 1
    j = start
    while j < len(packet) and packet[j] in _DIGITS:
        j += 1
    ack_id = int(packet[start:j]) if j > start else None
    data = orjson.loads(packet[j:]) if j < len(packet) else None
    return nsp, ack_id, data


class LeanSocketIOClient:
    """A Socket.IO client on one websocket; see the module docstring."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.connected = False
        self.sid: str | None = None
        self.callbacks: dict[int, Callable[..., Any]] = {}
        self._next_id = 0
        self._sock: socket.socket | None = None
        self._wlock = Semaphore()
        self._ready = Event()
        self._refused: Any = None
        self._reader: gevent.Greenlet | None = None
        self._reason: str | None = None  # set once the connection is over
        self.ping_timeout_s = 45.0
        self.last_rx = 0.0  # monotonic time of the last bytes received

    def on(self, event: str, handler: Callable[..., Any], namespace: str | None = None) -> None:
        if namespace not in (None, "/"):
            raise ValueError("the lean client speaks the default namespace only")
        self.handlers[event] = handler

    # ----- connection -----
    def connect(
        self,
        url: str,
        auth: dict[str, Any] | None = None,
        transports: list[str] | None = None,
        wait_timeout: float = 10.0,
        socketio_path: str = "socket.io",
    ) -> None:
        """Open the websocket, do the Engine.IO and Socket.IO handshakes; raise on failure."""
        if transports and "websocket" not in transports:
            raise ValueError("the lean client speaks only the websocket transport")
        if self._sock is not None:
            raise LeanConnectionError("Already connected")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "ws"):
            raise ValueError(f"the lean client needs an http:// or ws:// URL, not {url!r}")
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self._ready.clear()
        self._refused = None
        self._reason = None
        self.last_rx = _mono()
        if not _watchdog:
            _watchdog.append(gevent.spawn(_watch))
        _clients.add(self)
        sock: socket.socket | None = None
        try:
            with gevent.Timeout(wait_timeout, LeanConnectionError("Connection timed out")):
                sock = gsocket.create_connection((host, port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                rest = self._upgrade(sock, f"{host}:{port}", socketio_path.strip("/"))
                self._sock = sock
                self._reader = gevent.spawn(self._read_loop, sock, rest, auth)
                self._ready.wait()
        except (OSError, gevent.Timeout) as exc:
            self._abort(sock)
            raise LeanConnectionError(f"Connection error: {exc}") from exc
        except LeanConnectionError:
            self._abort(sock)
            raise
        if not self.connected:
            self._abort(sock)
            if self._refused is not None:
                raise LeanConnectionError("One or more namespaces failed to connect")
            raise LeanConnectionError(f"Connection error: {self._reason or 'closed'}")

    def _upgrade(self, sock: socket.socket, hostport: str, path: str) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /{path}/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {hostport}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise LeanConnectionError("Connection error: closed during the upgrade")
            buf += chunk
            if len(buf) > 65536:
                raise LeanConnectionError("Connection error: oversized upgrade response")
        head, _, rest = buf.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in status + " ":
            raise LeanConnectionError(f"Connection error: websocket upgrade refused: {status}")
        return rest

    def _abort(self, sock: socket.socket | None) -> None:
        self.connected = False
        self._reason = self._reason or TRANSPORT_ERROR
        if self._reader is not None and self._reader is not gevent.getcurrent():
            self._reader.kill(block=False)
        self._reader = None
        self._sock = None
        if sock is not None:
            sock.close()

    def disconnect(self) -> None:
        """Say goodbye (Socket.IO DISCONNECT, websocket close) and call the handler."""
        sock = self._sock
        if sock is None:
            return
        try:
            self._write(b"41")
            self._write(b"", OP_CLOSE)
        except OSError:
            pass
        self._lost(sock, CLIENT_DISCONNECT)

    def _lost(self, sock: socket.socket, reason: str) -> None:
        """The connection on ``sock`` is over: once per connection, tell the handler."""
        if self._sock is not sock:
            return
        was_connected = self.connected
        self.connected = False
        self._sock = None
        self._reason = reason
        self.callbacks = {}
        reader, self._reader = self._reader, None
        with contextlib.suppress(OSError):  # once per connection, not per message
            sock.close()
        self._ready.set()
        if reader is not None and reader is not gevent.getcurrent():
            reader.kill(block=False)
        if was_connected and "disconnect" in self.handlers:
            self.handlers["disconnect"](reason)

    # ----- sending -----
    def _write(self, payload: bytes, opcode: int = OP_TEXT) -> None:
        sock = self._sock
        if sock is None:
            raise OSError("not connected")
        frame = encode_frame(payload, opcode)
        with self._wlock:
            sock.sendall(frame)

    def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        """Emit ``event`` with ``data``; ``callback(*ack_args)`` when the server acks."""
        if not self.connected:
            raise sio_exc.BadNamespaceError("/ is not a connected namespace.")
        body = orjson.dumps([event] if data is None else [event, data])
        if callback is not None:
            self._next_id += 1
            self.callbacks[self._next_id] = callback
            body = b"42" + str(self._next_id).encode() + body
        else:
            body = b"42" + body
        sock = self._sock
        try:
            self._write(body)
        except OSError:
            if sock is not None:  # the reader greenlet sees the close and reports the loss
                sock.close()
            raise sio_exc.BadNamespaceError("/ is not a connected namespace.") from None

    # ----- receiving -----
    def _read_loop(self, sock: socket.socket, rest: bytes, auth: dict[str, Any] | None) -> None:
        parser = FrameParser()
        reason = TRANSPORT_ERROR
        handle = self._on_packet
        recv = sock.recv
        try:
            data = rest
            while True:
                if data:
                    for op, payload in parser.feed(data):
                        if op == OP_TEXT:
                            r = handle(payload, auth)
                            if r is not None:
                                reason = r
                                return
                        elif op == OP_PING:
                            self._write(payload, OP_PONG)
                        elif op == OP_CLOSE:
                            reason = SERVER_DISCONNECT
                            return
                data = recv(65536)
                if not data:
                    return
                self.last_rx = _mono()
        except (OSError, FrameError, ValueError, gevent.Timeout):
            pass
        finally:
            self._lost(sock, reason)

    def _on_packet(self, p: bytes, auth: dict[str, Any] | None) -> str | None:
        """Handle one Engine.IO packet; return a reason to end the connection."""
        t = p[0]
        if t == 0x34:  # '4' message: a Socket.IO packet
            st = p[1]
            if st == 0x32:  # '2' EVENT
                if p[2] == 0x5B:  # '[' : no namespace, no ack id (the hot path)
                    args = orjson.loads(p[2:])
                    ack_id = None
                else:
                    _, ack_id, args = split_sio(p, 2)
                h = self.handlers.get(args[0]) if args else None
                if h is not None:
                    h(*args[1:])
                if ack_id is not None:
                    self._write(b"43" + str(ack_id).encode() + b"[]")
            elif st == 0x33:  # '3' ACK
                _, ack_id, args = split_sio(p, 2)
                cb = self.callbacks.pop(ack_id, None) if ack_id is not None else None
                if cb is not None:
                    cb(*(args or ()))
            elif st == 0x30:  # '0' CONNECT accepted
                _, _, data = split_sio(p, 2)
                self.sid = data.get("sid") if isinstance(data, dict) else None
                self.connected = True
                self._ready.set()
            elif st == 0x34:  # '4' CONNECT_ERROR
                _, _, data = split_sio(p, 2)
                self._refused = data if data is not None else {}
                h = self.handlers.get("connect_error")
                if h is not None:
                    h(*(data if isinstance(data, list) else (data,)))
                return "connect refused"
            elif st == 0x31:  # '1' DISCONNECT
                return SERVER_DISCONNECT
        elif t == 0x32:  # '2' ping
            self._write(b"3" + p[1:])
        elif t == 0x30:  # '0' open
            info = orjson.loads(p[1:])
            self.ping_timeout_s = (
                info.get("pingInterval", 25000) + info.get("pingTimeout", 20000)
            ) / 1000
            self._write(b"40" + (orjson.dumps(auth) if auth is not None else b""))
        elif t == 0x31:  # '1' close
            return SERVER_DISCONNECT
        return None


__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameError",
    "FrameParser",
    "LeanConnectionError",
    "LeanSocketIOClient",
    "encode_frame",
    "split_sio",
    "use_lean_client",
]
