"""Voice rooms, v1 (docs/protocol.md): a versioned extension of the Pigeon protocol.

``install(node)`` is the one hook into a node: it registers the voice events on the node's
Socket.IO server (through the chat handlers' ``_answer``: identity, rate limits, error acks,
metrics), chains its leave-on-disconnect after the chat disconnect handler, and starts the
presence loops (lease refresh; the reaper on every node). Room state lives in Redis only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from reference_backend import flaws
from reference_backend.metrics import _Latency
from reference_backend.store import connect
from reference_backend.voice import presence
from reference_backend.voice.handlers import EVENTS, VoiceHandlers
from reference_backend.voice.settings import VoiceSettings, from_env
from reference_backend.voice.store import VoiceStore

if TYPE_CHECKING:  # pragma: no cover - typing only
    from reference_backend.app import Node


def _count_events(node: Node) -> None:
    """The node's metrics count events by name: add the voice ones."""
    stats = node.metrics.stats
    for name in EVENTS:
        stats.events.setdefault(name, 0)
        stats.acks.setdefault((name, "ok"), 0)
        stats.latency.setdefault(name, _Latency())


def install(node: Node, settings: VoiceSettings | None = None) -> VoiceHandlers:
    """Add voice rooms to ``node`` (see the module docstring); returns the voice handlers."""
    s = node.settings
    store = VoiceStore(
        connect(
            s.redis_url,
            command_timeout_s=max(2.0, s.wait_timeout_ms / 1000 + 1.5),
            auth=node.redis_auth,  # the node's ACL user (pigeon_lab/cluster/redis_acl.py)
            address_map=s.address_map,  # through this node's own fault proxies
        ),
        replicated=s.durability == "replicated",
        wait_replicas=s.wait_replicas,
        wait_timeout_ms=s.wait_timeout_ms,
    )
    voice = VoiceHandlers(node.handlers, store, settings or from_env())
    voice.register()
    _count_events(node)
    chat_disconnect = node.sio.handlers["/"]["disconnect"]
    conns = node.handlers.conns

    async def on_disconnect(sid: str, *args: Any) -> Any:
        was_connected = sid in conns
        result = await chat_disconnect(sid, *args)
        if was_connected and sid not in conns:
            await voice.disconnected(sid)
        return result

    node.sio.on("disconnect", on_disconnect)
    reaper = flaws.VOICE_LEAVE_ON_DISCONNECT not in s.flaws
    started: list[asyncio.Task[None]] = []

    def start() -> None:
        if not started:
            started.extend(presence.start(voice, reaper=reaper))
            node.handlers.pending.update(started)  # cancelled by Node.close

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop yet: start with the first connection
        chat_connect = node.sio.handlers["/"]["connect"]

        async def on_connect(sid: str, *args: Any) -> Any:
            start()
            return await chat_connect(sid, *args)

        node.sio.on("connect", on_connect)
    else:
        start()
    return voice


__all__ = ["VoiceHandlers", "VoiceSettings", "install"]
