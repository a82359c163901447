"""The only module that patches python-engineio internals; installed once at node start.

Written against python-engineio 4.15.1 (python-socketio 5.18.1, uvicorn 0.54.0). `install()`
first checks that every replaced function still has the signature these versions had, and
raises if not: a changed library must be re-read before these patches are trusted again.

What is replaced on `engineio.async_socket.AsyncSocket`, and why:
- `_websocket_handler`: same handshake and upgrade steps, but instead of a writer task and
  queue per connection, outgoing packets go straight to a `wswriter.FrameWriter` (one
  coalesced transport write per loop iteration), and the reader is guarded by one idle
  timer per connection instead of a new Task + `wait_for` per received packet. Its then
  unused asyncio.Queue is replaced by a `_DirectQueue` (writes what is put, always empty).
  Fewer tasks and objects per connection (memory) and per packet (CPU). Servers other than
  uvicorn's sans-I/O protocol fall back to the library's handler.
- `send`: for a socket with a FrameWriter, the same ping-timeout check, then a direct write.
  Sockets without one (long-polling, upgrade in progress) use the library's queue path.
- `schedule_ping`: the next heartbeat PING is a loop timer, not a Task sleeping
  ping_interval per connection (memory); the PING itself is sent as the library does.
- `poll` and `handle_post_request`: longpoll.py (the poll's byte budget, the queue's cap,
  POST bodies that cannot be read).

The output cap and the cut of slow consumers: output.py.
Garbage that is not an Engine.IO packet is counted (`OutputPolicy.on_junk`), not logged;
past MAX_JUNK such packets the session ends. A websocket reader yields to the event loop
every FAIR_BURST frames, so a client that floods frames gets no more than its turn, and a
connection that sends more than `OutputPolicy.max_frames_per_s` frames in a second is cut
(`flood`) and read no further.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import engineio
from engineio import exceptions, packet, payload
from engineio.async_socket import AsyncSocket

from reference_backend import longpoll, output, wswriter
from reference_backend.output import CUT_ATTR, QUEUED_ATTR, SLOW_CONSUMER, OutputPolicy

__all__ = ["OutputPolicy", "install", "writer_of"]

WRITTEN_AGAINST = "python-engineio 4.15.1"
# The functions replaced (or called with these arguments) and their signatures then.
EXPECTED_SIGNATURES: dict[str, str] = {
    "poll": "(self)",
    "send": "(self, pkt)",
    "_websocket_handler": "(self, ws)",
    "check_ping_timeout": "(self)",
    "receive": "(self, pkt)",
    "close": "(self, wait=True, abort=False, reason=None)",
    "schedule_ping": "(self)",
    "handle_post_request": "(self, environ)",
}
WRITER_ATTR = "_pigeon_writer"  # the socket's FrameWriter once it writes directly
FAIR_BURST = 64  # frames of one connection handled before the loop serves the others
MAX_JUNK = 100  # packets that are not Engine.IO packets before a websocket session ends
_originals: dict[str, Callable[..., Awaitable[Any]]] = {}


def writer_of(sock: Any) -> wswriter.FrameWriter | None:
    """The FrameWriter of an Engine.IO socket, or None if it uses the library's queue."""
    writer: wswriter.FrameWriter | None = getattr(sock, WRITER_ATTR)
    return writer


def check_signatures() -> None:
    """Raise if a function patched here changed since WRITTEN_AGAINST."""
    for name, expected in EXPECTED_SIGNATURES.items():
        fn = _originals.get(name) or getattr(AsyncSocket, name, None)
        actual = None if fn is None else str(inspect.signature(fn))
        if actual != expected:
            raise RuntimeError(
                f"reference_backend.speedups was written against {WRITTEN_AGAINST}; "
                f"python-engineio {getattr(engineio, '__version__', '?')} has "
                f"AsyncSocket.{name}{actual or ' (missing)'} instead of {expected}. "
                "Re-read the library before adapting the patches."
            )


