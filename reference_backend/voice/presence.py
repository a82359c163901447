"""Presence by leases: the node holding a socket renews its sessions; every node reaps.

``refresh`` (every ``refresh_s``): one ``touch`` per room for this node's sessions; a session
the script no longer knows (reaped while this node was paused, or replaced by a newer join)
is forgotten here and its socket told ``vkicked`` (reason ``expired``), so the client joins
again instead of believing it is still in the room.
``reap`` (every ``reap_s``, on every node, jittered): each room with members runs ``reap``:
expired leases leave (op ``expire``), an overdue grant ends (``expired``), and the node that
did it pushes the changes. Scripts are atomic, so concurrent reapers do each change once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from reference_backend.errors import ProtoError
from reference_backend.voice.store import as_list

if TYPE_CHECKING:  # pragma: no cover - typing only
    from reference_backend.voice.handlers import Session, VoiceHandlers

log = logging.getLogger("reference_backend.voice.presence")


async def refresh_once(voice: VoiceHandlers) -> int:
    """Renew the leases of this node's sessions; returns how many were stale."""
    by_room: dict[tuple[str, str], list[tuple[str, Session]]] = defaultdict(list)
    for sid, sessions in list(voice.sessions.items()):
        for s in sessions.values():
            by_room[(s.ws, s.room)].append((sid, s))
    stale_count = 0
    for (ws, room), held in by_room.items():
        pairs: list[object] = []
        for _, s in held:
            pairs += [s.member, s.inc]
        reply = await voice.store.run("touch", ws, room, voice.v.lease_ms, *pairs)
        stale = {
            (str(p[0]), int(p[1])): int(p[2])
            for p in as_list(reply.get("stale"))
            if isinstance(p, list) and len(p) == 3
        }
        for sid, s in held:
            current = stale.get((s.member, s.inc))
            if current is None or voice.sessions.get(sid, {}).get((s.ws, s.room)) is not s:
                continue  # renewed, or this socket left or joined again meanwhile
            stale_count += 1
            voice.forget(sid, s)
            why = "superseded" if current else "expired"
            await voice.sio.emit("vkicked", {"room": room, "inc": s.inc, "reason": why}, to=sid)
            await voice.leave_groups(sid, s)
    return stale_count


async def reap_once(voice: VoiceHandlers) -> int:
    """Reap every room once; returns how many changes this node made."""
    changes = 0
    for ws, room in await voice.store.rooms():
        reply = await voice.store.run("reap", ws, room, voice.v.max_talk_ms)
        if reply.events:
            changes += len(reply.events)
            await voice.push(ws, room, reply.events)
    return changes


async def _forever(name: str, period_s: float, step: Callable[[], Awaitable[object]]) -> None:
    rng = random.Random()
    await asyncio.sleep(rng.uniform(0, period_s))
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except ProtoError as exc:  # Redis away: try again next round
            log.debug("%s: %s", name, exc.message)
        except Exception:  # one bad round must not end presence on this node
            log.exception("%s failed", name)
        await asyncio.sleep(period_s * rng.uniform(0.9, 1.1))


def start(voice: VoiceHandlers, *, reaper: bool = True) -> list[asyncio.Task[None]]:
    """Start the refresh loop and (unless the leave-on-disconnect flaw) the reaper."""
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(_forever("refresh", voice.v.refresh_s, lambda: refresh_once(voice)))]
    if reaper:
        tasks.append(loop.create_task(_forever("reap", voice.v.reap_s, lambda: reap_once(voice))))
    return tasks


__all__ = ["reap_once", "refresh_once", "start"]
