"""The per-channel message log in Redis: the single source of seq order and durability.

Keys of one channel share the hash tag `pg:{<ws>/<channel>}` (one cluster slot):
`:seq` the counter, `:log` a stream whose entry ids are `0-<seq>` (so a seq range is a plain
XRANGE), `:dd:<client_msg_id>` the dedupe record "<seq> <id> <ts>" with a TTL.

A send is one EVALSHA of send.lua, auto-pipelined with the sends running concurrently (one
round trip per batch, one batch in flight so that commits are answered in order); with
`replicated` durability one WAIT ends each batch, on the same connection as its writes,
which is what WAIT's semantics need.
Redis errors are mapped here, at the boundary, to `unavailable` / `internal`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from socketio.redis_manager import parse_redis_sentinel_url

from reference_backend.batching import AutoPipeline
from reference_backend.errors import ProtoError

SEND_LUA = resources.files("reference_backend").joinpath("send.lua").read_text()
SEND_SHA = hashlib.sha1(SEND_LUA.encode()).hexdigest()
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Committed:
    """What the store answers to a send: the seq, id and ts the message has for good."""

    seq: int
    id: str
    ts: int
    duplicate: bool
    replicas: int | None = None  # replicas that acked (replicated durability only)


@dataclass(frozen=True, slots=True)
class Page:
    """A consistent read of one channel: head and a page of messages after a seq."""

    head_seq: int
    messages: list[Message]
    more: bool
    truncated: bool


def channel_key(ws: str, channel: str) -> str:
    return f"pg:{{{ws}/{channel}}}"


def connect(
    url: str, *, command_timeout_s: float = COMMAND_TIMEOUT_S, decode: bool = True
) -> Redis:
    """A client for the primary; through Sentinel it follows the current primary."""
    common: dict[str, Any] = {
        "socket_timeout": command_timeout_s,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "decode_responses": decode,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        "health_check_interval": 5,
    }
    if url.startswith("redis+sentinel://"):
        sentinels, service, extra = parse_redis_sentinel_url(url)
        # redis-py's asyncio Sentinel is unannotated: typed here, at the boundary.
        make_sentinel = cast("Callable[..., Sentinel]", Sentinel)
        sentinel = make_sentinel(
            sentinels,
            sentinel_kwargs={"socket_timeout": 1.0, "socket_connect_timeout": CONNECT_TIMEOUT_S},
        )
        return cast(Redis, sentinel.master_for(service or "pigeon", **common, **extra))
    return Redis.from_url(url, **common)


def to_message(channel: str, entry_id: str, f: dict[str, str], ws: str) -> Message:
    """A stream entry in the shape of the `message` event (with its workspace)."""
    return {
        "channel": channel,
        "seq": int(entry_id[2:]),
        "id": f["i"],
        "client_msg_id": f["c"],
        "sender": f["s"],
        "body": f["b"],
        "ts": int(f["t"]),
        "workspace": ws,
    }


def unavailable(exc: BaseException) -> ProtoError:
    return ProtoError("unavailable", f"store unavailable: {type(exc).__name__}: {exc}"[:200])


class Store:
    """Send and read channel logs; every Redis failure becomes a ProtoError."""

    def __init__(
        self,
        redis: Redis,
        *,
        retention: int,
        dedupe_ttl_s: int,
        durability: str = "fast",
        wait_replicas: int = 1,
        wait_timeout_ms: int = 500,
    ) -> None:
        self.redis = redis
        self.retention = str(retention)
        self.dedupe_ttl = str(dedupe_ttl_s)
        self.replicated = durability == "replicated"
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        # One batch in flight at a time under `fast`: replies, and so the pushes that follow
        # them, come back in commit order (no reordered pushes from a single node). Under
        # `replicated` a second worker overlaps the WAITs of consecutive batches.
        self.batcher = AutoPipeline(
            redis,
            workers=2 if self.replicated else 1,
            trailer=self._wait_trailer if self.replicated else None,
        )

    def _wait_trailer(self) -> list[tuple[Any, ...]]:
        return [("WAIT", self.wait_replicas, self.wait_timeout_ms)]

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (rx.RedisError, OSError):
            return False

    async def load_script(self) -> None:
        await self.redis.script_load(SEND_LUA)

    async def send(
        self,
        ws: str,
        channel: str,
        client_msg_id: str,
        sender: str,
        body: str,
        *,
        msg_id: str,
        ts: int,
        forced_seq: int = 0,
        dedupe: bool = True,
    ) -> Committed:
        """Commit one message (or find its earlier commit); WAIT for replicas if configured."""
        base = channel_key(ws, channel)
        keys = (f"{base}:seq", f"{base}:log", f"{base}:dd:{client_msg_id}")
        argv = (
            msg_id,
            client_msg_id,
            sender,
            body,
            str(ts),
            self.retention,
            self.dedupe_ttl,
            str(forced_seq),
            "1" if dedupe else "0",
            "1" if self.replicated else "0",
        )
        try:
            reply, replicas = await self._run_send(keys, argv)
        except ProtoError:
            raise
        except (
            rx.ConnectionError,
            rx.TimeoutError,
            rx.BusyLoadingError,
            rx.ReadOnlyError,
            OSError,
        ) as exc:
            raise unavailable(exc) from exc
        except rx.RedisError as exc:
            raise ProtoError("internal", f"store error: {exc}") from exc
        dup, value = reply
        seq_s, id_s, ts_s = value.split(" ")
        committed = Committed(int(seq_s), id_s, int(ts_s), dup == 1, replicas)
        if replicas is not None and replicas < self.wait_replicas:
            raise ProtoError(
                "not_durable",
                f"seq {committed.seq} reached {replicas}/{self.wait_replicas} replicas "
                f"within {self.wait_timeout_ms} ms; retry with the same client_msg_id",
            )
        return committed

    async def _run_send(
        self, keys: tuple[str, ...], argv: tuple[str, ...]
    ) -> tuple[Any, int | None]:
        for attempt in (0, 1):
            replies = await self.batcher.call([("EVALSHA", SEND_SHA, len(keys), *keys, *argv)])
            reply = replies[0]
            if isinstance(reply, rx.NoScriptError) and attempt == 0:
                await self.load_script()  # a fresh primary after failover or restart
                continue
            if isinstance(reply, Exception):
                raise reply
            if not self.replicated:
                return reply, None
            if isinstance(replies[1], Exception):
                raise replies[1]
            return reply, int(replies[1])
        raise ProtoError("internal", "send script could not be loaded")

    async def incr(self, ws: str, channel: str) -> int:
        """Only for the ack-before-persist flaw: take a seq without storing anything."""
        try:
            return int(await self.redis.incr(f"{channel_key(ws, channel)}:seq"))
        except (rx.RedisError, OSError) as exc:
            raise unavailable(exc) from exc

    async def head(self, ws: str, channel: str) -> int:
        try:
            return int(await self.redis.get(f"{channel_key(ws, channel)}:seq") or 0)
        except (rx.RedisError, OSError) as exc:
            raise unavailable(exc) from exc

    async def read(self, ws: str, channel: str, after_seq: int, limit: int) -> Page:
        """Head and up to `limit` messages with seq > after_seq, in one MULTI."""
        base = channel_key(ws, channel)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(f"{base}:seq")
                pipe.xrange(f"{base}:log", min=f"0-{after_seq + 1}", max="+", count=limit + 1)
                head_raw, entries = await pipe.execute()
        except (rx.RedisError, OSError) as exc:
            raise unavailable(exc) from exc
        head = int(head_raw or 0)
        more = len(entries) > limit
        messages = [to_message(channel, eid, f, ws) for eid, f in entries[:limit]]
        truncated = head > after_seq and (not messages or messages[0]["seq"] > after_seq + 1)
        return Page(head, messages, more, truncated)
