"""`python -m reference_backend`: serve one node with uvicorn on uvloop, drain on SIGTERM.

Drain: readiness 503 and new Engine.IO sessions refused (HTTP 503) at once; after
`--drain-s` (or as soon as no client is left) the listening socket is closed and the remaining
clients are disconnected (they reconnect through the load balancer); exit 0.
A second SIGTERM/SIGINT skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from types import FrameType

import uvicorn
import uvloop

from reference_backend.app import Node
from reference_backend.flaws import warn_flaws
from reference_backend.logs import QuietClientErrors
from reference_backend.settings import Settings, parse_settings

log = logging.getLogger("reference_backend")


class DrainingServer(uvicorn.Server):
    """uvicorn with the protocol's drain instead of its immediate graceful shutdown."""

    def __init__(self, config: uvicorn.Config, node: Node) -> None:
        super().__init__(config)
        self.node = node
        self.drain_task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded in _captured_signals: uvicorn would re-raise it and exit non-zero.
        if self.drain_task is not None or self.loop is None:
            self.should_exit = True
            return
        self.loop.call_soon_threadsafe(self._start_drain, sig)

    def _start_drain(self, sig: int) -> None:
        if self.drain_task is None:
            self.drain_task = asyncio.get_running_loop().create_task(self._drain(sig))

    async def _drain(self, sig: int) -> None:
        drain_s = self.node.settings.drain_s
        log.warning("%s: draining for %.1fs", signal.Signals(sig).name, drain_s)
        self.node.begin_drain()
        deadline = asyncio.get_running_loop().time() + drain_s
        while not self.should_exit and asyncio.get_running_loop().time() < deadline:
            if not self.node.handlers.conns:
                break  # every client has moved already
            await asyncio.sleep(0.05)
        for server in getattr(self, "servers", []):
            server.close()  # stop accepting; open connections stay until disconnected
        await self.node.handlers.disconnect_all()
        log.warning("drained, exiting")
        self.should_exit = True


async def serve(settings: Settings) -> None:
    node = Node(settings)
    config = uvicorn.Config(
        node.asgi,
        host=settings.host,
        port=settings.port,
        http="httptools",
        ws="websockets-sansio",
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,
        access_log=False,
        log_level="debug" if settings.log_level == "debug" else "warning",
        ws_ping_interval=None,  # Engine.IO has its own heartbeat
        ws_max_size=2 * 1024 * 1024,
        ws_per_message_deflate=False,  # zlib per frame costs more CPU than loopback saves
        timeout_graceful_shutdown=2,
        backlog=4096,
    )
    server = DrainingServer(config, node)
    server.loop = asyncio.get_running_loop()
    await node.start()
    try:
        await server.serve()
    finally:
        await node.close()


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s {settings.node_name} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("uvicorn.error").addFilter(QuietClientErrors())
    warn_flaws(settings.flaws, log)
    log.info(
        "starting %s on %s:%d, redis %s, durability %s",
        settings.node_name,
        settings.host,
        settings.port,
        settings.redis_url.split("@")[-1],
        settings.durability,
    )
    uvloop.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
