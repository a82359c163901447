"""The data path of one direction of a connection: a `Link`, its toxic chain, its pump.

Each direction of a `Connection` (upstream: client -> server, downstream:
server -> client) is a `Link` with its chain of `Stage`s, one per toxic of
that direction.

With no active stage on a link, bytes go straight from one uvloop transport to
the other in `data_received`, with flow control: when the destination's write
buffer passes its high-water mark the source stops reading until it drains.
When a stage is active (or still holds data) a `Pump` task takes the chunks
through the chain in order; the link returns to the direct path once the chain
is inactive and the pump is empty, so nothing is reordered.

As in Toxiproxy, the end of one direction (EOF, an error, or a toxic closing
it) closes that link's destination socket; the other link then sees its source
end and closes in turn, so the whole connection goes (no half-close).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from pigeon_lab.proxy.model import Toxic
from pigeon_lab.proxy.toxics import Chunk, Stage, new_stage

if TYPE_CHECKING:
    from pigeon_lab.proxy.connection import Connection, Side

log = logging.getLogger("pigeon_lab.proxy")

WRITE_HIGH = 512 * 1024  # a destination buffer above this pauses the source
QUEUE_HIGH = 1024 * 1024  # bytes waiting in a pump above this pause the source
QUEUE_LOW = QUEUE_HIGH // 4
QUEUE_CHUNKS = 1024  # Toxiproxy's latency buffer is 1024 chunks


class _End:
    """The end of the stream, entering the chain at `index`."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class Link:
    """One direction of a connection: its source, destination and toxic chain."""

    def __init__(self, conn: Connection, direction: str, src: Side, dst: Side) -> None:
        self.conn = conn
        self.direction = direction
        self.src = src
        self.dst = dst
        host = conn.host
        self.stages: list[Stage] = [
            new_stage(t, host.rng, self.close_at) for t in host.chain(direction)
        ]
        self.pump: Pump | None = None
        self.done = False  # this link closed its destination
        self.eof_seen = False
        self.dst_blocked = False
        self.writable = asyncio.Event()
        self.paused_for: set[str] = set()
        self.fast = False
        self.refresh()

    # the direct path --------------------------------------------------------------
    def on_data(self, data: bytes) -> None:
        if self.fast:
            self.dst.write(data)
        elif not self.done:
            self.ensure_pump().feed(Chunk(data, time.monotonic()))

    def on_eof(self) -> None:
        if self.eof_seen or self.done:
            return
        self.eof_seen = True
        if self.fast:
            self.finish()
        else:
            self.ensure_pump().feed_end(_End(0))

    def refresh(self) -> None:
        """Take the direct path when nothing on this link needs the pump."""
        self.fast = (
            self.pump is None
            and not self.done
            and self.dst.transport is not None
            and not any(s.active for s in self.stages)
        )

    def ensure_pump(self) -> Pump:
        if self.pump is None:
            self.pump = Pump(self)
            self.fast = False
        return self.pump

    # flow control -----------------------------------------------------------------
    def pause_src(self, reason: str) -> None:
        if not self.paused_for:
            self.src.pause_reading()
        self.paused_for.add(reason)

    def resume_src(self, reason: str) -> None:
        if reason in self.paused_for:
            self.paused_for.discard(reason)
            if not self.paused_for:
                self.src.resume_reading()

    def dst_paused(self) -> None:
        self.dst_blocked = True
        self.writable.clear()
        self.pause_src("dst")

    def dst_resumed(self) -> None:
        self.dst_blocked = False
        self.writable.set()
        self.resume_src("dst")

    def dst_gone(self) -> None:
        self.dst_resumed()

    async def write_out(self, data: bytes) -> None:
        while self.dst_blocked and not self.dst.lost and not self.done:
            await self.writable.wait()
        if not self.done:
            self.dst.write(data)

    # closing ----------------------------------------------------------------------
    def finish(self, abort: bool = False) -> None:
        """This direction is over: close the destination (the other link follows)."""
        if self.done:
            return
        self.done = True
        self.fast = False
        self.writable.set()
        for stage in self.stages:
            stage.interrupt()
        self.dst.close(abort)
        if self.pump is not None:
            self.pump.wake()  # a pump waiting for data sees the link is done

    def kill(self) -> None:
        """Stop at once, dropping what the pump holds (the proxy is being stopped)."""
        pump = self.pump
        self.finish(abort=True)
        if pump is not None:
            pump.task.cancel()

    def close_at(self, stage: Stage) -> None:
        """A stage closes the link at its place (the timeout toxic's idle timer)."""
        self.close_from(self.after(stage))

    def close_from(self, index: int) -> None:
        """Drop what waits in the pump and end the stream from `index` on."""
        if self.done:
            return
        pump = self.ensure_pump()
        pump.clear()
        pump.feed_end(_End(index))

    def after(self, stage: Stage) -> int:
        """Where the chain goes on after `stage` (also after it was removed)."""
        try:
            return self.stages.index(stage) + 1
        except ValueError:
            return stage.removed_index

    # toxics changing under a live connection --------------------------------------
    def add(self, toxic: Toxic) -> None:
        if self.done:
            return
        if self.stages:
            self.stages[-1].restart()
        self.stages.append(new_stage(toxic, self.conn.host.rng, self.close_at))
        self.refresh()

    def update(self, toxic: Toxic) -> None:
        for stage in self.stages:
            if stage.toxic.name == toxic.name:
                stage.restart(toxic)
        self.refresh()
        self._nudge()

    def remove(self, name: str) -> None:
        index = next((i for i, s in enumerate(self.stages) if s.toxic.name == name), -1)
        if index < 0:
            return
        stage = self.stages.pop(index)
        stage.interrupt()
        stage.removed_index = index
        if stage.toxic.type == "timeout":
            self.close_from(index)  # Toxiproxy's cleanup: removing a timeout closes the link
            return
        if index > 0:
            self.stages[index - 1].restart()
        self.refresh()
        self._nudge()

    def _nudge(self) -> None:
        if self.pump is not None:
            self.pump.wake()


