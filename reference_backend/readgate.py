"""Bounds on concurrent store reads (`join`, `sync`), so a burst of large reads by one
tenant cannot take every Redis connection and every read slot of a node from the others.

- per connection: at most `per_conn` reads in flight; one more is refused at once with
  `rate_limited` (the client waits for its own answers first);
- per workspace and per node: at most `per_ws` and `per_node` reads in flight; more wait
  in line (first come, first served) up to `wait_s`, then `unavailable`.

`per_node` stays below the store's Redis pool (`--redis-max-connections`), so the pool is
never the limit that bites, and one workspace can hold at most `per_ws` of the node's
slots: the others always find `per_node - per_ws` free.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from reference_backend.errors import ProtoError


class Reader(Protocol):
    """What the gate needs of a connection: its workspace and a counter of its reads."""

    reads: int

    @property
    def workspace(self) -> str: ...


@dataclass(slots=True)
class _Line:
    sem: asyncio.Semaphore
    users: int = 0


@dataclass
class ReadGate:
    """The gate of one node (see the module docstring)."""

    per_conn: int
    per_ws: int
    per_node: int
    wait_s: float = 5.0
    node: asyncio.Semaphore = field(init=False)
    lines: dict[str, _Line] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.node = asyncio.Semaphore(self.per_node)

    def slot(self, conn: Reader) -> _Slot:
        """`async with gate.slot(conn):` around one read."""
        return _Slot(self, conn)

    async def enter(self, conn: Reader) -> None:
        if conn.reads >= self.per_conn:
            raise ProtoError(
                "rate_limited",
                f"at most {self.per_conn} reads in flight per connection; wait for an answer",
            )
        ws = conn.workspace
        line = self.lines.get(ws)
        if line is None:
            line = self.lines[ws] = _Line(asyncio.Semaphore(self.per_ws))
        line.users += 1
        conn.reads += 1
        got_line = False
        try:
            async with asyncio.timeout(self.wait_s):
                await line.sem.acquire()
                got_line = True
                await self.node.acquire()
        except BaseException as exc:
            if got_line:
                line.sem.release()
            self._forget(ws, line)
            conn.reads -= 1
            if isinstance(exc, TimeoutError):
                raise ProtoError(
                    "unavailable", "reads are queued too long on this node; retry"
                ) from None
            raise

    def leave(self, conn: Reader) -> None:
        ws = conn.workspace
        line = self.lines[ws]
        self.node.release()
        line.sem.release()
        self._forget(ws, line)
        conn.reads -= 1

    def _forget(self, ws: str, line: _Line) -> None:
        line.users -= 1
        if line.users == 0:
            del self.lines[ws]


class _Slot:
    __slots__ = ("conn", "gate")

    def __init__(self, gate: ReadGate, conn: Reader) -> None:
        self.gate = gate
        self.conn = conn

    async def __aenter__(self) -> None:
        await self.gate.enter(self.conn)

    async def __aexit__(self, *exc: object) -> None:
        self.gate.leave(self.conn)
