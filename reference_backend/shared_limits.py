"""Cluster-wide rate limits per user and per workspace, counted in Redis.

A limit of `rate` events/s with a burst of `burst` allows `burst` events per window of
`burst / rate` seconds, judged by a sliding-window counter: the previous window's count,
weighted by how much of it the sliding window still covers, plus the current one's.
Windows are aligned on the wall clock, so every node agrees on them.

`take` (the hot path) is local: a few dict operations. A background task (`run`) adds this
node's counts to Redis every SYNC_S (one HINCRBY per active key into one hash per scope
and window, with a TTL) and takes back the cluster's totals. So a user or a workspace is
held to its limit on every node within one sync, whichever node its connections land on.
A new connection also reads its user's and workspace's counts once (`prime`, at connect),
so reconnecting to another node does not reset them. The overshoot is bounded by what
the nodes admit before they learn of each other's counts: about nodes x rate x SYNC_S.
While Redis is unreachable each node goes on with what it knows (its own counts and the
last totals).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from redis import exceptions as rx
from redis.asyncio import Redis

from reference_backend.logs import Throttled

log = logging.getLogger("reference_backend.limits")
_detail = Throttled(log)
SYNC_S = 0.2
REFRESH_CHUNK = 1000  # keys per HMGET
KEY_PREFIX = "pg:rl"  # inside the node's ACL key pattern (pg:*)


class WindowCounter:
    """One scope's counts (``user`` or ``workspace``); see the module docstring."""

    __slots__ = ("cur", "idx", "limit", "pending", "prev", "scope", "unsent", "window_s")

    def __init__(self, scope: str, rate: float, burst: float) -> None:
        self.scope = scope
        self.limit = burst
        self.window_s = burst / rate
        self.idx = -1
        self.cur: dict[str, float] = {}  # cluster total this window, as known, + ours since
        self.prev: dict[str, float] = {}  # the same for the previous window
        self.pending: dict[str, int] = {}  # ours, not yet in Redis
        self.unsent: list[tuple[int, dict[str, int]]] = []  # older windows' pending

    def take(self, key: str, now: float) -> bool:
        """Count one event of `key` at wall time `now`, or say it is over the limit."""
        pos = now / self.window_s
        idx = int(pos)
        if idx != self.idx:
            self._roll(idx)
        n = self.cur.get(key, 0.0)
        prev = self.prev.get(key)
        estimate = n if prev is None else n + prev * (1.0 - (pos - idx))
        if estimate + 1.0 > self.limit:
            return False
        self.cur[key] = n + 1.0
        self.pending[key] = self.pending.get(key, 0) + 1
        return True

    def _roll(self, idx: int) -> None:
        if self.pending:
            self.unsent.append((self.idx, self.pending))
        self.prev = self.cur if idx == self.idx + 1 else {}
        self.cur = {}
        self.pending = {}
        self.idx = idx

    def batches(self) -> list[tuple[int, dict[str, int]]]:
        """What to add to Redis now (older windows first); forgotten by this node."""
        out = self.unsent
        if self.pending:
            out.append((self.idx, self.pending))
        self.unsent = []
        self.pending = {}
        return out

    def learn(self, idx: int, totals: dict[str, int]) -> None:
        """The cluster's totals after our additions to window `idx`."""
        if idx == self.idx:
            target = self.cur
        elif idx == self.idx - 1:
            target = self.prev
        else:
            return
        pending = self.pending if idx == self.idx else {}
        for key, total in totals.items():
            target[key] = max(target.get(key, 0.0), float(total + pending.get(key, 0)))

    def current(self, now: float) -> int:
        """The index of the window `now` falls in (rolling over to it)."""
        idx = int(now / self.window_s)
        if idx != self.idx:
            self._roll(idx)
        return idx

    def hash_key(self, idx: int) -> str:
        return f"{KEY_PREFIX}:{self.scope}:{int(self.window_s * 1000)}:{idx}"

    @property
    def ttl_s(self) -> int:
        return max(2, math.ceil(self.window_s * 3))


class SharedLimits:
    """The per-user and per-workspace limits of one node, synced through Redis."""

    def __init__(
        self, *, user_rate: float, user_burst: float, ws_rate: float, ws_burst: float
    ) -> None:
        self.user = WindowCounter("u", user_rate, user_burst)
        self.workspace = WindowCounter("w", ws_rate, ws_burst)
        self._task: asyncio.Task[None] | None = None

    def start(self, redis: Redis) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(redis))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def run(self, redis: Redis) -> None:
        while True:
            await asyncio.sleep(SYNC_S)
            try:
                await self.sync(redis)
            except asyncio.CancelledError:
                raise
            except (rx.RedisError, OSError) as exc:
                _detail(logging.WARNING, "sync", "rate-limit sync failed: %s: %s",
                        type(exc).__name__, exc)  # fmt: skip

    async def prime(self, redis: Redis, user_key: str, workspace: str, now: float) -> None:
        """Learn the cluster's counts of a user and a workspace (a new connection)."""
        pipe: Any = redis.pipeline(transaction=False)
        plan: list[tuple[WindowCounter, int, str]] = []
        for counter, key in ((self.user, user_key), (self.workspace, workspace)):
            idx = counter.current(now)
            for i in (idx - 1, idx):
                pipe.hget(counter.hash_key(i), key)
                plan.append((counter, i, key))
        replies = await pipe.execute()
        for (counter, idx, key), value in zip(plan, replies, strict=True):
            if value is not None:
                counter.learn(idx, {key: int(value)})

    async def sync(self, redis: Redis) -> None:
        """Add this node's counts to Redis and learn the cluster's totals (one round trip):
        those of the keys it added to, and (HMGET) of every other key it saw this window,
        so that a node learns of the others' events even while its own are few."""
        plan: list[tuple[WindowCounter, int, list[str], bool]] = []
        pipe: Any = redis.pipeline(transaction=False)
        for counter in (self.user, self.workspace):
            added: set[str] = set()
            for idx, counts in counter.batches():
                key = counter.hash_key(idx)
                fields = list(counts)
                for field in fields:
                    pipe.hincrby(key, field, counts[field])
                pipe.expire(key, counter.ttl_s)
                plan.append((counter, idx, fields, True))
                if idx == counter.idx:
                    added = set(fields)
            others = [k for k in counter.cur if k not in added]
            for i in range(0, len(others), REFRESH_CHUNK):
                chunk = others[i : i + REFRESH_CHUNK]
                pipe.hmget(counter.hash_key(counter.idx), chunk)
                plan.append((counter, counter.idx, chunk, False))
        if not plan:
            return
        replies = await pipe.execute()
        i = 0
        for counter, idx, fields, added_to in plan:
            if added_to:
                values = replies[i : i + len(fields)]
                i += len(fields) + 1  # and the EXPIRE
            else:
                values = replies[i]
                i += 1
            counter.learn(idx, {k: int(v) for k, v in zip(fields, values, strict=True) if v})
