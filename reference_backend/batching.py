"""Auto-pipelining: concurrent Redis commands share one round trip (what node-redis does).

redis-py's asyncio client holds a pooled connection per in-flight command; under a few
hundred concurrent sends that means hundreds of connections, each costing a handshake, and a
loaded event loop then times out connects and the pool churns. Here callers queue their
commands; a few workers drain the queue into pipelines (one connection each, one round trip
per batch). A batch may end with trailing commands of its own (e.g. one WAIT for all).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

Command = tuple[Any, ...]


class AutoPipeline:
    """Queue commands, run them in batches; each caller gets its own replies back."""

    def __init__(
        self,
        redis: Redis,
        *,
        workers: int = 2,
        max_batch: int = 512,
        trailer: Callable[[], Sequence[Command]] | None = None,
    ) -> None:
        self.redis = redis
        self.workers_n = workers
        self.max_batch = max_batch
        self.trailer = trailer  # commands appended to every batch; replies go to everyone
        self._queue: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]] = []
        self._ready = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    async def call(self, commands: Sequence[Command]) -> list[Any]:
        """Replies of `commands` (errors as exception objects), then those of the trailer."""
        return await self.submit(commands)

    def submit(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Queue `commands` now (so in submission order) and return the future of `call`."""
        if not self._workers:
            self._start()
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append((commands, fut))
        self._ready.set()
        return fut

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work()) for _ in range(self.workers_n)]

    async def _work(self) -> None:
        while True:
            await self._ready.wait()
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            if not self._queue:
                self._ready.clear()
            if not batch:
                continue
            try:
                await self._execute(batch)
            except asyncio.CancelledError:
                for _, fut in batch:
                    if not fut.done():
                        fut.cancel()
                raise
            except Exception as exc:  # broad on purpose: handed to every caller of the batch
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)

    async def _execute(
        self, batch: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]]
    ) -> None:
        pipe: Pipeline = self.redis.pipeline(transaction=False)
        try:
            for commands, _ in batch:
                for cmd in commands:
                    pipe.execute_command(*cmd)
            trailer = list(self.trailer()) if self.trailer else []
            for cmd in trailer:
                pipe.execute_command(*cmd)
            replies = await pipe.execute(raise_on_error=False)
        finally:
            await pipe.reset()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        tail = replies[len(replies) - len(trailer) :] if trailer else []
        i = 0
        for commands, fut in batch:
            n = len(commands)
            if not fut.done():
                fut.set_result([*replies[i : i + n], *tail])
            i += n

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
