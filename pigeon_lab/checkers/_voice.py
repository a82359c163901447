"""The voice rows of a history, prepared once for every voice checker.

Voice rows (``pigeon_lab.history.voice``) are few next to chat's, so they are read into
plain Python structures: each row's ``detail`` parsed once, and each *session* (a member's
incarnation in a room: ``(workspace, room, member, inc)``) with its span, how it ended and
the roster its client saw over time. Cached by the identity of the history and context,
like ``_prep``.

When a session is over: at ``vleave_ok`` or ``vend`` (left, kicked, gone, vanished,
removed, switched), else when its socket was lost and it never resumed (``lost``). When
the server should count it dead: its end, or, when it was lost, the start of a kill or
pause of its node just before (the node died first; the client noticed later).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pigeon_lab.checkers._prep import records
from pigeon_lab.checkers.base import CheckContext, Outcome, Verdict
from pigeon_lab.checkers.metrics import Metrics
from pigeon_lab.history.voice import VOICE_KINDS, VoiceKind, parse_detail

SKey = tuple[str, str, str, int]
"""A session: (workspace, room, member, inc)."""
RKey = tuple[str, str]
"""A room: (workspace, room)."""

NS = 1_000_000_000
NODE_FAULTS = frozenset({"kill", "pause", "restart", "drain", "kill-floor-holder"})
"""Fault kinds that stop a node serving its sockets."""
NOTICE_NS = 10 * NS  # a client notices a frozen node within its ping timeout
SLACK_S = 1.0  # pushes, scheduling and a busy machine, on top of the server's own bounds
DEFAULT_LEASE_S = 15.0
DEFAULT_REAP_S = 1.0
DEFAULT_TALK_S = 60.0
_K = VoiceKind


@dataclass
class Row:
    """One voice row, with its detail parsed."""

    i: int  # position in the history frame (for counterexamples)
    t: int
    kind: str
    client: str
    ws: str
    room: str
    node: str | None
    seq: int | None
    cmid: str | None
    sender: str | None
    latency: float | None
    error: str | None
    d: dict[str, Any]
    attempt: int | None = None

    @property
    def inc(self) -> int | None:
        v = self.d.get("inc")
        return v if isinstance(v, int) else None

    @property
    def link(self) -> int | None:
        v = self.d.get("link")
        return v if isinstance(v, int) else None

    @property
    def session(self) -> SKey | None:
        inc = self.inc
        return None if inc is None else (self.ws, self.room, self.client, inc)


@dataclass
class Span:
    """One session from its first ``vjoin_ok`` to its end."""

    key: SKey
    start: int
    end: int | None = None  # None: live until the end of the history
    how: str = "live"
    nodes: list[str] = field(default_factory=list)
    dead: int | None = None
    last_lost: int | None = None  # its socket's last loss (a resume may follow)
    last_join: int = 0  # its last vjoin_ok (first or resumed)

    @property
    def died(self) -> bool:
        """Over without leaving: its socket was lost or closed and never resumed (the
        server leaves it on disconnect, or reaps it when its node died)."""
        return self.how in ("lost", "closed")


@dataclass
class Voice:
    """Everything the voice checkers share (see the module docstring)."""

    frame: pd.DataFrame
    rows: list[Row]
    spans: dict[SKey, Span]
    views: dict[SKey, list[tuple[int, frozenset[tuple[str, int]]]]]
    lease_s: float
    reap_s: float
    max_talk_s: float
    t_end: int
    ctx: CheckContext
    origin: int = 0  # the whole history's first row (the report's time origin)

    @property
    def active(self) -> bool:
        return bool(self.spans)

    @property
    def bound_ns(self) -> int:
        """How long after it died a session may still be listed: lease + reap + slack."""
        return int((self.lease_s + self.reap_s + SLACK_S) * NS)

    def of(self, *kinds: str) -> list[Row]:
        wanted = set(kinds)
        return [r for r in self.rows if r.kind in wanted]

    def view_at(self, observer: SKey, t: int) -> frozenset[tuple[str, int]] | None:
        """The members (member, inc) ``observer`` had applied at ``t`` (None before any)."""
        timeline = self.views.get(observer)
        if not timeline:
            return None
        j = bisect.bisect_right([x[0] for x in timeline], t) - 1
        return timeline[j][1] if j >= 0 else None

    def live(self, key: SKey, t0: int, t1: int) -> bool:
        """Whether session ``key`` was live over all of [t0, t1]."""
        s = self.spans.get(key)
        return s is not None and s.start <= t0 and (s.end is None or s.end >= t1)

    def observing(self, key: SKey, t0: int, t1: int) -> bool:
        """Whether session ``key`` was live over [t0, t1] on a node that no kill or pause
        froze meanwhile (a frozen observer sees nothing; it is not a witness)."""
        s = self.spans.get(key)
        if s is None or not self.live(key, t0, t1):
            return False
        return not any(
            f.kind in NODE_FAULTS
            and f.target in s.nodes
            and f.start_t <= t1
            and (f.end_t is None or f.end_t >= t0)
            for f in self.ctx.faults
        )

    def rows_of(self, picked: list[Row], limit: int = 12) -> list[dict[str, Any]]:
        """Counterexample rows (history rows as dicts)."""
        if not picked:
            return []
        return records(self.frame.iloc[[r.i for r in picked[:limit]]])


def _int(v: Any) -> int | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _s(v: Any) -> str | None:
    """A string cell, None for null (None, NaN, NA)."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return str(v)


