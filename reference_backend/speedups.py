"""A cheaper Engine.IO writer wait, installed once at start (same behaviour, fewer tasks).

python-engineio's `AsyncSocket.poll` waits for the next outgoing packet with
`asyncio.wait_for(queue.get(), ...)`, which on Python 3.11 wraps the wait in a new Task on
every wake-up of every connection's writer: under fan-out that is one Task per delivery
batch per recipient. This version returns at once when packets are queued and otherwise
waits under `asyncio.timeout`, which creates no Task. Semantics kept: a timeout (or
cancellation) raises QueueEmpty; a queued None means "closed" (returns [] and leaves the
None for the next poll when it follows real packets).
"""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import exceptions
from engineio.async_socket import AsyncSocket


async def _poll(self: Any) -> list[Any]:
    queue: asyncio.Queue[Any] = self.queue
    if queue.empty():
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                first = await queue.get()
        except (asyncio.TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None
    else:
        first = queue.get_nowait()
    queue.task_done()
    if first is None:
        return []
    packets = [first]
    while not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        if pkt is None:
            queue.put_nowait(None)
            break
        packets.append(pkt)
    return packets


def install() -> None:
    """Replace AsyncSocket.poll (idempotent)."""
    AsyncSocket.poll = _poll  # type: ignore[method-assign]
