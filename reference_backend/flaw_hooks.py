"""The behaviour of the deliberate flaws added for issue 8 (see ``flaws.py`` for their names).

Each flaw breaks one guarantee of protocol.md in a way the reference client algorithm
cannot repair, so that one checker must fail (``pigeon-lab selftest``). The handlers call
these hooks only when one of these flaws is on (``make`` returns None otherwise), so a
correct node runs none of this code:

``pushes``        what one broadcast really emits: a forged body, a leak into another
                  workspace's room, nothing (the fan-out died), or the message as is
``after_send``    a phantom message appended after a real one
``history``       a page of a history read: stale (a lagging replica) or missing one message
                  on a resuming join (claimed to have fallen out of retention)
``leaves_room``   whether a ``leave`` really leaves the Socket.IO room
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reference_backend import flaws
from reference_backend.ids import new_id
from reference_backend.store import Page

if TYPE_CHECKING:  # pragma: no cover - typing only
    from reference_backend.handlers import Handlers

Message = dict[str, Any]

PHANTOM_EVERY = 8  # phantom-message: one phantom after every 8th send of a node
PHANTOM_SENDER = "intruder"  # a user of no workspace
FORGE_EVERY = 5  # forged-push: one push in 5 carries another body than the stored one
LEAK_EVERY = 10  # leak-one-push: one push in 10 also goes to another workspace's room
TAIL_AFTER_S = 2.0  # drop-tail-push: a room's pushes stop this long after its first one
STALE_LAG_MS = 10_000  # stale-sync: history reads miss what was written in the last 10 s


class FlawHooks:
    """Per-node state of the flaws of this module; ``h`` is the node's ``Handlers``."""

    def __init__(self, on: frozenset[str], h: Handlers) -> None:
        self.h = h
        self.phantom = flaws.PHANTOM_MESSAGE in on
        self.forge = flaws.FORGED_PUSH in on
        self.tail = flaws.DROP_TAIL_PUSH in on
        self.stale = flaws.STALE_SYNC in on
        self.leak = flaws.LEAK_ONE_PUSH in on
        self.ghost = flaws.GHOST_MEMBER in on
        self.lost = flaws.LOST_ON_RECONNECT in on
        self.sends = 0
        self.pushed = 0
        self.first_push: dict[str, float] = {}

    # ----- pushes -----
    def pushes(self, room: str, message: Message) -> Iterable[tuple[str, Message]]:
        """The (room, message) emits one broadcast of ``message`` to ``room`` becomes."""
        self.pushed += 1
        if self.tail:
            first = self.first_push.setdefault(room, time.monotonic())
            if time.monotonic() - first > TAIL_AFTER_S:
                return ()
        out = [(room, message)]
        if self.forge and self.pushed % FORGE_EVERY == 0:
            body = str(message["body"])
            out = [(room, {**message, "body": body[:-1] + ("y" if body[-1:] != "y" else "z")})]
        if self.leak and self.pushed % LEAK_EVERY == 0:
            other = self._foreign_room(room)
            if other is not None:
                out.append((other, message))
        return out

    def _foreign_room(self, room: str) -> str | None:
        """The same channel's room in another workspace that has a client on this node."""
        parts = room.split(":")  # ws:<ws>:ch:<channel>
        if len(parts) != 4:
            return None
        ws, channel = parts[1], parts[3]
        others = sorted({c.identity.workspace for c in self.h.conns.values()} - {ws})
        return self.h.room(others[0], channel) if others else None

    # ----- sends -----
    async def after_send(self, ws: str, channel: str, room: str) -> None:
        """phantom-message: after every PHANTOM_EVERY-th send, store and push a message no
        client sent, with the next seq and a sender who is no user of the workspace."""
        self.sends += 1
        if not (self.phantom and self.sends % PHANTOM_EVERY == 0):
            return
        cmid, msg_id, ts = str(uuid.uuid4()), new_id(), int(time.time() * 1000)
        body = f"{time.time_ns()}|phantom"
        c = await self.h.store.send(ws, channel, cmid, PHANTOM_SENDER, body, msg_id=msg_id, ts=ts)
        await self.h._broadcast(room, channel, c.seq, c.id, cmid, PHANTOM_SENDER, body, c.ts, ws)

    # ----- history reads -----
    def history(self, page: Page, after_seq: int, *, join: bool) -> Page:
        """stale-sync: a read as a replica STALE_LAG_MS behind would answer it.
        lost-on-reconnect: a resuming join drops the first message it owes and says the
        rest is truncated (retention), so the client does not look for it."""
        if self.stale:
            cutoff = int(time.time() * 1000) - STALE_LAG_MS
            kept: list[Message] = []
            for m in page.messages:
                if int(m["ts"]) > cutoff:
                    break
                kept.append(m)
            if len(kept) < len(page.messages) or not page.messages:
                head = int(kept[-1]["seq"]) if kept else after_seq
                page = Page(min(page.head_seq, head), kept, False, page.truncated)
        msgs = page.messages
        resuming = join and after_seq > 0 and len(msgs) >= 2  # a client back after a reconnect
        if self.lost and resuming and int(msgs[0]["seq"]) == after_seq + 1:
            page = replace(page, messages=msgs[1:], truncated=True)
        return page


def make(on: frozenset[str], h: Handlers) -> FlawHooks | None:
    """The hooks of a node, or None when none of this module's flaws is on."""
    return FlawHooks(on, h) if on & flaws.HOOK_FLAWS else None
