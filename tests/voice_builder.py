"""Voice histories for the checkers' tests: the rows a voice member records, built by hand.

``VoiceHistory`` writes exactly the shapes of ``pigeon_lab.history.voice`` (the member's
rows), so a test states a run in a few lines and then breaks one thing. ``correct_room()``
is a small, complete and correct run: three members join one room, negotiate, take turns on
the floor, one leaves and one's node dies, the rest record their final views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pigeon_lab.checkers.base import CheckContext, FaultWindow
from pigeon_lab.history.schema import HISTORY_COLUMNS
from pigeon_lab.history.voice import detail

NS = 1_000_000_000
WS, ROOM = "ws0", "vr0"


@dataclass
class VoiceHistory:
    """A voice history under construction; ``t`` is the clock in seconds."""

    lease_s: float = 3.0
    reap_s: float = 0.5
    max_talk_s: float = 4.0
    t: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    ver: int = 0

    def at(self, t: float) -> VoiceHistory:
        self.t = t
        return self

    def row(self, kind: str, client: str, inc: int | None, link: int = 1, **kw: Any) -> None:
        d = kw.pop("d", {})
        self.t += 0.001
        self.rows.append(
            {
                "t": int(self.t * NS),
                "wall": int(self.t * NS),
                "client": client,
                "user": client,
                "workspace": kw.pop("ws", WS),
                "node": kw.pop("node", "node-1"),
                "kind": kind,
                "channel": kw.pop("room", ROOM),
                "detail": detail(inc=inc, link=link, **d),
                **kw,
            }
        )

    # ----- sessions -----
    def join(
        self,
        m: str,
        inc: int,
        members: dict[str, int],
        *,
        link: int = 1,
        resumed: bool = False,
        node: str = "node-1",
        floor: dict[str, Any] | None = None,
        ws: str = WS,
    ) -> None:
        self.row("vjoin", m, inc, link, ws=ws, d={"role": "speaker"})
        self.row(
            "vjoin_ok",
            m,
            inc,
            link,
            ws=ws,
            seq=self.ver,
            node=node,
            latency_ms=20.0,
            d={
                "resumed": resumed or None,
                "role": "speaker",
                "members": sorted([k, i] for k, i in members.items()),
                "floor": floor or {"state": "idle"},
                "lease_s": self.lease_s,
                "reap_s": self.reap_s,
                "max_talk_s": self.max_talk_s,
            },
        )
        self.row(
            "vapply",
            m,
            inc,
            link,
            ws=ws,
            seq=self.ver,
            node=node,
            d={"op": "snapshot", "members": sorted(members.items())},
        )

    def roster(
        self,
        observer: str,
        obs_inc: int,
        ver: int | None,
        op: str,
        m: str,
        minc: int,
        link: int = 1,
        apply: bool = True,
    ) -> None:
        self.row(
            "vroster",
            observer,
            obs_inc,
            link,
            seq=ver,
            latency_ms=3.0,
            d={"op": op, "m": m, "minc": minc},
        )
        if apply:
            self.row("vapply", observer, obs_inc, link, seq=ver, d={"op": op, "m": m, "minc": minc})

    def floor(
        self,
        observer: str,
        obs_inc: int,
        ver: int,
        state: str,
        holder: str | None = None,
        hinc: int | None = None,
        token: int | None = None,
        queue: list[str] | None = None,
        reason: str = "granted",
        prev: dict[str, Any] | None = None,
        link: int = 1,
    ) -> None:
        self.row(
            "vfloor",
            observer,
            obs_inc,
            link,
            seq=ver,
            d={
                "state": state,
                "holder": holder,
                "hinc": hinc,
                "token": token,
                "queue": queue or [],
                "reason": reason,
                "prev": prev,
            },
        )
        self.row("vapply", observer, obs_inc, link, seq=ver, d={"op": "floor"})

    def leave(self, m: str, inc: int, ver: int, link: int = 1) -> None:
        self.row("vleave_ok", m, inc, link, seq=ver)
        self.row("vend", m, inc, link, error="left")

    def lost(self, m: str, inc: int, link: int = 1, why: str = "transport error") -> None:
        self.row("vdisconnect", m, inc, link, error=why)

    def final(self, m: str, inc: int, members: dict[str, int], link: int = 1) -> None:
        ms = sorted([k, i] for k, i in members.items())
        self.row("vview", m, inc, link, seq=self.ver, d={"members": ms})
        self.row(
            "vsync_ok",
            m,
            inc,
            link,
            seq=self.ver,
            d={"members": ms, "floor": {"state": "idle"}, "final": True},
        )

    # ----- signals -----
    def signal(
        self,
        sender: str,
        s_inc: int,
        to: str,
        to_inc: int,
        sig_id: str,
        kind: str,
        neg: int,
        pc: str,
        mseq: int,
        *,
        got_by: tuple[str, int] | None = None,
        deliver: bool = True,
        attempt: int = 1,
    ) -> None:
        d = {"to": to, "to_inc": to_inc, "pc": pc, "neg": neg, "k": kind}
        self.row("sig_invoke", sender, s_inc, client_msg_id=sig_id, attempt=attempt, d=d)
        self.row(
            "sig_ok",
            sender,
            s_inc,
            client_msg_id=sig_id,
            seq=mseq,
            attempt=attempt,
            latency_ms=5.0,
            d=d,
        )
        who, inc = got_by or (to, to_inc)
        got = {**d, "from_inc": s_inc, "via": "push"}
        self.row(
            "sig_recv",
            who,
            inc,
            client_msg_id=sig_id,
            seq=mseq,
            sender=sender,
            latency_ms=4.0,
            d=got,
        )
        if deliver:
            self.row(
                "sig_deliver",
                who,
                inc,
                client_msg_id=sig_id,
                seq=mseq,
                sender=sender,
                d={**got, "via": "mailbox"},
            )

    # ----- floor operations -----
    def granted(self, m: str, inc: int, token: int) -> None:
        self.row(
            "floor_req_ok",
            m,
            inc,
            seq=token,
            latency_ms=5.0,
            d={"req": f"r{token}", "status": "granted"},
        )

    def speak(self, m: str, inc: int, token: int, *, ok: bool = True, probe: bool = False) -> None:
        self.row(
            "speak_ok" if ok else "speak_fail",
            m,
            inc,
            seq=token,
            latency_ms=2.0,
            error=None if ok else "stale_token",
            d={"on": True, "probe": probe or None},
        )

    def release(self, m: str, inc: int, token: int) -> None:
        self.row("floor_rel_ok", m, inc, seq=token, latency_ms=3.0)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        for c in HISTORY_COLUMNS:
            if c not in df:
                df[c] = None
        return df[list(HISTORY_COLUMNS)]


def context(
    faults: tuple[FaultWindow, ...] = (), readback: pd.DataFrame | None = None, **kw: Any
) -> CheckContext:
    tables = {} if readback is None else {"voice_rooms.parquet": readback}
    return CheckContext(final_log=None, faults=faults, tables=tables, **kw)


def empty_rooms(*rooms: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "workspace": WS,
                "room": r,
                "ver": 9,
                "members": "",
                "holder": None,
                "holder_inc": None,
                "token": None,
                "queue": "",
                "complete": True,
                "error": None,
            }
            for r in rooms or (ROOM,)
        ]
    )


def correct_room() -> VoiceHistory:
    """Three members (a, b, c) in one room: joins, a negotiation, two turns on the floor, b
    leaves, c's node dies (c is reaped within the lease), a and b... a records its view."""
    h = VoiceHistory()
    h.ver = 1
    h.join("a", 1, {"a": 1})
    h.ver = 2
    h.join("b", 1, {"a": 1, "b": 1})
    h.roster("a", 1, 2, "join", "b", 1)
    h.ver = 3
    h.join("c", 1, {"a": 1, "b": 1, "c": 1}, node="node-2")
    h.roster("a", 1, 3, "join", "c", 1)
    h.roster("b", 1, 3, "join", "c", 1)
    pc = "a.1~b.1"
    h.signal("b", 1, "a", 1, "s1", "offer", 1, pc, 1)
    h.signal("b", 1, "a", 1, "s2", "candidate", 1, pc, 2)
    h.signal("a", 1, "b", 1, "s3", "answer", 1, pc, 1)
    h.signal("a", 1, "b", 1, "s4", "candidate", 1, pc, 2)
    h.at(1.0)
    h.granted("a", 1, 1000)
    for who in ("a", "b", "c"):
        h.floor(who, 1, 4, "taken", "a", 1, 1000)
    h.speak("a", 1, 1000)
    h.at(1.5)
    for who in ("a", "b", "c"):
        h.floor(who, 1, 5, "taken", "a", 1, 1000, queue=["b"], reason="queued")
    h.at(2.0)
    h.release("a", 1, 1000)
    for who in ("a", "b", "c"):
        h.floor(
            who,
            1,
            6,
            "taken",
            "b",
            1,
            1001,
            reason="granted",
            prev={"holder": "a", "hinc": 1, "token": 1000, "why": "released"},
        )
    h.speak("a", 1, 1000, ok=False, probe=True)
    h.speak("b", 1, 1001)
    h.at(3.0)
    h.release("b", 1, 1001)
    for who in ("a", "b", "c"):
        h.floor(
            who,
            1,
            7,
            "idle",
            reason="released",
            prev={"holder": "b", "hinc": 1, "token": 1001, "why": "released"},
        )
    h.at(4.0)
    h.lost("c", 1)  # c's node is killed: its lease runs out, a reaper removes it
    h.at(6.0)
    for who in ("a", "b"):
        h.roster(who, 1, 8, "expire", "c", 1)
    h.at(8.0)
    h.leave("b", 1, 9)
    h.roster("a", 1, 9, "leave", "b", 1)
    h.at(14.0)
    h.ver = 9
    h.final("a", 1, {"a": 1})
    return h


__all__ = ["ROOM", "WS", "VoiceHistory", "context", "correct_room", "empty_rooms"]
