"""The per-channel message log in Redis: the single source of seq order and durability.

Keys of one channel share the hash tag `pg:{<ws>/<channel>}` (one cluster slot):
`:seq` the counter (kept for good: a seq is never reused), `:log` a stream whose entry ids
are `0-<seq>` (so a seq range is a plain XRANGE), trimmed to `retention` entries and expired
`log_ttl_s` after its last message, and `:dd:<sender>:<client_msg_id>` the dedupe record
"<seq> <id> <ts>" with a TTL. The record is the sender's: another sender reusing the id
sends a message of its own.

A send is one EVALSHA of send.lua, auto-pipelined with the sends running concurrently (one
round trip per batch, one batch in flight so that commits are answered in order); with
`replicated` durability one WAIT ends each batch, on the same connection as its writes,
which is what WAIT's semantics need.
Redis errors are mapped here, at the boundary, to `unavailable` / `internal` with a fixed
message; the library's text goes to the node's log (throttled), never to a client. A full
Redis (maxmemory, noeviction) refuses writes with OOM: that is `unavailable` too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from socketio.redis_manager import parse_redis_sentinel_url

from reference_backend.addrmap import AddressMap, MappedSentinel
from reference_backend.batching import AutoPipeline
from reference_backend.errors import ProtoError
from reference_backend.logs import Throttled

SEND_LUA = resources.files("reference_backend").joinpath("send.lua").read_text()
SEND_SHA = hashlib.sha1(SEND_LUA.encode()).hexdigest()
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0

log = logging.getLogger("reference_backend.store")
_detail = Throttled(log)

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Committed:
    """What the store answers to a send: the seq, id and ts the message has for good."""

    seq: int
    id: str
    ts: int
    duplicate: bool
    replicas: int | None = None  # replicas that acked (replicated durability only)
    stored: Message | None = None  # a duplicate's stored fields (replicated only), for its push


@dataclass(frozen=True, slots=True)
class Page:
    """A consistent read of one channel: head and a page of messages after a seq."""

    head_seq: int
    messages: list[Message]
    more: bool
    truncated: bool


def channel_key(ws: str, channel: str) -> str:
    return f"pg:{{{ws}/{channel}}}"


@dataclass(frozen=True, slots=True)
class RedisAuth:
    """The node's Redis credentials (its ACL user), for the servers and for the Sentinels."""

    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def server_kwargs(self) -> dict[str, Any]:
        return _login(self.username, self.password)

    def sentinel_kwargs(self) -> dict[str, Any]:
        return _login(self.sentinel_username, self.sentinel_password)

    def __repr__(self) -> str:  # never print a password
        return (
            f"RedisAuth(username={self.username!r}, sentinel_username={self.sentinel_username!r})"
        )