class Pump:
    """The task that takes a link's chunks through its chain, in order."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.items: deque[Chunk | _End] = deque()
        self.bytes = 0
        self._wake: asyncio.Future[None] | None = None
        self.task = link.conn.loop.create_task(self._run())

    def feed(self, chunk: Chunk) -> None:
        self.items.append(chunk)
        self.bytes += len(chunk.data)
        if self.bytes > QUEUE_HIGH or len(self.items) >= QUEUE_CHUNKS:
            self.link.pause_src("queue")
        self.wake()

    def feed_end(self, end: _End) -> None:
        self.items.append(end)
        self.wake()

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0
        self.link.resume_src("queue")

    def wake(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _run(self) -> None:
        link = self.link
        try:
            while not link.done:
                if not self.items:
                    if not link.eof_seen and not any(s.active for s in link.stages):
                        return  # back to the direct path (in `finally`)
                    self._wake = link.conn.loop.create_future()
                    await self._wake
                    continue
                item = self.items.popleft()
                if isinstance(item, _End):
                    await self._end(item.index)
                    return
                self.bytes -= len(item.data)
                if self.bytes <= QUEUE_LOW and len(self.items) < QUEUE_CHUNKS // 2:
                    link.resume_src("queue")
                await self._send(0, item)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: %s link failed", link.conn, link.direction)
            link.conn.abort()
        finally:
            if link.pump is self:
                link.pump = None
                link.refresh()

    async def _send(self, index: int, chunk: Chunk) -> None:
        link = self.link
        if link.done:
            return
        if index >= len(link.stages):
            await link.write_out(chunk.data)
            return
        stage = link.stages[index]

        async def emit(out: Chunk) -> None:
            await self._send(link.after(stage), out)

        if not await stage.handle(chunk, emit):
            await self._end(link.after(stage))

    async def _end(self, index: int) -> None:
        link = self.link
        for stage in list(link.stages[index:]):
            if link.done:
                return
            await stage.handle_eof()
        self.items.clear()
        link.finish()
