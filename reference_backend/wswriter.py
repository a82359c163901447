"""Direct, coalesced WebSocket writes for Engine.IO sockets served by uvicorn's sans-I/O protocol.

Why: python-engineio sends every packet through a per-socket queue and writer task, then
uvicorn's ASGI `send` builds a frame with `websockets` and calls `transport.write` once per
packet. Under fan-out that is a task wake-up, a frame build and a syscall per recipient per
message, which was most of a node's CPU. Here a server-to-client frame (unmasked, so the
same bytes for every recipient) is built once per broadcast and appended to each recipient's
buffer; all buffers touched during one event-loop iteration are flushed by one callback at
its end, one `transport.write` per connection. Every packet of a connection goes through the
same buffer, so a connection's packets keep their order.

Slow consumers: a connection's unsent output (this buffer plus the transport's, as of the
last flush) is capped at `MAX_OUTPUT_BYTES`, checked before a frame is queued. A frame that
would pass it cuts the connection instead: the buffer is dropped, the goodbye frames (the
`closing` event and a close frame, from `configure`) are written after what the transport
still holds, the transport is closed, and aborted CUT_GRACE_S later if the client still
has not read its way to the close. The client reconnects and resyncs.

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
from collections.abc import Callable
from typing import Any

log = logging.getLogger("reference_backend.wswriter")

OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
# A client whose unread output would exceed this is not keeping up: cut it (it reconnects
# and resyncs; live pushes are best effort) instead of buffering without bound.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
CUT_GRACE_S = 5.0


def _no_goodbye() -> bytes:
    return b""


def _no_count(reason: str) -> None:
    return None


_goodbye: Callable[[], bytes] = _no_goodbye
_on_cut: Callable[[str], None] = _no_count


def configure(
    max_output_bytes: int, goodbye: Callable[[], bytes], on_cut: Callable[[str], None]
) -> None:
    """The cap, the frames a cut connection gets last, and what counts a cut."""
    global MAX_OUTPUT_BYTES, _goodbye, _on_cut
    MAX_OUTPUT_BYTES = max_output_bytes
    _goodbye = goodbye
    _on_cut = on_cut


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


def close_frame(code: int, reason: str) -> bytes:
    """A close frame with a status code and a (short, ASCII) reason."""
    return frame(struct.pack("!H", code) + reason.encode()[:120], OP_CLOSE)


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

    __slots__ = ("backlog", "buf", "dead", "proto", "size", "transport")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.transport: asyncio.Transport = proto.transport
        self.buf: list[bytes] = []
        self.size = 0
        self.backlog = 0  # the transport's unsent bytes as of the last flush
        self.dead = False  # cut: nothing more is written

    @property
    def open(self) -> bool:
        p = self.proto
        return not (p.close_sent or p.disconnected or self.transport.is_closing())

    def write(self, data: bytes) -> None:
        """Queue one ready-made frame; it goes out at the end of this loop iteration.

        Past the output cap the connection is cut instead (see the module docstring)."""
        n = len(data)
        if self.size + self.backlog + n > MAX_OUTPUT_BYTES and not self._room_for(n):
            return
        if not self.buf:
            _flusher.mark(self)
        self.buf.append(data)
        self.size += n

    def _room_for(self, n: int) -> bool:
        """The slow path of `write`: look at the transport again, else cut (False)."""
        if self.dead:
            return False
        if self.buf:  # hand this iteration's frames to the kernel first: a reader takes them
            self.flush()
        else:
            self.backlog = self.transport.get_write_buffer_size()
        if self.size + self.backlog + n <= MAX_OUTPUT_BYTES:
            return True
        self.cut()
        return False

    def abort(self) -> None:
        """Drop the connection now (an abusive client: nothing more is read or written)."""
        self.dead = True
        self.buf = []
        self.size = 0
        self.transport.abort()

    def end(self) -> None:
        """The session is over (the application closed it): what is buffered goes out, then
        a normal close frame, and the connection closes (aborted after CUT_GRACE_S)."""
        if self.dead:
            return
        self.flush()
        self.dead = True
        if not self.open:
            return
        transport = self.transport
        transport.write(close_frame(1000, ""))
        transport.close()
        if transport.get_write_buffer_size():  # a timer holds the connection: only if needed
            asyncio.get_running_loop().call_later(CUT_GRACE_S, transport.abort)

    def cut(self, reason: str = "slow_consumer") -> None:
        """Drop the buffer, write the goodbye frames, close; abort after CUT_GRACE_S."""
        if self.dead:
            return
        self.dead = True
        self.buf = []
        self.size = 0
        log.warning(
            "cutting a client that does not read (%s, %d bytes unsent)", reason, self.backlog
        )
        _on_cut(reason)
        if not self.open:
            return
        transport = self.transport
        goodbye = _goodbye()
        if goodbye:
            transport.write(goodbye)
        transport.close()
        asyncio.get_running_loop().call_later(CUT_GRACE_S, transport.abort)

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
        self.backlog = transport.get_write_buffer_size()


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