def _rows(history: pd.DataFrame) -> tuple[pd.DataFrame, list[Row]]:
    if history.empty or "kind" not in history:
        return history, []
    frame = history[history["kind"].isin(VOICE_KINDS).to_numpy()]
    frame = frame.sort_values("t", kind="stable").reset_index(drop=True)
    out = []
    names = (
        "t",
        "kind",
        "client",
        "workspace",
        "channel",
        "node",
        "seq",
        "client_msg_id",
        "sender",
        "latency_ms",
        "error",
        "detail",
        "attempt",
    )
    cols: dict[str, list[Any]] = {
        c: frame[c].tolist() if c in frame else [None] * len(frame) for c in names
    }
    for i in range(len(frame)):
        lat = cols["latency_ms"][i]
        out.append(
            Row(
                i,
                _int(cols["t"][i]) or 0,
                str(cols["kind"][i]),
                str(cols["client"][i]),
                str(cols["workspace"][i] or ""),
                str(cols["channel"][i] or ""),
                _s(cols["node"][i]),
                _int(cols["seq"][i]),
                _s(cols["client_msg_id"][i]),
                _s(cols["sender"][i]),
                None if lat is None or lat != lat else float(lat),
                _s(cols["error"][i]),
                parse_detail(cols["detail"][i]),
                _int(cols["attempt"][i]),
            )
        )
    return frame, out


def _spans(rows: list[Row], ctx: CheckContext) -> dict[SKey, Span]:
    spans: dict[SKey, Span] = {}
    link_session: dict[tuple[str, int], SKey] = {}  # (client, link) -> the session it holds
    for r in rows:
        key = r.session
        if r.kind == _K.JOIN_OK and key is not None:
            s = spans.get(key)
            if s is None:
                s = spans[key] = Span(key, r.t)
            elif s.end is not None and s.how in ("lost", "closed"):  # resumed after all
                s.end, s.how = None, "live"
            s.last_join = r.t
            if r.node and r.node not in s.nodes:
                s.nodes.append(r.node)
            if r.link is not None:
                link_session[(r.client, r.link)] = key
        elif r.kind in (_K.LEAVE_OK, _K.END) and key is not None and key in spans:
            s = spans[key]
            if s.end is None:  # after a loss, the end (gone, vanished) only confirms it
                s.end = r.t
                s.how = "left" if r.kind == _K.LEAVE_OK else str(r.error or "ended")
        elif r.kind == _K.DISCONNECT and r.link is not None:
            held = link_session.pop((r.client, r.link), None)
            s = spans.get(held) if held is not None else None
            if s is not None and s.end is None:
                s.how = "closed" if r.error == "client disconnect" else "lost"
                s.end, s.last_lost = r.t, r.t
    for s in spans.values():
        if s.died and s.end is not None:
            s.dead = _death(s, ctx)
    return spans


