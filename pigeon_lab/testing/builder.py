"""HistoryBuilder: build histories that read like what clients saw, row by row.

    b = HistoryBuilder()
    b.connect("c1", "alice", "acme")
    b.join("c1", "general", head_seq=0)
    b.send("c1", "general", "m1", seq=1)
    b.recv("c1", "general", 1)
    b.deliver("c1", "general", 1)
    history, ctx = b.build()          # the final log defaults to every committed message

Each event advances a fake clock by 1 ms (``tick`` moves it further). Messages
are remembered by (workspace, channel, seq) so that ``recv``/``deliver``/``sync``
fill in msg_id, client_msg_id, sender and body_hash unless overridden, which
is how tests inject a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pigeon_lab.checkers.base import CheckContext, FaultWindow
from pigeon_lab.history.schema import HISTORY_COLUMNS, HISTORY_SCHEMA

__all__ = ["HistoryBuilder"]

_UNSET: Any = object()
_STRING_COLUMNS = tuple(f.name for f in HISTORY_SCHEMA if f.type == "string")


@dataclass
class _Msg:
    msg_id: str
    cmid: str
    sender: str
    body_hash: str
    ts: int


@dataclass
class HistoryBuilder:
    """Append events as a client would record them; ``build`` gives (history, context)."""

    t0_ns: int = 1_000_000_000
    step_ns: int = 1_000_000
    rows: list[dict[str, Any]] = field(default_factory=list)
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)
    nodes: dict[str, str | None] = field(default_factory=dict)
    messages: dict[tuple[str, str, int], _Msg] = field(default_factory=dict)
    readbacks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    final_rows: list[dict[str, Any]] | None = None
    dropped: set[tuple[str, str, int]] = field(default_factory=set)
    now: int = 0

    def __post_init__(self) -> None:
        self.now = self.t0_ns

    # clock and raw rows
    def tick(self, ms: float) -> HistoryBuilder:
        self.now += int(ms * 1e6)
        return self

    def at(self, t_ns: int) -> HistoryBuilder:
        """Put the next row at ``t_ns`` (or one step after the last row, if that is later)."""
        self.now = max(self.now, t_ns - self.step_ns)
        return self

    def row(self, kind: str, client: str, **fields: Any) -> HistoryBuilder:
        """Append one raw row (for shapes the helpers do not cover)."""
        self.now += self.step_ns
        user, ws = self.clients.get(client, (None, None))
        r: dict[str, Any] = {
            "t": self.now,
            "wall": self.now + 1_700_000_000_000_000_000,
            "client": client,
            "user": user,
            "workspace": ws,
            "node": self.nodes.get(client),
            "kind": kind,
        }
        r.update(fields)
        self.rows.append(r)
        return self

    def _ws(self, client: str) -> str:
        return self.clients[client][1]

    # connections
    def connect(
        self, client: str, user: str, ws: str, node: str | None = "node-1"
    ) -> HistoryBuilder:
        self.clients[client] = (user, ws)
        self.nodes[client] = node
        return self.row("connect", client)

    def disconnect(self, client: str, error: str | None = "transport close") -> HistoryBuilder:
        return self.row("disconnect", client, error=error)

    def join(
        self,
        client: str,
        channel: str,
        head_seq: int = 0,
        after_seq: int | None = None,
        ok: bool = True,
        truncated: bool = False,
    ) -> HistoryBuilder:
        """A join (its ``seq`` = after_seq) and its ack (``join_ok`` seq = head_seq; ``detail``
        "truncated" when the ack said some requested messages fell out of retention)."""
        self.row("join", client, channel=channel, seq=after_seq)
        if ok:
            detail = "truncated" if truncated else None
            return self.row("join_ok", client, channel=channel, seq=head_seq, detail=detail)
        return self.row("join_fail", client, channel=channel, error="unavailable")

    def leave(self, client: str, channel: str) -> HistoryBuilder:
        return self.row("leave", client, channel=channel)

    # messages
    def commit(
        self, ws: str, channel: str, seq: int, cmid: str, sender: str, body_hash: str | None = None
    ) -> _Msg:
        """Record that the server stored a message (the final log will hold it)."""
        m = _Msg(
            msg_id=f"id-{ws}-{channel}-{seq}-{cmid}",
            cmid=cmid,
            sender=sender,
            body_hash=body_hash or f"h-{cmid}",
            ts=(self.now + 1_700_000_000_000_000_000) // 1_000_000,
        )
        self.messages[(ws, channel, seq)] = m
        return m

    def send(
        self,
        client: str,
        channel: str,
        cmid: str,
        seq: int | None = None,
        ok: bool | None = True,
        attempt: int = 1,
        latency_ms: float = 5.0,
        commit: bool = True,
        error: str | None = None,
        **over: Any,
    ) -> HistoryBuilder:
        """``send_invoke`` and its outcome: ``ok=True`` send_ok, False send_fail, None send_info.

        With ``seq`` and ``commit`` the message is stored at ``seq`` (also for info). ``error``
        is the failure's code (default ``forbidden`` for a fail, ``timeout`` for an info).
        """
        user, ws = self.clients[client]
        self.row(
            "send_invoke",
            client,
            channel=channel,
            client_msg_id=cmid,
            attempt=attempt,
            body_hash=f"h-{cmid}",
        )
        m = None
        if seq is not None and commit and ok is not False:
            m = self.messages.get((ws, channel, seq)) or self.commit(ws, channel, seq, cmid, user)
        if ok is True:
            fields = {
                "channel": channel,
                "client_msg_id": cmid,
                "seq": seq,
                "attempt": attempt,
                "latency_ms": latency_ms,
                "msg_id": m.msg_id if m else None,
                "body_hash": f"h-{cmid}",
            }
            fields.update(over)
            return self.row("send_ok", client, **fields)
        if ok is False:
            return self.row(
                "send_fail",
                client,
                channel=channel,
                client_msg_id=cmid,
                attempt=attempt,
                error=error or "forbidden",
            )
        return self.row(
            "send_info",
            client,
            channel=channel,
            client_msg_id=cmid,
            attempt=attempt,
            error=error or "timeout",
        )

    def _msg_row(
        self, kind: str, client: str, channel: str, seq: int, over: dict[str, Any]
    ) -> HistoryBuilder:
        ws = self._ws(client)
        m = self.messages.get((ws, channel, seq))
        fields: dict[str, Any] = {"channel": channel, "seq": seq}
        if m is not None:
            fields.update(
                msg_id=m.msg_id,
                client_msg_id=m.cmid,
                sender=m.sender,
                body_hash=m.body_hash,
                sent_wall=m.ts,
                msg_workspace=ws,
            )
        fields.update(over)
        return self.row(kind, client, **fields)

    def recv(self, client: str, channel: str, seq: int, **over: Any) -> HistoryBuilder:
        """A live ``message`` push as the client received it."""
        return self._msg_row("recv", client, channel, seq, over)

    def deliver(self, client: str, channel: str, seq: int, **over: Any) -> HistoryBuilder:
        return self._msg_row("deliver", client, channel, seq, over)

    def sync(
        self,
        client: str,
        channel: str,
        seqs: list[int] | range,
        deliver: bool = True,
        **over: Any,
    ) -> HistoryBuilder:
        """Messages returned by a sync (``sync_ok`` rows, fields overridden by ``over``), each
        then delivered if asked."""
        for s in seqs:
            self._msg_row("sync_ok", client, channel, s, over)
            if deliver:
                self.deliver(client, channel, s)
        return self

    def adversarial(
        self, client: str, what: str = "forged_token", error: str | None = "unauthorized"
    ) -> HistoryBuilder:
        return self.row("adversarial", client, error=error, body_hash=what)

    # the read-back
    def final_log(self, rows: list[dict[str, Any]]) -> HistoryBuilder:
        """Replace the final log with explicit rows (FINAL_LOG_SCHEMA dicts)."""
        self.final_rows = list(rows)
        return self

    def drop_from_final(self, ws: str, channel: str, seq: int) -> HistoryBuilder:
        self.dropped.add((ws, channel, seq))
        return self

    def readback(
        self,
        ws: str,
        channel: str,
        complete: bool = True,
        truncated: bool = False,
        head_seq: int | None = None,
    ) -> HistoryBuilder:
        self.readbacks[(ws, channel)] = {
            "complete": complete,
            "truncated": truncated,
            "head_seq": head_seq,
        }
        return self

    def history(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=list(HISTORY_COLUMNS))
        for c in ("seq", "sent_wall"):
            df[c] = df[c].astype("Int64")
        df["attempt"] = df["attempt"].astype("Int32")
        df["latency_ms"] = df["latency_ms"].astype("float64")
        df["kind"] = df["kind"].astype("category")
        for c in _STRING_COLUMNS:  # a column with no value at all must still take strings
            if not (pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object):
                df[c] = df[c].astype(object)
        return df

    def final(self) -> pd.DataFrame:
        if self.final_rows is not None:
            rows = self.final_rows
        else:
            rows = [
                {
                    "workspace": ws,
                    "channel": ch,
                    "seq": s,
                    "msg_id": m.msg_id,
                    "client_msg_id": m.cmid,
                    "sender": m.sender,
                    "body_hash": m.body_hash,
                    "ts": m.ts,
                }
                for (ws, ch, s), m in sorted(self.messages.items())
                if (ws, ch, s) not in self.dropped
            ]
        cols = [
            "workspace",
            "channel",
            "seq",
            "msg_id",
            "client_msg_id",
            "sender",
            "body_hash",
            "ts",
        ]
        df = pd.DataFrame(rows, columns=cols)
        df["seq"] = df["seq"].astype("int64")
        return df

    def build(
        self,
        final: bool = True,
        complete: bool = True,
        faults: tuple[FaultWindow, ...] = (),
        **ctx: Any,
    ) -> tuple[pd.DataFrame, CheckContext]:
        """The history and a context (final log and read-back unless ``final=False``)."""
        fl = self.final() if final else None
        rb = None
        if final:
            chans = {(ws, ch) for (ws, ch, _s) in self.messages} | set(self.readbacks)
            chans |= {
                (r["workspace"], r["channel"])
                for r in self.rows
                if r.get("channel") and r.get("workspace")
            }
            recs = []
            for ws, ch in sorted(chans):
                heads = [s for (w, c, s) in self.messages if (w, c) == (ws, ch)]
                o = self.readbacks.get((ws, ch), {})
                recs.append(
                    {
                        "workspace": ws,
                        "channel": ch,
                        "head_seq": o.get("head_seq")
                        if o.get("head_seq") is not None
                        else max(heads, default=0),
                        "complete": o.get("complete", True),
                        "truncated": o.get("truncated", False),
                        "error": None,
                    }
                )
            rb = pd.DataFrame(
                recs, columns=["workspace", "channel", "head_seq", "complete", "truncated", "error"]
            )
        return self.history(), CheckContext(
            final_log=fl, readback=rb, faults=faults, complete=complete, **ctx
        )
