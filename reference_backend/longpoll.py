"""The long-polling side of the patches (installed by speedups): the poll's byte budget,
the queue's cap and the cut of a slow consumer, and POST bodies that cannot be read.

- `poll` (the long-polling wait): returns at once when packets are queued and otherwise
  waits under `asyncio.timeout`, which creates no Task (the library's `wait_for` did, on
  every wake-up), and drains what is queued up to `OutputPolicy.poll_budget_bytes` (the
  packet that crosses it is the last), so an honest polling client keeps up with a busy
  channel. Semantics kept: a timeout or cancellation raises QueueEmpty; a queued None
  means "closed" (returns [] and leaves the None for the next poll when it follows packets).
- `admit`: the queue's cap, checked before a packet is queued (see output.py).
- `handle_post`: the library's, except that a body that is not UTF-8 or not a valid
  payload (too many packets, a broken packet) ends that session (400) instead of being
  logged with a traceback and answered 200; at most MAX_POST_PACKETS packets per POST.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

from engineio import exceptions, packet, payload

from reference_backend import output
from reference_backend.output import CUT_GRACE_S, SLOW_CONSUMER, packet_size


async def poll(self: Any) -> list[Any]:
    queue: asyncio.Queue[Any] = self.queue
    if queue.empty():
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                first = await queue.get()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None
    else:
        first = queue.get_nowait()
    queue.task_done()
    if first is None:
        return []
    packets = [first]
    taken = packet_size(first)
    budget = output.POLICY.poll_budget_bytes
    while taken < budget and not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        if pkt is None:
            queue.put_nowait(None)
            break
        packets.append(pkt)
        taken += packet_size(pkt)
    self._pigeon_queued = max(0, self._pigeon_queued - taken)
    if self._pigeon_cut and queue.empty():
        self.closed = True  # the closing event and the close are in this response
    return packets


def admit(self: Any, pkt: packet.Packet) -> bool:
    """Whether a long-polling socket may queue `pkt`; past the cap, cut it instead."""
    if self._pigeon_cut:
        return False
    queued = self._pigeon_queued + packet_size(pkt)
    if queued > output.POLICY.max_output_bytes:
        self._pigeon_cut = True
        asyncio.get_running_loop().create_task(_cut_polling(self))
        return False
    self._pigeon_queued = queued
    return True


async def _cut_polling(self: Any) -> None:
    """Drop what is queued, queue the `closing` event and the close, and end the session.

    The application sees the disconnect at once (rooms left: nothing more is queued); the
    Engine.IO session stays until the client's next poll has taken the two packets (or
    CUT_GRACE_S), so that the client learns why.
    """
    queue: asyncio.Queue[Any] = self.queue
    while not queue.empty():
        queue.get_nowait()
        queue.task_done()
    self._pigeon_queued = 0
    text = output.POLICY.closing(SLOW_CONSUMER)
    if text:
        queue.put_nowait(packet.Packet(packet.MESSAGE, text))
    queue.put_nowait(packet.Packet(packet.CLOSE))
    output.POLICY.on_cut(SLOW_CONSUMER)
    asyncio.get_running_loop().call_later(CUT_GRACE_S, _mark_closed, self)
    if not self.closing and not self.closed:
        self.closing = True
        await self.server._trigger_event(
            "disconnect", self.sid, self.server.reason.SERVER_DISCONNECT, run_async=False
        )


def _mark_closed(self: Any) -> None:
    self.closed = True  # the server's service task (or the next request) forgets it


async def _end_post_session(self: Any) -> NoReturn:
    """End the session of a POST that cannot be read: closed without waiting for a poll to
    drain its queue (the library's disconnect waits, and a client whose only request is
    this POST would never get its answer), then 400."""
    output.POLICY.on_junk("post")
    await self.close(wait=False, reason=self.server.reason.TRANSPORT_ERROR)
    raise exceptions.ContentTooLongError()


async def handle_post(self: Any, environ: dict[str, Any]) -> None:
    """The library's POST handling; a body that does not decode ends the session."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "0")
    except ValueError:
        length = -1
    if length < 0 or length > self.server.max_http_buffer_size:
        await _end_post_session(self)
    raw = await environ["wsgi.input"].read(length)
    try:
        decoded = payload.Payload(encoded_payload=raw.decode("utf-8"))
    except (ValueError, IndexError, KeyError, TypeError):  # not UTF-8, too many packets, junk
        await _end_post_session(self)
    for pkt in decoded.packets:
        await self.receive(pkt)