def _death(s: Span, ctx: CheckContext) -> int:
    """When the server side of a lost session died: a kill or pause of the node it was on
    that began after its last (re)join and was still on (or just over) when the client
    noticed, else the client's loss. A session its client closed died when it closed."""
    assert s.end is not None
    if s.how != "lost":
        return s.end
    starts = [
        f.start_t
        for f in ctx.faults
        if f.kind in NODE_FAULTS
        and (not s.nodes or f.target == s.nodes[-1])
        and s.last_join <= f.start_t <= s.end
        and (f.end_t is None or f.end_t + NOTICE_NS >= s.end)
    ]
    return min(starts, default=s.end)


def _views(rows: list[Row]) -> dict[SKey, list[tuple[int, frozenset[tuple[str, int]]]]]:
    views: dict[SKey, list[tuple[int, frozenset[tuple[str, int]]]]] = defaultdict(list)
    current: dict[SKey, dict[str, int]] = {}
    for r in rows:
        key = r.session
        if r.kind != _K.APPLY or key is None:
            continue
        op = r.d.get("op")
        if op == "snapshot":
            members = r.d.get("members") or []
            current[key] = {str(m): int(i) for m, i in members if isinstance(i, int)}
        elif op in ("join", "leave", "expire"):
            cur = current.setdefault(key, {})
            m, minc = str(r.d.get("m")), r.d.get("minc")
            if op == "join" and isinstance(minc, int):
                cur[m] = minc
            elif cur.get(m) == minc:
                del cur[m]
        else:
            continue
        views[key].append((r.t, frozenset(current[key].items())))
    return dict(views)


def _bounds(rows: list[Row]) -> tuple[float, float, float]:
    lease: list[float] = []
    reap: list[float] = []
    talk: list[float] = []
    for r in rows:
        if r.kind == _K.JOIN_OK:
            for name, acc in (("lease_s", lease), ("reap_s", reap), ("max_talk_s", talk)):
                v = r.d.get(name)
                if isinstance(v, (int, float)):
                    acc.append(float(v))
    return (
        max(lease, default=DEFAULT_LEASE_S),
        max(reap, default=DEFAULT_REAP_S),
        max(talk, default=DEFAULT_TALK_S),
    )


_LAST: list[tuple[int, int, Voice]] = []


def voice_of(history: pd.DataFrame, ctx: CheckContext) -> Voice:
    """The prepared voice rows of ``history`` (cached for the last history/context pair)."""
    if _LAST and _LAST[0][0] == id(history) and _LAST[0][1] == id(ctx):
        return _LAST[0][2]
    frame, rows = _rows(history)
    lease, reap, talk = _bounds(rows)
    v = Voice(
        frame,
        rows,
        _spans(rows, ctx),
        _views(rows),
        lease,
        reap,
        talk,
        rows[-1].t if rows else 0,
        ctx,
        int(history["t"].min()) if len(history) and "t" in history else 0,
    )
    _LAST[:] = [(id(history), id(ctx), v)]
    return v


def no_voice(name: str, metrics: Metrics | None = None) -> Verdict:
    """What a voice checker says about a history without voice activity."""
    return Verdict(
        name,
        Outcome.UNKNOWN,
        "nothing to judge: no voice session in the history",
        metrics=metrics.to_dict() if metrics is not None else {},
    )


def outcome(violations: int, undecided: bool, complete: bool) -> Outcome:
    if violations:
        return Outcome.FAIL
    return Outcome.UNKNOWN if undecided or not complete else Outcome.PASS


def readback(ctx: CheckContext) -> pd.DataFrame | None:
    """The voice read-back (``voice_rooms.parquet``), or None."""
    return ctx.tables.get("voice_rooms.parquet")


__all__ = [
    "NODE_FAULTS",
    "NS",
    "SLACK_S",
    "RKey",
    "Row",
    "SKey",
    "Span",
    "Voice",
    "no_voice",
    "outcome",
    "readback",
    "voice_of",
]
