"""One backend node: the Socket.IO server, its store, readiness and the HTTP endpoints.

Readiness is computed in the background every READY_INTERVAL_S (never per request):
Redis answers PING, the adapter's own probe came back through its pub/sub listener
recently, and the node is not draining.

Engine.IO session ids start with the node's name and a dot (`node-2.<random>`), so that a
load balancer can route a long-polling request (or the websocket upgrade) to the node that
holds its session by the `sid` query parameter alone, without cookies: clients such as
socket.io-client in Node keep no cookies by default.

A node cut off from Redis (no PING, or a deaf adapter) for `--cutoff-disconnect-s`
cannot serve its clients (no sends, no syncs, no pushes from other nodes): it
disconnects them and refuses new ones (`unavailable`) until Redis is back, so that they
reconnect through the load balancer to a node that can (0: never).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import socketio

from reference_backend import fastjson, speedups
from reference_backend.adapter import PigeonRedisManager
from reference_backend.flaws import READY_WHEN_CUT_OFF as FLAW_READY_WHEN_CUT_OFF
from reference_backend.guards import GuardedServer
from reference_backend.handlers import Handlers
from reference_backend.metrics import CONTENT_TYPE_LATEST, Metrics
from reference_backend.sessions import closing_packet
from reference_backend.settings import Settings
from reference_backend.store import RedisAuth, Store, connect
from reference_backend.voice import install as install_voice

log = logging.getLogger("reference_backend.app")

READY_INTERVAL_S = 0.5
PROBE_MAX_AGE_S = 2.0  # a probe older than this: the listener is not live
RESUBSCRIBE_AFTER_S = 5.0  # subscribed but deaf for this long: force a re-subscribe
MAX_PACKET_BYTES = 1_000_000
SID_TAG_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Node:
    """Owns every long-lived object of a node and its start/drain/close lifecycle."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics(settings.node_name)
        speedups.install(
            speedups.OutputPolicy(
                max_output_bytes=settings.max_output_bytes,
                poll_budget_bytes=settings.poll_budget_bytes,
                max_frames_per_s=frame_limit(settings),
                closing=closing_packet,
                on_cut=lambda reason: self.metrics.cuts.labels(reason=reason).inc(),
                on_junk=lambda layer: self.metrics.junk.labels(layer=layer).inc(),
            )
        )
        amap = settings.address_map
        auth = RedisAuth(
            settings.redis_username or None,
            settings.redis_password or None,
            settings.sentinel_username or None,
            settings.sentinel_password or None,
        )
        self.redis_auth = auth  # the voice store logs in the same way (reference_backend/voice/)
        self.manager = PigeonRedisManager(
            settings.redis_url,
            on_publish_failure=self.metrics.publish_failures.inc,
            publish_client=connect(settings.redis_url, decode=False, auth=auth, address_map=amap),
            auth=auth,
            address_map=amap,
        )
        self.sio = GuardedServer(
            on_junk=lambda layer: self.metrics.junk.labels(layer=layer).inc(),
            async_mode="asgi",
            client_manager=self.manager,
            json=fastjson,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            cors_allowed_origins="*",
            max_http_buffer_size=MAX_PACKET_BYTES,
            logger=False,
            engineio_logger=False,
        )
        tag_sids(self.sio, settings.node_name)
        timeout = max(2.0, settings.wait_timeout_ms / 1000 + 1.5)
        reader = None
        if settings.durability == "replicated" and settings.redis_url.startswith("redis+sentinel"):
            reader = connect(
                settings.redis_url,
                command_timeout_s=timeout,
                auth=auth,
                max_connections=settings.redis_max_connections,
                address_map=amap,
                replica=True,
            )
        self.store = Store(
            connect(
                settings.redis_url,
                command_timeout_s=timeout,
                auth=auth,
                max_connections=settings.redis_max_connections,
                address_map=amap,
            ),
            retention=settings.retention,
            dedupe_ttl_s=settings.dedupe_ttl_s,
            log_ttl_s=settings.log_ttl_s,
            durability=settings.durability,
            wait_replicas=settings.wait_replicas,
            wait_timeout_ms=settings.wait_timeout_ms,
            reader=reader,
        )
        self.handlers = Handlers(self.sio, self.store, settings, self.metrics)
        self.handlers.register()
        self.voice = install_voice(self)  # voice rooms, v1 (reference_backend/voice/)
        self.sio_app = socketio.ASGIApp(
            self.sio, other_asgi_app=self.http, socketio_path="socket.io"
        )
        self.redis_ok = False
        self.ready = False
        self.cut_since: float | None = None  # since when Redis (store or adapter) is lost
        self._monitor: asyncio.Task[None] | None = None

    @property
    def draining(self) -> bool:
        return self.handlers.draining

    async def start(self) -> None:
        """Start the adapter listener now (python-socketio waits for the first client)."""
        if not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self.manager.initialize()
        self.handlers.limits.start(self.store.redis)
        self._monitor = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """Recompute readiness forever; an unexpected error means "not ready", not a dead loop."""
        deaf_since: float | None = None
        while True:
            try:
                deaf_since = await self._check(deaf_since)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("readiness check failed")
                self.ready = False
                self.metrics.ready.set(0)
            await asyncio.sleep(READY_INTERVAL_S)

    async def _check(self, deaf_since: float | None) -> float | None:
        """One readiness round; returns since when the adapter has been deaf (or None)."""
        was_ok = self.redis_ok
        try:
            self.redis_ok = await asyncio.wait_for(self.store.ping(), READY_INTERVAL_S * 2)
        except TimeoutError:
            self.redis_ok = False
        if self.redis_ok and not was_ok:
            await self._load_script()
        try:
            await asyncio.wait_for(self.manager.send_probe(), READY_INTERVAL_S * 2)
        except Exception as exc:  # broad on purpose: any failure is "adapter not live"
            log.debug("adapter probe failed: %s", exc)
        live = self.manager.probe_ok(PROBE_MAX_AGE_S)
        now = time.monotonic()
        if live or not self.manager.subscribed or not self.redis_ok:
            deaf_since = None
        elif deaf_since is None:
            deaf_since = now
        elif now - deaf_since > RESUBSCRIBE_AFTER_S:
            log.warning("adapter subscribed but deaf for %.0fs: re-subscribing", now - deaf_since)
            await self.manager.force_resubscribe()
            deaf_since = None
        await self._cut_off(self.redis_ok and live, now)
        ready = self.redis_ok and live and not self.draining
        if FLAW_READY_WHEN_CUT_OFF in self.settings.flaws:
            ready = not self.draining  # the flaw: readiness does not look at Redis
        if ready != self.ready:
            log.info(
                "readiness -> %s (redis %s, adapter %s, draining %s)",
                ready,
                self.redis_ok,
                live,
                self.draining,
            )
        self.ready = ready
        self.metrics.ready.set(1 if ready else 0)
        return deaf_since

    async def _cut_off(self, reaches_redis: bool, now: float) -> None:
        """Shed this node's clients once it has been cut off from Redis for the grace."""
        grace = self.settings.cutoff_disconnect_s
        if reaches_redis or grace <= 0 or FLAW_READY_WHEN_CUT_OFF in self.settings.flaws:
            if self.handlers.cut_off:
                log.warning("Redis reachable again: taking clients")
            self.cut_since, self.handlers.cut_off = None, False
            return
        if self.cut_since is None:
            self.cut_since = now
        if not self.handlers.cut_off and now - self.cut_since >= grace:
            self.handlers.cut_off = True
            log.warning(
                "cut off from Redis for %.1fs: disconnecting %d clients (they reconnect "
                "elsewhere) and refusing new ones",
                now - self.cut_since,
                len(self.handlers.conns),
            )
            await self.handlers.disconnect_all()

    async def _load_script(self) -> None:
        try:
            await self.store.load_script()
        except Exception as exc:  # broad on purpose: EVALSHA reloads on NOSCRIPT anyway
            log.warning("loading send.lua failed: %s", exc)

    def begin_drain(self) -> None:
        """Readiness 503 and new connections refused, at once."""
        self.handlers.draining = True
        self.ready = False
        self.metrics.ready.set(0)

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
        for task in list(self.handlers.pending):
            task.cancel()
        await self.handlers.limits.close()
        await self.store.batcher.close()
        await self.manager.close_publisher()
        try:
            await self.store.redis.aclose()
            if self.store.reader is not self.store.redis:
                await self.store.reader.aclose()
        except Exception as exc:  # broad on purpose: closing at exit must not mask the exit
            log.debug("closing the store failed: %s", exc)

    # ---- ASGI entry -------------------------------------------------------------------
    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """While draining, refuse new Engine.IO sessions (no `sid`); existing ones go on.

        The listener itself stays open until the drain deadline so that health checks see
        /readyz 503 (not a refused connection) and long-polling sessions keep working.
        """
        if (
            self.draining
            and scope["type"] in ("http", "websocket")
            and scope.get("path", "").startswith("/socket.io")
            and b"sid=" not in scope.get("query_string", b"")
        ):
            if scope["type"] == "http":
                await respond(send, 503, b"node is draining\n")
            else:
                await send({"type": "websocket.close", "code": 1013})
            return
        await self.sio_app(scope, receive, send)

    # ---- plain HTTP -------------------------------------------------------------------
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        if path == "/healthz":
            await respond(send, 200, b"ok\n")
        elif path == "/readyz":
            ok = self.ready and not self.draining
            await respond(send, 200 if ok else 503, b"ready\n" if ok else b"not ready\n")
        elif path == "/metrics":
            await respond(send, 200, self.metrics.render(), CONTENT_TYPE_LATEST)
        else:
            await respond(send, 404, b"not found\n")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def frame_limit(settings: Settings) -> int:
    """Frames a connection may send per second: --max-frames-per-s, or twice what its event
    rate limit lets through in a second (rate + burst), if higher."""
    return max(settings.max_frames_per_s, int(2 * (settings.conn_rate + settings.conn_burst)))


def tag_sids(sio: socketio.AsyncServer, node_name: str) -> None:
    """Engine.IO session ids `<node name>.<random>` (see the module docstring); a name that
    is not `[A-Za-z0-9_-]{1,40}` gets untagged ids (and only cookie stickiness)."""
    if not SID_TAG_RE.fullmatch(node_name):
        log.warning("node name %r cannot tag session ids: no sid routing", node_name)
        return
    eio = sio.eio
    generate = eio.generate_id
    prefix = node_name + "."

    def generate_id() -> str:
        return prefix + str(generate())

    eio.generate_id = generate_id


async def respond(
    send: Send, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
