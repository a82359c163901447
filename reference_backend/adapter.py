"""AsyncRedisManager with what a reliability lab needs from the adapter.

- Liveness you can trust: a probe is PUBLISHed on the adapter channel and must come back
  through this node's own listener; /readyz reads the result. This catches a listener that
  died silently or was dropped by Redis (client-output-buffer-limit), not just a dead PING.
- Faster re-subscribe (0.1 s doubling to 2 s instead of 1 s to 60 s): pub/sub keeps nothing,
  so every second unsubscribed is lost broadcasts.
- Cheap room broadcasts (the `message` push): the Socket.IO packet is encoded once, its
  WebSocket frame is built once and written to each local member's connection buffer
  (wswriter). Other nodes get the encoded packet itself (`fast_message`: no JSON decode and
  re-encode per node), and a node skips its own broadcasts without parsing them.
- Publishes are auto-pipelined on one long-lived client (one worker, so this node's
  publishes keep their order) instead of a pooled connection each, and not awaited by the
  sender (like the Node adapter): a failed one is retried once, then counted in /metrics.
  python-socketio's own publish path rebuilt the whole Redis client on every error, which
  under load snowballed into connection churn.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from engineio import packet as eio_packet
from engineio.exceptions import EngineIOError
from redis.asyncio import Redis
from socketio import AsyncRedisManager
from socketio.redis_manager import parse_redis_sentinel_url

from reference_backend import fastjson, speedups, wswriter
from reference_backend.addrmap import AddressMap, MappedSentinel
from reference_backend.batching import AutoPipeline
from reference_backend.store import NO_AUTH, RedisAuth

log = logging.getLogger("reference_backend.adapter")

PROBE_PREFIX = b"pigeon-probe:"
FAST_MAGIC = b"pigeon-emit1"  # adapter messages in the fast_message format
RESUBSCRIBE_MIN_S = 0.1
RESUBSCRIBE_MAX_S = 2.0


class PigeonRedisManager(AsyncRedisManager):  # type: ignore[misc]
    """The Redis adapter, instrumented; see the module docstring for why each part."""

    def __init__(
        self,
        url: str,
        *,
        on_publish_failure: Callable[[], None],
        publish_client: Redis,
        auth: RedisAuth = NO_AUTH,
        address_map: AddressMap | None = None,
        **kw: Any,
    ) -> None:
        options: dict[str, Any] = {
            "socket_connect_timeout": 1.0,
            "socket_keepalive": True,
            **auth.server_kwargs(),
        }
        if url.startswith("redis+sentinel://"):
            options["sentinel_kwargs"] = {
                "socket_timeout": 1.0,
                "socket_connect_timeout": 1.0,
                **auth.sentinel_kwargs(),
            }
        super().__init__(url, redis_options=options, **kw)
        self.address_map = address_map or AddressMap()
        self.on_publish_failure = on_publish_failure
        self.publish_client = publish_client
        self.publisher = AutoPipeline(publish_client, workers=1)
        self.subscribed = False
        self.probe_sent = 0
        self.probe_seen = 0
        self.probe_seen_at = 0.0
        self._listening: Any = None  # the pubsub object the listener iterates

    # ---- liveness probe ---------------------------------------------------------
    async def send_probe(self) -> None:
        """Publish a probe that only this node's listener will count."""
        self.probe_sent += 1
        token = PROBE_PREFIX + f"{self.host_id}:{self.probe_sent}".encode()
        (reply,) = await self.publisher.call([("PUBLISH", self.channel, token)])
        if isinstance(reply, Exception):
            raise reply

    def probe_ok(self, max_age_s: float) -> bool:
        return self.subscribed and time.monotonic() - self.probe_seen_at <= max_age_s

    async def force_resubscribe(self) -> None:
        """Drop the listener's connection so that it re-subscribes from scratch."""
        pubsub = self._listening
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:  # broad on purpose: closing a broken connection may fail any way
                log.debug("closing a stale pubsub failed", exc_info=True)

    def _note_probe(self, data: bytes) -> None:
        host, _, n = data[len(PROBE_PREFIX) :].decode(errors="replace").partition(":")
        if host == self.host_id and n.isdigit():
            self.probe_seen = max(self.probe_seen, int(n))
            self.probe_seen_at = time.monotonic()

    def _redis_connect(self) -> None:
        """The listener's client, dialling through the address map (Sentinel's answers too)."""
        if not self.address_map:
            super()._redis_connect()
            return
        if self.redis_url.startswith("redis+sentinel://"):
            sentinels, service, extra = parse_redis_sentinel_url(self.redis_url)
            sentinel = MappedSentinel(self.address_map, sentinels, **self.redis_options, **extra)
            self.redis = sentinel.master_for(service or self.channel)
        else:
            self.redis = Redis.from_url(self.address_map.url(self.redis_url), **self.redis_options)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)

    # ---- listener ---------------------------------------------------------------
    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        retry_sleep = RESUBSCRIBE_MIN_S
        while True:
            try:
                self._redis_connect()
                pubsub = self._listening = self.pubsub
                await pubsub.subscribe(self.channel)
                self.subscribed = True
                retry_sleep = RESUBSCRIBE_MIN_S
                async for message in pubsub.listen():
                    yield message
                raise ConnectionError("pubsub listen() ended")
            except asyncio.CancelledError:
                self.subscribed = False
                raise
            except Exception as exc:  # broad on purpose: any failure means: re-subscribe
                self.subscribed = False
                log.warning("adapter listener lost (%s); re-subscribing in %.1fs", exc, retry_sleep)
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, RESUBSCRIBE_MAX_S)

    async def _listen(self) -> AsyncIterator[bytes]:
        """Probes and fast broadcasts are handled here; the rest goes to the library."""
        channel = self.channel.encode("utf-8")
        own = FAST_MAGIC + orjson.dumps([self.host_id])[:-1]  # this node's fast broadcasts
        async for message in self._redis_listen_with_retries():
            if message["channel"] != channel or message["type"] != "message":
                continue
            data = message.get("data")
            if isinstance(data, bytes):
                if data.startswith(FAST_MAGIC):
                    if not data.startswith(own):  # delivered locally when it was sent
                        await self._handle_fast(data)
                    continue
                if data.startswith(PROBE_PREFIX):
                    self._note_probe(data)
                    continue
            if data is not None:
                yield data

    async def _handle_fast(self, data: bytes) -> None:
        try:
            _host, namespace, room, packet = parse_fast_message(data)
            await self.deliver(namespace, room, packet)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad message must not kill the listener
            log.exception("adapter: bad fast broadcast dropped")

    async def _publish(self, data: Any) -> Any:
        payload = self.json.dumps(data)
        for attempt in (1, 2):
            try:
                (reply,) = await self.publisher.call([("PUBLISH", self.channel, payload)])
                if isinstance(reply, Exception):
                    raise reply
                return reply
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broad on purpose: counted; the pushes are best effort
                if attempt == 2:
                    self.on_publish_failure()
                    log.warning("adapter publish failed twice, dropped: %s", exc)
                else:
                    await asyncio.sleep(0.05)
        return None

    async def close_publisher(self) -> None:
        await self.publisher.close()
        await self.publish_client.aclose()

    # ---- fast broadcast -----------------------------------------------------------
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if (
            callback is None
            and skip_sid is None
            and not kwargs.get("ignore_queue")
            and isinstance(room, str)
            and isinstance(data, dict)
        ):
            ns = namespace or "/"
            try:
                packet = encode_event(ns, event, data)
            except TypeError:  # bytes inside: the library's binary path below
                pass
            else:
                await self.deliver(ns, room, packet)
                self._publish_nowait(fast_message(self.host_id, ns, room, packet))
                return
        await super().emit(
            event,
            data,
            namespace=namespace,
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            **kwargs,
        )

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if (
            message.get("callback") is None
            and not message.get("binary")
            and message.get("skip_sid") is None
            and isinstance(message.get("room"), str)
            and isinstance(data, list)
            and len(data) == 1
            and isinstance(data[0], dict)
        ):
            ns = message.get("namespace") or "/"
            await self.deliver(ns, message["room"], encode_event(ns, message["event"], data[0]))
            return
        await super()._handle_emit(message)

    async def deliver(self, namespace: str, room: str, packet: bytes) -> None:
        """Send one encoded Socket.IO packet to this node's members of `room`.

        WebSocket members get the same pre-built frame written to their connection's buffer
        (speedups/wswriter); others (long-polling, or a ping overdue) take the library's
        per-socket path, which also applies its ping-timeout check.
        """
        ns = self.rooms.get(namespace)
        if ns is None or room not in ns:
            return
        eio = self.server.eio
        sockets = eio.sockets
        ws_frame = wswriter.frame(b"4" + packet)
        pkt: eio_packet.Packet | None = None
        now = 0.0
        for _sid, eio_sid in self.get_participants(namespace, room):
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed:
                continue
            writer = speedups.writer_of(sock)
            if writer is not None:
                last_ping = sock.last_ping
                if not last_ping or (now or (now := time.time())) - last_ping <= eio.ping_timeout:
                    writer.write(ws_frame)
                    continue
            if pkt is None:
                pkt = eio_packet.Packet(eio_packet.MESSAGE, packet.decode("utf-8"))
            try:
                await sock.send(pkt)
            except EngineIOError:  # the socket closed meanwhile: the client will resync
                continue

    def _publish_nowait(self, payload: bytes, attempt: int = 1) -> None:
        """Queue a PUBLISH without waiting for Redis: the ack need not wait for the push.

        Publishes of this node keep their order (one pipeline worker); a failed one is
        retried once after 50 ms, then counted as a publish failure.
        """
        fut = self.publisher.submit([("PUBLISH", self.channel, payload)])
        fut.add_done_callback(functools.partial(self._published, payload, attempt))

    def _published(self, payload: bytes, attempt: int, fut: asyncio.Future[list[Any]]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            reply = fut.result()[0]
            if not isinstance(reply, Exception):
                return
            exc = reply
        if attempt == 1:
            asyncio.get_running_loop().call_later(0.05, self._publish_nowait, payload, 2)
        else:
            self.on_publish_failure()
            log.warning("adapter publish failed twice, dropped: %s", exc)


def encode_event(namespace: str, event: str, data: dict[str, Any]) -> bytes:
    """A Socket.IO EVENT packet without ack id or attachments, as UTF-8 (python-socketio's
    Packet.encode gives the same text; TypeError if `data` holds bytes)."""
    body = fastjson.dumps_bytes([event, data])
    if namespace == "/":
        return b"2" + body
    return b"2" + namespace.encode("utf-8") + b"," + body


def fast_message(host_id: str, namespace: str, room: str, packet: bytes) -> bytes:
    """The adapter message of a pre-encoded broadcast: FAST_MAGIC, a JSON header line, the
    packet. Receivers write the packet as it is: no JSON decode or re-encode per node."""
    return FAST_MAGIC + orjson.dumps([host_id, namespace, room]) + b"\n" + packet


def parse_fast_message(data: bytes) -> tuple[str, str, str, bytes]:
    """(host_id, namespace, room, packet) of a fast_message."""
    head, _, packet = data.partition(b"\n")
    host_id, namespace, room = orjson.loads(head[len(FAST_MAGIC) :])
    return host_id, namespace, room, packet