def install(policy: OutputPolicy | None = None) -> None:
    """Check the library, then replace the AsyncSocket methods (idempotent)."""
    check_signatures()
    if policy is not None:
        output.POLICY = policy
        wswriter.configure(policy.max_output_bytes, _ws_goodbye, policy.on_cut)
    for name, fn in (
        ("poll", longpoll.poll),
        ("send", _send),
        ("_websocket_handler", _ws_handler),
        ("schedule_ping", _schedule_ping),
        ("handle_post_request", longpoll.handle_post),
    ):
        if name not in _originals:
            _originals[name] = getattr(AsyncSocket, name)
        setattr(AsyncSocket, name, fn)
    setattr(AsyncSocket, WRITER_ATTR, None)
    setattr(AsyncSocket, QUEUED_ATTR, 0)
    setattr(AsyncSocket, CUT_ATTR, False)
    setattr(AsyncSocket, "_pigeon_ping", None)  # noqa: B010 - the next PING's timer
    payload.Payload.max_decode_packets = (
        output.MAX_POST_PACKETS
    )  # a node process decodes only POSTs


def _ws_goodbye() -> bytes:
    """The frames that end a slow websocket consumer: the `closing` event, then the close."""
    text = output.POLICY.closing(SLOW_CONSUMER)
    event = wswriter.frame(b"4" + text.encode()) if text else b""
    return event + wswriter.close_frame(1008, SLOW_CONSUMER)


# ---- replacements ---------------------------------------------------------------------
async def _send(self: Any, pkt: packet.Packet) -> None:
    writer: wswriter.FrameWriter | None = getattr(self, WRITER_ATTR)
    if writer is None:
        if longpoll.admit(self, pkt):
            await _originals["send"](self, pkt)
        return
    if self.closed:
        raise exceptions.SocketIsClosedError()
    last_ping = self.last_ping
    if (
        last_ping
        and time.time() - last_ping > self.server.ping_timeout
        and not await self.check_ping_timeout()
    ):
        return
    writer.write(wswriter.packet_frame(pkt.encode()))
    if pkt.packet_type == packet.CLOSE:  # the server ends the session: close the websocket
        writer.end()


_PING_FRAME = wswriter.frame(b"2")


def _schedule_ping(self: Any) -> None:
    # as the library: only start a new wait when the previous PING was answered
    if self.last_ping:
        self.last_ping = None
        self._pigeon_ping = asyncio.get_running_loop().call_later(
            self.server.ping_interval, _ping_due, self
        )


def _ping_due(self: Any) -> None:
    if self.closing or self.closed:
        return
    self.last_ping = time.time()
    writer: wswriter.FrameWriter | None = getattr(self, WRITER_ATTR)
    if writer is not None:
        writer.write(_PING_FRAME)
    else:
        self.queue.put_nowait(packet.Packet(packet.PING))


async def _ws_handler(self: Any, ws: Any) -> None:
    writer = wswriter.attach(ws)
    if writer is None:
        await _originals["_websocket_handler"](self, ws)
        return
    server = self.server
    max_size = server.max_http_buffer_size

    async def websocket_wait() -> Any:
        data = await ws.wait()
        if data and len(data) > max_size:
            raise ValueError("packet is too large")
        return data

    if self.connected:
        if not await _upgrade(self, ws, websocket_wait):
            return
    else:
        self.connected = True
        self.upgraded = True
    _go_direct(self, writer)
    server.logger.info("%s: Upgrade to websocket successful", self.sid)

    deadline = _IdleDeadline(server.ping_interval + server.ping_timeout)
    burst = junk = frames = 0
    window = deadline.last
    abusive = False
    while True:
        burst += 1
        if burst >= FAIR_BURST:  # frames were queued: let the other connections have a turn
            burst = 0
            await asyncio.sleep(0)
        deadline.waiting = True
        try:
            p = await websocket_wait()
        except asyncio.CancelledError:  # idle too long; the library also ends on a cancel
            deadline.absorb()
            break
        except Exception:  # broad on purpose: disconnect, oversized packet: end the session
            break
        finally:
            deadline.waiting = False
        if p is None:  # closed by the client
            break
        now = deadline.touch()
        if now - window >= 1.0:
            window, frames = now, 0
        frames += 1
        if frames > output.POLICY.max_frames_per_s:  # a flood, not a client: cut it at once
            output.POLICY.on_cut("flood")
            abusive = True
            break
        try:
            await self.receive(packet.Packet(encoded_packet=p))
        except (exceptions.UnknownPacketError, ValueError, IndexError, TypeError, KeyError):
            output.POLICY.on_junk("engineio")  # not an Engine.IO packet: counted, not logged
            junk += 1
            if junk > MAX_JUNK:  # a client this broken is not one: end the session
                output.POLICY.on_cut("malformed")
                abusive = True
                break
        except exceptions.SocketIsClosedError:
            server.logger.info("Receive error -- socket is closed")
            break
        except Exception:  # as the library: log it, keep the connection
            server.logger.exception("Unknown receive error")
        if self.closed:  # the application ended the session (e.g. an abusive packet)
            break

    if abusive:  # read nothing more from it: no close handshake with a flooder
        writer.abort()
    deadline.cancel()
    if self._pigeon_ping is not None:  # the timer would hold the socket (and its buffers)
        self._pigeon_ping.cancel()
        self._pigeon_ping = None
    writer.flush()  # what was sent before the end goes out before the close frame
    await ws.close()
    await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


