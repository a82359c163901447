"""The ``voice-node-floor`` flaw: floor control kept in each node's memory.

What a naive multi-node server does: each node grants the floor to the members it serves,
with its own token counter. Two nodes of one room then each have a holder (and hand out the
same tokens). Self-tests only: the voice_floor checker must catch it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reference_backend.errors import ProtoError
from reference_backend.voice.pushes import push_of, room_group

if TYPE_CHECKING:  # pragma: no cover - typing only
    from reference_backend.voice.handlers import Session, VoiceHandlers


@dataclass
class _Floor:
    holder: str | None = None
    hinc: int = 0
    token: int = 0
    queue: list[tuple[str, int, str]] = field(default_factory=list)
    fence: int = 0


class LocalFloors:
    """Per-node floors by (ws, room); pushes are versioned by the room's Redis ``ver``."""

    def __init__(self, voice: VoiceHandlers) -> None:
        self.voice = voice
        self.floors: dict[tuple[str, str], _Floor] = {}

    def _of(self, s: Session) -> _Floor:
        return self.floors.setdefault((s.ws, s.room), _Floor())

    async def _announce(
        self, s: Session, f: _Floor, reason: str, prev: dict[str, Any] | None = None
    ) -> None:
        ver = (await self.voice.store.run("bump", s.ws, s.room))["ver"]
        event: dict[str, Any] = {
            "type": "floor",
            "ver": ver,
            "state": "taken" if f.holder else "idle",
            "holder": f.holder,
            "hinc": f.hinc if f.holder else None,
            "token": f.token if f.holder else None,
            "queue": [[m, i, r] for m, i, r in f.queue],
            "reason": reason,
        }
        if prev:
            event["prev"] = prev
        name, body = push_of(s.room, event, self.voice.versioned)
        await self.voice.sio.emit(name, body, room=room_group(s.ws, s.room))

    def _grant_next(self, f: _Floor) -> bool:
        if not f.queue:
            f.holder = None
            return False
        f.holder, f.hinc, _ = f.queue.pop(0)
        f.fence += 1
        f.token = f.fence
        return True

    async def request(self, s: Session, req_id: str) -> dict[str, Any]:
        f = self._of(s)
        if f.holder == s.member and f.hinc == s.inc:
            return {"ok": True, "status": "granted", "token": f.token}
        f.queue.append((s.member, s.inc, req_id))
        if f.holder is None:
            self._grant_next(f)
            await self._announce(s, f, "granted")
            return {"ok": True, "status": "granted", "token": f.token}
        await self._announce(s, f, "queued")
        return {"ok": True, "status": "queued", "pos": len(f.queue)}

    async def release(self, s: Session, token: int) -> dict[str, Any]:
        f = self._of(s)
        if f.holder != s.member or f.token != token:
            raise ProtoError("stale_token", f"token {token} is not the current grant")
        prev = {"holder": f.holder, "hinc": f.hinc, "token": f.token, "why": "released"}
        granted = self._grant_next(f)
        await self._announce(s, f, "granted" if granted else "released", prev)
        return {"ok": True}

    async def cancel(self, s: Session, req_id: str) -> dict[str, Any]:
        f = self._of(s)
        before = len(f.queue)
        f.queue = [q for q in f.queue if not (q[0] == s.member and q[2] == req_id)]
        if len(f.queue) != before:
            await self._announce(s, f, "cancelled")
        return {"ok": True, "cancelled": len(f.queue) != before}

    async def gone(self, s: Session) -> None:
        """The session left this node: free its grant and its queue entries."""
        f = self.floors.get((s.ws, s.room))
        if f is None:
            return
        f.queue = [q for q in f.queue if q[0] != s.member]
        if f.holder == s.member and f.hinc == s.inc:
            prev = {"holder": f.holder, "hinc": f.hinc, "token": f.token, "why": "left"}
            granted = self._grant_next(f)
            await self._announce(s, f, "granted" if granted else "left", prev)

    def check_speaking(self, s: Session, token: int, fencing: bool) -> None:
        f = self._of(s)
        if fencing and (f.holder != s.member or f.hinc != s.inc or f.token != token):
            raise ProtoError("stale_token", f"token {token} is not the current grant")


__all__ = ["LocalFloors"]
