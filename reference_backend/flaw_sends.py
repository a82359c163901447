"""The send paths of two old deliberate flaws, kept out of the handlers' own code.

`local-seq` (a node-local seq counter), `ready-when-cut-off` (the node's guess of the
last seq) and `ack-before-persist` (ack and push first, persist later or never). Mixed
into `Handlers`, which owns the attributes declared here.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from reference_backend import flaws, validation
from reference_backend.errors import ProtoError
from reference_backend.metrics import Metrics
from reference_backend.store import Store

log = logging.getLogger("reference_backend.handlers")

Ack = dict[str, Any]


class FlawedSends:
    """The flawed send paths (see the module docstring)."""

    store: Store
    metrics: Metrics
    local_seqs: dict[tuple[str, str], int]
    pending: set[asyncio.Task[None]]
    flaw_local_seq: bool
    _broadcast: Callable[..., Awaitable[None]]

    def _seen_seq(self, ws: str, channel: str, seq: int) -> None:
        """Flaw ready-when-cut-off: the last seq this node committed (its local guess)."""
        key = (ws, channel)
        self.local_seqs[key] = max(self.local_seqs.get(key, 0), seq)

    def _local_seq(self, ws: str, channel: str) -> int:
        """Flaw local-seq: a per-node counter; two nodes hand out the same seqs."""
        key = (ws, channel)
        n = self.local_seqs.get(key, 0) + 1
        self.local_seqs[key] = n
        return n

    async def _send_ack_early(
        self, req: validation.SendReq, ws: str, sender: str, room: str, msg_id: str, ts: int
    ) -> Ack:
        """Flaw ack-before-persist: take a seq, ack and push, persist later or never."""
        if self.flaw_local_seq:
            seq = self._local_seq(ws, req.channel)
        else:
            seq = await self.store.incr(ws, req.channel)
        task = asyncio.get_running_loop().create_task(
            self._persist_late(req, ws, sender, msg_id, ts, seq)
        )
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        await self._broadcast(
            room, req.channel, seq, msg_id, req.client_msg_id, sender, req.body, ts, ws
        )
        return {"ok": True, "seq": seq, "id": msg_id, "ts": ts, "duplicate": False}

    async def _persist_late(
        self, req: validation.SendReq, ws: str, sender: str, msg_id: str, ts: int, seq: int
    ) -> None:
        await asyncio.sleep(flaws.PERSIST_DELAY_S)
        if random.random() < flaws.DROP_FRACTION:
            self.metrics.flaw_drops.inc()
            return
        try:
            await self.store.send(
                ws,
                req.channel,
                req.client_msg_id,
                sender,
                req.body,
                msg_id=msg_id,
                ts=ts,
                forced_seq=seq,
                dedupe=False,
            )
        except ProtoError as exc:  # out-of-order id or Redis down: the acked write is lost
            self.metrics.flaw_drops.inc()
            log.debug("ack-before-persist lost seq %d: %s", seq, exc.message)


__all__ = ["FlawedSends"]