def _login(username: str | None, password: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if username:
        out["username"] = username
    if password:
        out["password"] = password
    return out


NO_AUTH = RedisAuth()


def connect(
    url: str,
    *,
    command_timeout_s: float = COMMAND_TIMEOUT_S,
    decode: bool = True,
    auth: RedisAuth = NO_AUTH,
    max_connections: int | None = None,
    address_map: AddressMap | None = None,
    replica: bool = False,
) -> Redis:
    """A client for the primary; through Sentinel it follows the current primary (with
    `replica`, a replica, or the primary when none answers). Every address it dials goes
    through `address_map` (``--redis-address-map``).

    `max_connections` bounds its pool (a caller past it gets ConnectionError, mapped to
    `unavailable`); the read gate keeps the node's reads below it.
    """
    amap = address_map or AddressMap()
    common: dict[str, Any] = {
        "socket_timeout": command_timeout_s,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "decode_responses": decode,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        "health_check_interval": 5,
        **auth.server_kwargs(),
    }
    if max_connections is not None:
        common["max_connections"] = max_connections
    if url.startswith("redis+sentinel://"):
        sentinels, service, extra = parse_redis_sentinel_url(url)
        # redis-py's asyncio Sentinel is unannotated: typed here, at the boundary.
        make_sentinel = cast("Callable[..., Sentinel]", ReadSentinel if replica else MappedSentinel)
        sentinel = make_sentinel(
            amap,
            sentinels,
            sentinel_kwargs={
                "socket_timeout": 1.0,
                "socket_connect_timeout": CONNECT_TIMEOUT_S,
                **auth.sentinel_kwargs(),
            },
        )
        pick = sentinel.slave_for if replica else sentinel.master_for
        return cast(Redis, pick(service or "pigeon", **common, **extra))
    return Redis.from_url(amap.url(url), **common)


class ReadSentinel(MappedSentinel):
    """For reads: only replicas that say they are replicas with a live link to the primary.

    Sentinel lists a returning old primary as a replica seconds before it reconfigures it;
    until then it still answers as a primary, with what it took alone in a split brain."""

    def filter_slaves(self, slaves: Iterable[Mapping[str, Any]]) -> list[tuple[Any, Any]]:
        return [
            (r["ip"], r["port"])
            for r in slaves
            if not (r.get("is_odown") or r.get("is_sdown"))
            and str(r.get("role-reported")) == "slave"
            and str(r.get("master-link-status")) == "ok"
        ]


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


# What a client is told; the library's text goes to the log (see the module docstring).
UNAVAILABLE_MESSAGE = "the message store is unavailable; retry"
FULL_MESSAGE = "the message store is full; retry later"
INTERNAL_MESSAGE = "the message store failed"
_UNAVAILABLE = (
    rx.ConnectionError,
    rx.TimeoutError,
    rx.BusyLoadingError,
    rx.ReadOnlyError,
    OSError,
)


def unavailable(exc: BaseException, what: str = "store") -> ProtoError:
    """`unavailable` (OOM: "full") with a fixed message; the detail goes to the log."""
    if isinstance(exc, rx.OutOfMemoryError):
        _detail(logging.WARNING, "oom", "Redis is full (maxmemory): %s refused", what)
        return ProtoError("unavailable", FULL_MESSAGE)
    _detail(logging.WARNING, f"unavailable:{type(exc).__name__}", "%s: %s: %s", what,
            type(exc).__name__, exc)  # fmt: skip
    return ProtoError("unavailable", UNAVAILABLE_MESSAGE)


def store_error(exc: BaseException, what: str) -> ProtoError:
    """Any Redis failure as the client's error: `unavailable` when a retry may help (lost
    connection, timeout, failover, a full Redis), else `internal`; never the library's text."""
    if isinstance(exc, (*_UNAVAILABLE, rx.OutOfMemoryError)):
        return unavailable(exc, what)
    _detail(logging.ERROR, f"internal:{type(exc).__name__}", "%s failed: %s: %s", what,
            type(exc).__name__, exc)  # fmt: skip
    return ProtoError("internal", INTERNAL_MESSAGE)


class Store:
    """Send and read channel logs; every Redis failure becomes a ProtoError."""

    def __init__(
        self,
        redis: Redis,
        *,
        retention: int,
        dedupe_ttl_s: int,
        log_ttl_s: int = 30 * 86400,
        durability: str = "fast",
        wait_replicas: int = 1,
        wait_timeout_ms: int = 500,
        reader: Redis | None = None,
    ) -> None:
        self.redis = redis
        # `replicated`: reads come from a replica, so that a read never returns a write
        # that was not replicated (a split-brain primary's not_durable writes, which a
        # failover takes back); an acked write is on a replica (WAIT) before its ack.
        self.reader = reader or redis
        self.retention = str(retention)
        self.dedupe_ttl = str(dedupe_ttl_s)
        self.log_ttl = str(log_ttl_s)
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
        """Commit one message (or find the sender's earlier commit of `client_msg_id`); WAIT
        for replicas if configured. The dedupe record is keyed by sender (ids match
        `[A-Za-z0-9_-]`, so `:` separates them): another sender's id is another message."""
        base = channel_key(ws, channel)
        keys = (f"{base}:seq", f"{base}:log", f"{base}:dd:{sender}:{client_msg_id}")
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
            self.log_ttl,
        )
        try:
            reply, replicas = await self._run_send(keys, argv)
        except ProtoError:
            raise
        except (rx.RedisError, OSError) as exc:
            raise store_error(exc, "send") from exc
        dup, value = reply[0], reply[1]
        seq_s, id_s, ts_s = value.split(" ")
        stored = None
        if dup == 1 and len(reply) > 2 and reply[2]:
            stored = to_message(channel, f"0-{seq_s}", _pairs(reply[2]), ws)
        committed = Committed(int(seq_s), id_s, int(ts_s), dup == 1, replicas, stored)
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
            raise store_error(exc, "incr") from exc

    async def head(self, ws: str, channel: str) -> int:
        try:
            return int(await self.reader.get(f"{channel_key(ws, channel)}:seq") or 0)
        except (rx.RedisError, OSError) as exc:
            raise store_error(exc, "head") from exc

    async def read(self, ws: str, channel: str, after_seq: int, limit: int) -> Page:
        """Head and up to `limit` messages with seq > after_seq, in one round trip.

        Not a MULTI: a full Redis (maxmemory) refuses every command queued in a MULTI, and
        reads must go on when writes cannot. The head is read first, so a message committed
        in between may come back too; head_seq is then raised to it (never below a seq
        returned), and `truncated` only ever means that messages fell out of retention."""
        base = channel_key(ws, channel)
        try:
            async with self.reader.pipeline(transaction=False) as pipe:
                pipe.get(f"{base}:seq")
                pipe.xrange(f"{base}:log", min=f"0-{after_seq + 1}", max="+", count=limit + 1)
                head_raw, entries = await pipe.execute()
        except (rx.RedisError, OSError) as exc:
            raise store_error(exc, "read") from exc
        head = int(head_raw or 0)
        more = len(entries) > limit
        messages = [to_message(channel, eid, f, ws) for eid, f in entries[:limit]]
        if messages and messages[-1]["seq"] > head:
            head = messages[-1]["seq"]
        truncated = head > after_seq and (not messages or messages[0]["seq"] > after_seq + 1)
        return Page(head, messages, more, truncated)


def _pairs(flat: list[Any]) -> dict[str, str]:
    """A stream entry's flat [field, value, ...] reply as a dict."""
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
