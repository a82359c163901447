"""The floor of each room as the clients saw it: its states in version order, and its grants.

Built from every observation: ``vfloor`` pushes (a state at a version, with the grant it
ended), the floor in snapshots (``vjoin_ok``, ``vsync_ok``), granted ``floor_req_ok`` and
chair grants, and the holders' own ``floor_rel_ok``. A grant is one fencing token; when it
was first seen and when its end was first seen (by anyone) are what the floor checkers judge.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pigeon_lab.checkers._voice import RKey, Row, Voice


@dataclass
class State:
    """The floor after one change (a ``vfloor`` push), at version ``ver``."""

    ver: int
    state: str
    holder: str | None
    hinc: int | None
    token: int | None
    queue: list[str]
    reason: str
    prev_token: int | None
    prev_why: str | None
    row: Row


@dataclass
class Grant:
    """One token: who holds it, when it was first seen, when its end was first seen."""

    room: RKey
    token: int
    holders: set[tuple[str, int | None]] = field(default_factory=set)
    seen: int = 0
    seen_row: Row | None = None
    ver: int | None = None  # the version of the push that granted it
    ended: int | None = None
    end_why: str | None = None
    end_row: Row | None = None
    released_by_holder: int | None = None  # the holder's floor_rel_ok

    def see(self, r: Row, holder: tuple[str, int | None] | None) -> None:
        if holder is not None and holder[0]:
            if holder[1] is None and any(h[0] == holder[0] for h in self.holders):
                pass  # a chair grant names the member, not its session
            else:
                self.holders.add(holder)
        if self.seen_row is None or r.t < self.seen:
            self.seen, self.seen_row = r.t, r

    def end(self, r: Row, why: str | None) -> None:
        if self.ended is None or r.t < self.ended:
            self.ended, self.end_why, self.end_row = r.t, why, r

    @property
    def sessions(self) -> set[tuple[str, int]]:
        return {(m, i) for m, i in self.holders if i is not None}


@dataclass
class Floors:
    states: dict[RKey, list[State]]
    grants: dict[RKey, dict[int, Grant]]
    known_vers: dict[RKey, set[int]]

    def contiguous(self, room: RKey, a: int, b: int) -> bool:
        """Whether every version strictly between ``a`` and ``b`` was seen (so ``b``'s push
        follows ``a``'s directly as far as the floor goes)."""
        known = self.known_vers.get(room, set())
        return all(x in known for x in range(a + 1, b))


def _int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def floors(v: Voice) -> Floors:
    """The floors of every room of ``v`` (see the module docstring)."""
    by_ver: dict[RKey, dict[int, State]] = defaultdict(dict)
    grants: dict[RKey, dict[int, Grant]] = defaultdict(dict)
    known: dict[RKey, set[int]] = defaultdict(set)

    def grant(room: RKey, token: int) -> Grant:
        g = grants[room].get(token)
        if g is None:
            g = grants[room][token] = Grant(room, token)
        return g

    for r in v.rows:
        room = (r.ws, r.room)
        d = r.d
        if r.kind == "vroster" and r.seq is not None:
            known[room].add(r.seq)
        elif r.kind == "vfloor":
            token, prev = _int(d.get("token")), d.get("prev")
            if r.seq is not None:
                known[room].add(r.seq)
            p = prev if isinstance(prev, dict) else {}
            st = State(
                r.seq if r.seq is not None else -1, str(d.get("state")), d.get("holder"),
                _int(d.get("hinc")), token, [str(q) for q in d.get("queue") or []],
                str(d.get("reason")), _int(p.get("token")), p.get("why"), r,
            )  # fmt: skip
            if r.seq is not None:
                by_ver[room].setdefault(r.seq, st)
            if st.prev_token is not None:
                grant(room, st.prev_token).end(r, st.prev_why)
            if st.state == "taken" and token is not None:
                g = grant(room, token)
                g.see(r, (str(st.holder), st.hinc))
                if r.seq is not None and (g.ver is None or r.seq < g.ver):
                    g.ver = r.seq
        elif r.kind in ("vjoin_ok", "vsync_ok") and isinstance(d.get("floor"), dict):
            f = d["floor"]
            token = _int(f.get("token"))
            if f.get("state") == "taken" and token is not None:
                grant(room, token).see(r, (str(f.get("holder")), _int(f.get("hinc"))))
        elif r.kind == "floor_req_ok" and r.seq is not None and d.get("status") == "granted":
            grant(room, r.seq).see(r, (r.client, r.inc))
        elif r.kind == "floor_chair_ok" and r.seq is not None and d.get("op") == "grant":
            grant(room, r.seq).see(r, (str(d.get("target")), None))
        elif r.kind == "floor_rel_ok" and r.seq is not None:
            g = grant(room, r.seq)
            g.end(r, "released")
            if g.released_by_holder is None:
                g.released_by_holder = r.t
    states = {room: [s for _, s in sorted(vs.items())] for room, vs in by_ver.items()}
    # a later grant, or an idle floor, ends every earlier grant that was still current
    for room, seq in states.items():
        for st in seq:
            for g in grants[room].values():
                if g.ver is not None and g.ver < st.ver and st.token != g.token:
                    g.end(st.row, g.end_why or "superseded")
    return Floors(states, dict(grants), dict(known))


__all__ = ["Floors", "Grant", "State", "floors"]
