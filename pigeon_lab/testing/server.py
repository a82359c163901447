"""A simulated correct Pigeon server for the model of a correct run (``sim.py``).

In memory and transport-free: per-channel logs with dense seqs, dedupe on
(workspace, channel, client_msg_id), rooms per channel, acks shaped as
docs/protocol.md says, optional retention. It stores every message through the
``HistoryBuilder`` so that the builder's final log is exactly what it holds.
``handle`` answers one request and returns the ack plus the live pushes the
send fans out (the simulation decides what the network does with them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pigeon_lab.history.recorder import body_hash
from pigeon_lab.testing.builder import HistoryBuilder

MAX_BODY = 4096
Message = dict[str, Any]


@dataclass
class SimServer:
    """The server's state; connections are ids with an identity (client, user, workspace)."""

    builder: HistoryBuilder
    retention: int | None = None
    limit: int = 500
    logs: dict[tuple[str, str], list[Message]] = field(default_factory=lambda: defaultdict(list))
    dedupe: dict[tuple[str, str, str], Message] = field(default_factory=dict)
    rooms: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    conns: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # id -> client, user, ws

    def connect(self, conn: int, client: str, user: str, ws: str) -> None:
        self.conns[conn] = (client, user, ws)

    def drop(self, conn: int) -> None:
        """The connection is gone: it leaves every room."""
        self.conns.pop(conn, None)
        for members in self.rooms.values():
            members.discard(conn)

    def members(self, ws: str, channel: str) -> set[int]:
        return set(self.rooms[(ws, channel)])

    def handle(
        self, conn: int, event: str, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[int, Message]]]:
        """The ack of one request, and the pushes (member connection, message) it causes."""
        if conn not in self.conns:
            return _err("unauthorized"), []
        _client, user, ws = self.conns[conn]
        channel = str(payload.get("channel"))
        key = (ws, channel)
        if event == "join":
            self.rooms[key].add(conn)  # enter the room before reading, as the backend does
            if payload.get("after_seq") is None:
                head = len(self.logs[key])
                return {
                    "ok": True,
                    "channel": channel,
                    "head_seq": head,
                    "messages": [],
                    "more": False,
                    "truncated": False,
                    "node": None,
                }, []
            return {"channel": channel, "node": None, **self._read(key, payload)}, []
        if event == "sync":
            return self._read(key, payload), []
        if event == "leave":
            self.rooms[key].discard(conn)
            return {"ok": True}, []
        if event != "send":
            return _err("bad_request"), []
        if conn not in self.rooms[key]:
            return _err("not_member"), []
        body = str(payload["body"])
        if len(body) > MAX_BODY:
            return _err("too_large"), []
        cmid = str(payload["client_msg_id"])
        old = self.dedupe.get((ws, channel, cmid))
        if old is not None:
            return {
                "ok": True,
                "seq": old["seq"],
                "id": old["id"],
                "ts": old["ts"],
                "duplicate": True,
            }, []
        seq = len(self.logs[key]) + 1
        m = self.builder.commit(ws, channel, seq, cmid, user, body_hash(body))
        msg: Message = {
            "channel": channel,
            "seq": seq,
            "id": m.msg_id,
            "client_msg_id": cmid,
            "sender": user,
            "body": body,
            "ts": m.ts,
        }
        self.logs[key].append(msg)
        self.dedupe[(ws, channel, cmid)] = msg
        pushes = [(c, msg) for c in sorted(self.rooms[key])]
        ack = {"ok": True, "seq": seq, "id": msg["id"], "ts": msg["ts"], "duplicate": False}
        return ack, pushes

    def _read(self, key: tuple[str, str], payload: dict[str, Any]) -> dict[str, Any]:
        log = self.logs[key]
        after = int(payload.get("after_seq") or 0)
        limit = min(int(payload.get("limit") or self.limit), 1000)
        oldest = 1 if self.retention is None else max(1, len(log) - self.retention + 1)
        start = max(after, oldest - 1)
        page = log[start : start + limit]
        return {
            "ok": True,
            "head_seq": len(log),
            "messages": [dict(m) for m in page],
            "more": start + limit < len(log),
            "truncated": after < oldest - 1,
        }

    def evicted(self) -> dict[tuple[str, str], int]:
        """Per channel, the highest seq that fell out of retention (0: none)."""
        if self.retention is None:
            return {}
        return {k: max(0, len(v) - self.retention) for k, v in self.logs.items()}


def _err(code: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": code}}
