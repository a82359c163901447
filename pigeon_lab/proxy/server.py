"""The fault proxy server: the proxies and their HTTP API on one uvloop event loop.

`ProxyServer` can be embedded in any running asyncio loop (`start`/`stop`);
`run` is the process entry (`python -m pigeon_lab.proxy`, `pigeon-lab proxy`):
it loads the config file (the same array as `/populate`) before the API
answers, so a ready check on `/version` means the proxies are there, and on
SIGTERM or SIGINT it closes the API, every listener and every connection.

Unlike Toxiproxy, a config file that cannot be read or applied stops the
server with a message naming the file: a fault proxy without its proxies
would let faults go nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import random
import resource
import signal
import socket
from pathlib import Path

import uvloop
from aiohttp import web

from pigeon_lab.errors import ConfigError, EnvironmentProblem
from pigeon_lab.proxy import gojson
from pigeon_lab.proxy.api import make_app
from pigeon_lab.proxy.collection import ProxyCollection
from pigeon_lab.proxy.gojson import ApiError
from pigeon_lab.proxy.listener import Proxy
from pigeon_lab.proxy.model import parse_populate

log = logging.getLogger("pigeon_lab.proxy")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8474


class ProxyServer:
    """Proxies and the API that drives them, in the running event loop."""

    def __init__(
        self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, seed: int | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.collection = ProxyCollection(random.Random(seed))
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Serve the API (port 0 picks a free port; `port` then holds it)."""
        runner = web.AppRunner(
            make_app(self.collection), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        try:
            sock = socket.create_server((self.host, self.port))  # SO_REUSEADDR, like Go
        except OSError as exc:
            raise EnvironmentProblem(
                f"fault proxy: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self.port = int(sock.getsockname()[1])
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        log.info("fault proxy API on %s", self.url)

    async def populate_file(self, path: Path) -> list[Proxy]:
        """Create the proxies listed in a JSON config file (the `/populate` array)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read it: {exc.strerror or exc}", source=str(path)) from exc
        try:
            configs = parse_populate(gojson.decode_body(raw))
        except ApiError as exc:
            raise ConfigError(exc.message, source=str(path)) from exc
        done, error = await self.collection.populate(configs)
        if error is not None:
            raise ConfigError(f"cannot create the proxies: {error.message}", source=str(path))
        log.info("populated %d proxies from %s", len(done), path)
        return done

    async def stop(self) -> None:
        """Close every proxy (listeners and connections), then the API."""
        await self.collection.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: Path | None = None,
    seed: int | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then close everything."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    server = ProxyServer(host, port, seed=seed)
    try:
        if config is not None:
            await server.populate_file(config)
        await server.start()
        await stopping.wait()
        log.info("stopping: closing every proxy and connection")
    finally:
        await server.stop()


def raise_fd_limit() -> None:
    """A proxy holds two sockets per connection: take the hard limit on open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d: %s", soft, exc)


def run(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: Path | None = None,
    seed: int | None = None,
) -> None:
    """The process entry: uvloop, the fd limit, and `serve` until a signal."""
    raise_fd_limit()
    uvloop.run(serve(host, port, config, seed))
