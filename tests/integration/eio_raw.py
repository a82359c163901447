"""Engine.IO spoken by hand, for tests that need what no client library does: a websocket
client that stops reading (with a small receive buffer, so the kernel holds little), a
long-polling client that counts its polls, and raw packets of any shape.

Both speak the default namespace with `auth: {"token": ...}` and Socket.IO acks by id.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from pigeon_lab.load.wsframe import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameParser, encode_frame

RS = "\x1e"  # the long-polling payload separator


def event_packet(event: str, data: Any, ack_id: int | None = None) -> str:
    """The Engine.IO MESSAGE of a Socket.IO EVENT: `42[<ack id>]["event", data]`."""
    return "42" + ("" if ack_id is None else str(ack_id)) + json.dumps([event, data])


@dataclass
class RawWebSocket:
    """A websocket Engine.IO client on a raw socket; `read_paused` stops reading it."""

    url: str
    rcvbuf: int = 4096
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    parser: FrameParser = field(default_factory=FrameParser)
    texts: list[str] = field(default_factory=list)  # Engine.IO packets received, in order
    closed: bool = False
    close_reason: bytes = b""

    async def open(self, token: str | None) -> None:
        """The websocket and Engine.IO handshakes, then the Socket.IO connect (unless
        `token` is None: the session then stays before its connect)."""
        parts = urlsplit(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=self.rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        opened = await self.next_text()
        assert opened.startswith("0"), opened
        if token is None:
            return
        await self.send_text("40" + json.dumps({"token": token}))
        connected = await self.next_text()
        assert connected.startswith("40"), connected

    async def send_text(self, text: str) -> None:
        await self.send_frame(text.encode())

    async def send_frame(self, payload: bytes, opcode: int = OP_TEXT) -> None:
        """One frame of any payload (invalid UTF-8 in a text frame, a binary attachment)."""
        assert self.writer is not None
        self.writer.write(encode_frame(payload, opcode))
        await self.writer.drain()

    async def call(self, ack_id: int, event: str, data: Any, timeout: float = 10) -> Any:
        """Emit with an ack id and read until that ack (answering pings on the way)."""
        await self.send_text(event_packet(event, data, ack_id))
        prefix = f"43{ack_id}"
        while True:
            text = await asyncio.wait_for(self.next_text(), timeout)
            if text.startswith(prefix):
                return json.loads(text[len(prefix) :])[0]

    async def next_text(self) -> str:
        """The next Engine.IO text packet (pings answered, close noted)."""
        while True:
            for op, payload in await self._frames():
                if op == OP_TEXT:
                    text = payload.decode()
                    self.texts.append(text)
                    if text == "2":
                        await self.send_text("3")
                    return text
            if self.closed:
                raise ConnectionError("closed")

    async def _frames(self) -> list[tuple[int, bytes]]:
        assert self.reader is not None and self.writer is not None
        data = await self.reader.read(65536)
        if not data:
            self.closed = True
            return []
        frames = self.parser.feed(data)
        out = []
        for op, payload in frames:
            if op == OP_PING:
                self.writer.write(encode_frame(payload, OP_PONG))
            elif op == OP_CLOSE:
                self.closed = True
                self.close_reason = payload[2:]
            out.append((op, payload))
        return out

    async def read_all(self, timeout: float) -> list[str]:
        """Read (and keep) every text packet until the connection closes or `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while not self.closed:
                    for op, payload in await self._frames():
                        if op == OP_TEXT:
                            self.texts.append(payload.decode())
        except TimeoutError:
            pass
        return self.texts

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class RawPolling:
    """A long-polling Engine.IO client that counts its polls and what each carried."""

    url: str
    session: aiohttp.ClientSession
    sid: str = ""
    polls: list[int] = field(default_factory=list)  # packets per poll response
    events: list[Any] = field(default_factory=list)  # Socket.IO EVENT payloads, in order
    acks: dict[int, Any] = field(default_factory=dict)
    closed: bool = False

    def _endpoint(self) -> str:
        return f"{self.url}/socket.io/?EIO=4&transport=polling&sid={self.sid}"

    async def open(self, token: str) -> None:
        async with self.session.get(f"{self.url}/socket.io/?EIO=4&transport=polling") as r:
            body = await r.text()
        assert body.startswith("0"), body
        self.sid = json.loads(body[1:])["sid"]
        await self.post("40" + json.dumps({"token": token}))
        while not any(p.startswith("40") for p in await self.poll()):
            if self.closed:
                raise ConnectionError("the session ended before its Socket.IO connect")

    async def post(self, *packets: str) -> int:
        return await self.post_raw(RS.join(packets).encode())

    async def post_raw(self, body: bytes) -> int:
        """POST any body (junk, invalid UTF-8, oversized batches); the HTTP status."""
        async with self.session.post(self._endpoint(), data=body) as r:
            await r.read()
            return r.status

    async def poll(self) -> list[str]:
        """One long-poll: its packets (pings answered, events and acks kept)."""
        async with self.session.get(self._endpoint()) as r:
            if r.status != 200:
                self.closed = True
                return []
            body = await r.text()
        packets = body.split(RS) if body else []
        self.polls.append(len(packets))
        for p in packets:
            if p == "2":
                await self.post("3")
            elif p == "1":
                self.closed = True
            elif p.startswith("42"):
                self.events.append(json.loads(p[2:]))
            elif p.startswith("43"):
                i = 2
                while p[i].isdigit():
                    i += 1
                self.acks[int(p[2:i])] = json.loads(p[i:])[0]
        return packets

    async def call(self, ack_id: int, event: str, data: Any, timeout: float = 10) -> Any:
        await self.post(event_packet(event, data, ack_id))
        async with asyncio.timeout(timeout):
            while ack_id not in self.acks:
                await self.poll()
        return self.acks.pop(ack_id)
