"""Direct, coalesced WebSocket writes for Engine.IO sockets served by uvicorn's sans-I/O protocol.

Why: python-engineio sends every packet through a per-socket queue and writer task, then
uvicorn's ASGI `send` builds a frame with `websockets` and calls `transport.write` once per
packet. Under fan-out that is a task wake-up, a frame build and a syscall per recipient per
message, which was most of a node's CPU. Here a server-to-client frame (unmasked, so the
same bytes for every recipient) is built once per broadcast and appended to each recipient's
buffer; all buffers touched during one event-loop iteration are flushed by one callback at
its end, one `transport.write` per connection. Every packet of a connection goes through the
same buffer, so a connection's packets keep their order.

Relies on uvicorn's `WebSocketsSansIOProtocol` (written against uvicorn 0.54.0): its
`transport`, `close_sent` and `disconnected` attributes, and that it reads `request` and
`response` only during the handshake (dropped once attached, to save memory). `attach`
returns None for any other protocol (or if those attributes are missing), and the caller
then uses the library's writer path unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

log = logging.getLogger("reference_backend.wswriter")

OP_TEXT = 0x1
OP_BINARY = 0x2
# A client whose unread output exceeds this is not keeping up: drop it (it reconnects and
# resyncs; live pushes are best effort) instead of buffering without bound.
MAX_BUFFERED_BYTES = 16 * 1024 * 1024

_SansIO: type | None
try:  # only the protocol class is needed; other ws implementations take the library path
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as _SansIO,
    )
except ImportError:  # pragma: no cover - uvicorn without the sans-I/O implementation
    _SansIO = None

_REQUIRED_ATTRS = ("transport", "close_sent", "disconnected", "request", "response")
_warned = False


def frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final, unmasked WebSocket frame (what a server sends)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def packet_frame(encoded: str | bytes) -> bytes:
    """The frame of one encoded Engine.IO packet (text, or binary for bytes)."""
    if isinstance(encoded, str):
        return frame(encoded.encode("utf-8"), OP_TEXT)
    return frame(bytes(encoded), OP_BINARY)


class _Flusher:
    """Writes every dirty connection's buffer once, at the end of the loop iteration."""

    __slots__ = ("dirty", "scheduled")

    def __init__(self) -> None:
        self.dirty: list[FrameWriter] = []
        self.scheduled = False

    def mark(self, writer: FrameWriter) -> None:
        self.dirty.append(writer)
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        for writer in dirty:
            writer.flush()


_flusher = _Flusher()


class FrameWriter:
    """The outgoing frames of one WebSocket connection (see the module docstring)."""

    __slots__ = ("buf", "proto", "size", "transport")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.transport: asyncio.Transport = proto.transport
        self.buf: list[bytes] = []
        self.size = 0

    @property
    def open(self) -> bool:
        p = self.proto
        return not (p.close_sent or p.disconnected or self.transport.is_closing())

    def write(self, data: bytes) -> None:
        """Queue one ready-made frame; it goes out at the end of this loop iteration."""
        if not self.buf:
            _flusher.mark(self)
        self.buf.append(data)
        self.size += len(data)

    def flush(self) -> None:
        """Hand the buffered frames to the transport in one write (dropped if closed)."""
        buf = self.buf
        if not buf:
            return
        self.buf = []
        self.size = 0
        if not self.open:
            return
        transport = self.transport
        transport.write(buf[0] if len(buf) == 1 else b"".join(buf))
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            log.warning(
                "dropping a client that does not read (%d bytes unsent)",
                transport.get_write_buffer_size(),
            )
            transport.abort()


def attach(ws: Any) -> FrameWriter | None:
    """A FrameWriter for an Engine.IO ASGI WebSocket, or None if its server is not supported."""
    global _warned
    proto: Any = getattr(getattr(ws, "asgi_send", None), "__self__", None)
    if _SansIO is None or not isinstance(proto, _SansIO):
        return None
    if not all(hasattr(proto, a) for a in _REQUIRED_ATTRS):
        if not _warned:
            _warned = True
            log.error(
                "uvicorn's WebSocketsSansIOProtocol lacks %s: direct writes are OFF "
                "(slow path); check the uvicorn version",
                _REQUIRED_ATTRS,
            )
        return None
    # The handshake is over: the request and response (headers, ~2.5 KiB) are not read again.
    setattr(proto, "request", None)  # noqa: B010 - typed attributes, deliberately cleared
    setattr(proto, "response", None)  # noqa: B010
    return FrameWriter(proto)
