"""The toxics: what each does to the chunks of one direction of one connection.

A `Stage` is one toxic on one link (Toxiproxy's "stub"). When it (re)starts it
draws `random() < toxicity` and, if the draw fails, acts as a noop until its
next restart; so toxicity is decided per connection and direction. A restart
(an update of the toxic, or adding or removing the toxic after it) interrupts
the stage's waits, and whatever chunk it holds goes on at once: no data is lost.

A stage gets each chunk with `emit`, which hands a chunk to the rest of the
chain; it returns False to close the link at its place (the stages after it
still see the end of the stream). Chunks carry the loop time they were read at,
so latency is measured from the read and delays do not pile up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pigeon_lab.proxy.model import Toxic


@dataclass(slots=True)
class Chunk:
    data: bytes
    t: float  # time.monotonic() when it was read (latency is measured from here)


Emit = Callable[[Chunk], Awaitable[None]]
CloseAt = Callable[["Stage"], None]  # the link closes itself at this stage


class Stage:
    """One toxic on one link; subclasses define `chunk` and `eof` for their type."""

    def __init__(self, toxic: Toxic, rng: random.Random, close_at: CloseAt) -> None:
        self.toxic = toxic
        self.rng = rng
        self.close_at = close_at
        self.active = False
        self.loop = asyncio.get_running_loop()
        self._waiters: set[asyncio.Future[bool]] = set()
        self.removed_index = -1  # where it was in the chain when it was removed

    # life cycle -------------------------------------------------------------------
    def start(self) -> None:
        """Draw toxicity and begin a run (Toxiproxy's `ToxicStub.Run`)."""
        self.active = self.rng.random() < self.toxic.toxicity
        if self.active:
            self.on_start()

    def interrupt(self) -> None:
        """End the current run: waits return at once, timers stop."""
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(False)
        self._waiters.clear()
        self.on_stop()

    def restart(self, toxic: Toxic | None = None) -> None:
        """Interrupt and start again (with the toxic's new attributes, if given)."""
        self.interrupt()
        if toxic is not None:
            self.toxic = toxic
        self.start()

    def on_start(self) -> None:
        """A run of an active stage begins (timers)."""

    def on_stop(self) -> None:
        """The run ends (cancel timers)."""

    async def wait(self, seconds: float) -> bool:
        """Sleep at least `seconds`; False when interrupted first (the caller then hurries on).

        The loop's timers have millisecond steps and may fire a little early, so
        the wait goes on until the monotonic clock says the time has passed.
        """
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            fut: asyncio.Future[bool] = self.loop.create_future()
            self._waiters.add(fut)
            handle = self.loop.call_later(left, _resolve, fut)
            try:
                if not await fut:
                    return False
            finally:
                handle.cancel()
                self._waiters.discard(fut)
        return True

    # data -------------------------------------------------------------------------
    async def handle(self, chunk: Chunk, emit: Emit) -> bool:
        if not self.active:
            await emit(chunk)
            return True
        return await self.chunk(chunk, emit)

    async def handle_eof(self) -> bool:
        """The stream ended before this stage; True to pass the end on."""
        if not self.active:
            return True
        return await self.eof()

    async def chunk(self, chunk: Chunk, emit: Emit) -> bool:
        await emit(chunk)
        return True

    async def eof(self) -> bool:
        return True


async def sleep_at_least(seconds: float) -> None:
    """asyncio.sleep that never wakes early (see `Stage.wait`)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(left)


def _resolve(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(True)


class Latency(Stage):
    """Delay each chunk by latency + U[-jitter, +jitter) ms from when it was read."""

    async def chunk(self, chunk: Chunk, emit: Emit) -> bool:
        delay_ms = self.toxic.attr("latency")
        jitter = self.toxic.attr("jitter")
        if jitter > 0:
            delay_ms += self.rng.randrange(2 * jitter) - jitter
        sleep = delay_ms / 1000.0 - (time.monotonic() - chunk.t)
        if sleep > 0:
            await self.wait(sleep)
            chunk = Chunk(chunk.data, chunk.t + sleep)
        await emit(chunk)
        return True


class Bandwidth(Stage):
    """Pace to `rate` KB/s (bytes per ms); chunks over rate x 100 bytes go in 100 ms slices."""

    debt_s = 0.0  # time owed for bytes already let through (sleep overshoot is paid back)

    def on_start(self) -> None:
        self.debt_s = 0.0

    async def chunk(self, chunk: Chunk, emit: Emit) -> bool:
        rate = self.toxic.attr("rate")
        if rate <= 0:
            await emit(chunk)
            return True
        data = chunk.data
        self.debt_s += len(data) / rate / 1000.0
        slice_len = rate * 100
        while len(data) > slice_len:
            if not await self.wait(0.1):
                await emit(Chunk(data, chunk.t))  # interrupted: nothing held back
                return True
            await emit(Chunk(data[:slice_len], chunk.t))
            data = data[slice_len:]
            self.debt_s -= 0.1
        start = time.monotonic()
        await self.wait(self.debt_s)
        self.debt_s -= time.monotonic() - start
        await emit(Chunk(data, chunk.t))
        return True


class SlowClose(Stage):
    """Data untouched; the end of the stream is held back by `delay` ms."""

    async def eof(self) -> bool:
        await self.wait(self.toxic.attr("delay") / 1000.0)
        return True


class Timeout(Stage):
    """Drop every chunk; with timeout > 0 close after that many idle ms (a black hole)."""

    _timer: asyncio.TimerHandle | None = None
    _due = 0.0

    def on_start(self) -> None:
        self._arm()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        self.on_stop()
        ms = self.toxic.attr("timeout")
        if ms > 0:
            self._due = time.monotonic() + ms / 1000.0
            self._timer = self.loop.call_later(ms / 1000.0, self._fire)

    def _fire(self) -> None:
        self._timer = None
        left = self._due - time.monotonic()
        if left > 0:  # the loop's timer fired early
            self._timer = self.loop.call_later(left, self._fire)
        elif self.active:
            self.close_at(self)

    async def chunk(self, chunk: Chunk, emit: Emit) -> bool:
        self._arm()  # idle is measured from the last chunk
        return True


class ResetPeer(Stage):
    """On the first chunk (or the end), drop it, wait `timeout` ms, then close.

    The wait is not interrupted (as in Toxiproxy). The close is a TCP RST on
    connections accepted while a reset_peer toxic existed (SO_LINGER 0 is set
    at accept), a normal close on older ones.
    """

    async def chunk(self, chunk: Chunk, emit: Emit) -> bool:
        await sleep_at_least(self.toxic.attr("timeout") / 1000.0)
        return False

    async def eof(self) -> bool:
        await sleep_at_least(self.toxic.attr("timeout") / 1000.0)
        return False


class LimitData(Stage):
    """Pass `bytes` bytes per connection and direction, then close (the count survives restarts)."""

    def __init__(self, toxic: Toxic, rng: random.Random, close_at: CloseAt) -> None:
        super().__init__(toxic, rng, close_at)
        self.sent = 0

    async def chunk(self, chunk: Chunk, emit: Emit) -> bool:
        limit = self.toxic.attr("bytes")
        remaining = max(0, limit - self.sent)
        data = chunk.data[:remaining] if remaining < len(chunk.data) else chunk.data
        if data:
            self.sent += len(data)
            await emit(Chunk(data, chunk.t))
        return limit - self.sent > 0


def slice_bounds(
    start: int, end: int, average: int, variation: int, rng: random.Random
) -> list[tuple[int, int]]:
    """Split [start, end) by recursive bisection into pieces of about average +/- variation."""
    average = max(1, average)
    variation = max(0, variation)
    if (end - start) - average <= variation or end - start <= 1:
        return [(start, end)]
    jitter = rng.randrange(2 * variation) - variation if variation else 0
    mid = min(end - 1, max(start + 1, start + (end - start) // 2 + jitter))
    return [
        *slice_bounds(start, mid, average, variation, rng),
        *slice_bounds(mid, end, average, variation, rng),
    ]


class Slicer(Stage):
    """Split each chunk into pieces of about average_size +/- size_variation, `delay` us apart."""

    async def chunk(self, chunk: Chunk, emit: Emit) -> bool:
        data = chunk.data
        bounds = slice_bounds(
            0,
            len(data),
            self.toxic.attr("average_size"),
            self.toxic.attr("size_variation"),
            self.rng,
        )
        delay = self.toxic.attr("delay") / 1e6
        for lo, hi in bounds:
            await emit(Chunk(data[lo:hi], chunk.t))
            if not await self.wait(delay):
                if hi < len(data):
                    await emit(Chunk(data[hi:], chunk.t))  # interrupted: the rest at once
                return True
            if delay <= 0:
                await asyncio.sleep(0)  # let the pieces go out one by one
        return True


STAGES: dict[str, type[Stage]] = {
    "latency": Latency,
    "bandwidth": Bandwidth,
    "slow_close": SlowClose,
    "timeout": Timeout,
    "reset_peer": ResetPeer,
    "limit_data": LimitData,
    "slicer": Slicer,
}


def new_stage(toxic: Toxic, rng: random.Random, close_at: CloseAt) -> Stage:
    """A started stage for `toxic` (its toxicity drawn)."""
    stage = STAGES[toxic.type](toxic, rng, close_at)
    stage.start()
    return stage