class _IdleDeadline:
    """Cancels the reader task after `timeout` s without a packet from the client.

    The library wraps every read in `wait_for` (a Task and a timer per packet); this keeps
    one timer per connection, re-armed only when it fires: a packet costs a clock read.
    """

    __slots__ = ("fired", "handle", "last", "loop", "task", "timeout", "waiting")

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.timeout = timeout
        self.last = self.loop.time()
        self.waiting = False
        self.fired = False
        self.handle = self.loop.call_at(self.last + timeout, self._check)

    def touch(self) -> float:
        self.last = now = self.loop.time()
        return now

    def _check(self) -> None:
        due = self.last + self.timeout
        if self.waiting and self.loop.time() >= due and self.task is not None:
            self.fired = True
            self.task.cancel()
        else:  # a packet came meanwhile, or a packet is being handled: look again later
            self.handle = self.loop.call_at(max(due, self.loop.time() + 1.0), self._check)

    def absorb(self) -> None:
        """Our own cancel is a timeout: undo it so the cleanup can await normally."""
        if self.fired and self.task is not None:
            self.task.uncancel()

    def cancel(self) -> None:
        self.handle.cancel()


async def _upgrade(self: Any, ws: Any, websocket_wait: Callable[[], Awaitable[Any]]) -> bool:
    """The polling -> websocket upgrade probe, as the library does it; True on success."""
    self.upgrading = True  # hold packet sends (in the queue) during the upgrade
    try:
        pkt = await websocket_wait()
    except OSError:
        return False
    decoded = packet.Packet(encoded_packet=pkt)
    if decoded.packet_type != packet.PING or decoded.data != "probe":
        self.server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
        self.upgrading = False
        return False
    await ws.send(packet.Packet(packet.PONG, data="probe").encode())
    await self.queue.put(packet.Packet(packet.NOOP))  # end the pending long-poll
    try:
        pkt = await websocket_wait()
    except OSError:
        self.upgrading = False
        return False
    decoded = packet.Packet(encoded_packet=pkt)
    if decoded.packet_type != packet.UPGRADE:
        self.upgraded = False
        self.server.logger.info(
            "%s: Failed websocket upgrade, expected UPGRADE packet, received %s instead.",
            self.sid,
            pkt,
        )
        self.upgrading = False
        return False
    self.upgraded = True
    self.upgrading = False
    return True


def _go_direct(self: Any, writer: wswriter.FrameWriter) -> None:
    """Write what was queued meanwhile (in order), then switch the socket to direct writes."""
    queue: asyncio.Queue[Any] = self.queue
    while not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        if pkt is not None:
            writer.write(wswriter.packet_frame(pkt.encode()))
    self._pigeon_queued = 0
    self.queue = _DirectQueue(writer)
    setattr(self, WRITER_ATTR, writer)


class _DirectQueue:
    """Stands in for a direct socket's asyncio.Queue (about 2.5 KiB each): what the library
    puts is written at once, so it is always empty and `join` never waits."""

    __slots__ = ("writer",)

    def __init__(self, writer: wswriter.FrameWriter) -> None:
        self.writer = writer

    def put_nowait(self, pkt: packet.Packet | None) -> None:
        if pkt is not None:  # None is the library's "writer, stop": nothing to stop here
            self.writer.write(wswriter.packet_frame(pkt.encode()))

    async def put(self, pkt: packet.Packet | None) -> None:
        self.put_nowait(pkt)

    def empty(self) -> bool:
        return True

    def qsize(self) -> int:
        return 0

    def task_done(self) -> None:
        return None

    async def join(self) -> None:
        return None

    async def get(self) -> packet.Packet:
        raise exceptions.QueueEmpty()  # nothing is ever queued (only polling reads here)

    def get_nowait(self) -> packet.Packet:
        raise asyncio.QueueEmpty()
