"""One proxied connection: the client socket, the upstream socket dialled for it, two links.

Each socket is a `Side` (an asyncio protocol on a uvloop transport); the two
`Link`s (upstream: client -> server, downstream: server -> client) join them.
Bytes the client sends while the upstream is being dialled wait in the up
link's pump, then the client is paused until the upstream answers. An
upstream that cannot be reached closes the client (as in Toxiproxy).
SO_LINGER 0 is set on both sockets of a connection accepted while the proxy
has a reset_peer toxic, so that any close of them is a TCP RST.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from typing import Protocol, cast

from pigeon_lab.proxy.addr import AddressError, split_host_port
from pigeon_lab.proxy.link import WRITE_HIGH, Link
from pigeon_lab.proxy.model import DOWNSTREAM, UPSTREAM, Toxic

log = logging.getLogger("pigeon_lab.proxy")

LINGER0 = struct.pack("ii", 1, 0)


class LinkHost(Protocol):
    """What a connection needs from its proxy."""

    name: str
    upstream: str
    rng: random.Random

    def chain(self, direction: str) -> list[Toxic]: ...
    def has_reset_peer(self) -> bool: ...
    def adopt(self, conn: Connection) -> None: ...
    def forget(self, conn: Connection) -> None: ...


class Side(asyncio.Protocol):
    """One socket of a connection (the client's or the upstream's)."""

    def __init__(self, conn: Connection, role: str) -> None:
        self.conn = conn
        self.role = role
        self.transport: asyncio.Transport | None = None
        self.reader: Link  # the link whose source this is
        self.writer: Link  # the link whose destination this is
        self.lost = False
        self.linger0 = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH)
        self.conn.made(self)

    def data_received(self, data: bytes) -> None:
        self.reader.on_data(data)

    def eof_received(self) -> bool:
        self.reader.on_eof()
        return True  # the link decides when this socket closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.reader.on_eof()
        self.writer.dst_gone()
        self.conn.lost(self)

    def pause_writing(self) -> None:
        self.writer.dst_paused()

    def resume_writing(self) -> None:
        self.writer.dst_resumed()

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not self.lost and not t.is_closing():
            t.write(data)

    def pause_reading(self) -> None:
        t = self.transport
        if t is not None and not self.lost and not t.is_closing():
            t.pause_reading()

    def resume_reading(self) -> None:
        t = self.transport
        if t is not None and not self.lost and not t.is_closing():
            t.resume_reading()

    def close(self, abort: bool = False) -> None:
        """Close (after flushing), or abort at once; with SO_LINGER 0 either is a RST."""
        t = self.transport
        if t is None or self.lost:
            return
        if abort or self.linger0:
            t.abort()
        else:
            t.close()

    def set_linger0(self) -> None:
        self.linger0 = True
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
            except OSError as exc:
                log.warning(
                    "%s: cannot set SO_LINGER on the %s socket: %s", self.conn, self.role, exc
                )


class Connection:
    """A client connection and its upstream, joined by two links."""

    def __init__(self, host: LinkHost) -> None:
        self.host = host
        self.loop = asyncio.get_running_loop()
        self.client = Side(self, "client")
        self.server = Side(self, "upstream")
        self.up = Link(self, UPSTREAM, self.client, self.server)
        self.down = Link(self, DOWNSTREAM, self.server, self.client)
        self.client.reader, self.client.writer = self.up, self.down
        self.server.reader, self.server.writer = self.down, self.up
        self.linger0 = host.has_reset_peer()  # only for connections made while one exists
        self.up.dst_blocked = True  # until the upstream answers (what is read waits in a pump)
        self._dial: asyncio.Task[None] | None = None
        self.peer = "?"

    def __repr__(self) -> str:
        return f"{self.host.name}[{self.peer}]"

    def link(self, direction: str) -> Link:
        return self.up if direction == UPSTREAM else self.down

    def made(self, side: Side) -> None:
        if self.linger0:
            side.set_linger0()
        if side is self.client:
            peer = side.transport.get_extra_info("peername") if side.transport else None
            self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
            self.host.adopt(self)
            self._dial = self.loop.create_task(self._connect())
            # uvloop starts reading after connection_made: pause just after it
            self.loop.call_soon(self._hold_client)
        elif self.client.lost or self.up.done:
            side.close(abort=True)  # the client went away while we dialled
        else:
            self.up.dst_resumed()
            self.up.resume_src("dial")
            self.up.refresh()

    def _hold_client(self) -> None:
        if self.server.transport is None and not self.up.done:
            self.up.pause_src("dial")

    async def _connect(self) -> None:
        try:
            host, port = split_host_port(self.host.upstream)
            await self.loop.create_connection(lambda: self.server, host or "localhost", port)
        except (OSError, AddressError) as exc:
            log.warning("%s: cannot reach upstream %s: %s", self, self.host.upstream, exc)
            self.up.finish()
            self.down.finish()

    def lost(self, side: Side) -> None:
        if self.client.lost and (self.server.lost or self.server.transport is None):
            if self._dial is not None and not self._dial.done():
                self._dial.cancel()
            self.host.forget(self)

    def abort(self) -> None:
        """Close both sockets now (a normal close, or RST where SO_LINGER 0 was set)."""
        if self._dial is not None and not self._dial.done():
            self._dial.cancel()
        self.up.kill()
        self.down.kill()
        self.client.close(abort=True)
        self.server.close(abort=True)
