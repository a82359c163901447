"""Voice invariant 1, roster convergence.

At quiescence (``settle_s`` after the load stopped) every member that still held a session
recorded its roster (``vview``) and then asked the server for the room (``vsync_ok`` with
``final``). Sound because nothing changes a room then: every view of a room must be the
same, each must equal the server's snapshot, and the server may list only sessions whose
clients are still in them (an observer, or one lost less than the lease bound before). Once
everyone has disconnected, the read-back must find every room empty with the floor free.
Undecidable (``unknown``): no view was recorded, or the read-back is missing.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from pigeon_lab.checkers._voice import (
    NS,
    RKey,
    Row,
    SKey,
    Voice,
    no_voice,
    outcome,
    readback,
    voice_of,
)
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "voice_roster"


def _members(d: dict[str, object]) -> frozenset[tuple[str, int]]:
    raw = d.get("members")
    if not isinstance(raw, list):
        return frozenset()
    return frozenset((str(m), int(i)) for m, i in raw if isinstance(i, int))


def _show(ms: frozenset[tuple[str, int]]) -> str:
    return ", ".join(f"{m}@{i}" for m, i in sorted(ms)) or "(empty)"


PROVES = (
    "At quiescence every member's view of a room equals every other's and the server's, and the"
    " server lists no session whose client left."
)
BLIND_SPOTS = (
    "views taken before quiescence (only the final one is judged)",
    "members the load did not run",
)


@register(NAME, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Every view of a room equals every other and the server's; no ghost at the end."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    views: dict[RKey, list[Row]] = defaultdict(list)
    finals: dict[SKey, Row] = {}
    for r in v.rows:
        if r.kind == "vview" and r.session is not None:
            views[(r.ws, r.room)].append(r)
        elif r.kind == "vsync_ok" and r.d.get("final") and r.session and not r.error:
            finals.setdefault(r.session, r)
    divergent = mismatched = ghosts = 0
    for room, rows in sorted(views.items()):
        seen = {_members(r.d) for r in rows}
        if len(seen) > 1:
            divergent += 1
            if len(examples) < k:
                examples.append(
                    Counterexample(
                        f"{room[0]}/{room[1]}: {len(seen)} different rosters at quiescence: "
                        + " | ".join(_show(s) for s in sorted(seen, key=len)),
                        v.rows_of(rows),
                    )
                )
        observers = {r.session for r in rows if r.session is not None}
        for r in rows:
            final = finals.get(r.session) if r.session else None
            if final is None:
                continue
            server = _members(final.d)
            if server != _members(r.d):
                mismatched += 1
                if len(examples) < k:
                    examples.append(
                        Counterexample(
                            f"{r.client}@{r.inc} in {room[1]} sees {_show(_members(r.d))}, the "
                            f"server says {_show(server)}",
                            v.rows_of([r, final]),
                        )
                    )
            for m, inc in server:
                key = (room[0], room[1], m, inc)
                if key not in observers and _ghost(v, key, final.t):
                    ghosts += 1
                    if len(examples) < k:
                        examples.append(
                            Counterexample(
                                f"{m}@{inc} is still listed in {room[1]} at quiescence, but its "
                                f"client left it {_ago(v, key, final.t)}",
                                v.rows_of([final]),
                            )
                        )
    leftovers, unread = _readback(v, ctx, examples, k)
    violations = divergent + mismatched + ghosts + leftovers
    undecided = not views or unread
    counts = {
        "rooms": len(views),
        "views": sum(len(x) for x in views.values()),
        "server_snapshots": len(finals),
        "divergent_rooms": divergent,
        "view_server_mismatch": mismatched,
        "ghosts_at_quiescence": ghosts,
        "left_after_the_end": leftovers,
        "violations": violations,
    }
    if violations:
        summary = (
            f"{divergent} rooms with divergent rosters, {mismatched} views unlike the server's, "
            f"{ghosts} ghosts at quiescence, {leftovers} members left after the end"
        )
    elif not views:
        summary = "no member recorded its view at quiescence"
    elif unread:
        summary = "views agree with the server, but the final read-back is missing or incomplete"
    else:
        summary = (
            f"{counts['views']} views in {len(views)} rooms agree with the server; "
            "every room empty at the end"
        )
    return Verdict(NAME, outcome(violations, undecided, ctx.complete), summary, counts, examples)


def _ghost(v: Voice, key: SKey, at: int) -> bool:
    """Listed at ``at`` though its client was out of it for longer than the bound."""
    s = v.spans.get(key)
    if s is None or s.end is None:
        return False
    return at - (s.dead or s.end) > v.bound_ns


def _ago(v: Voice, key: SKey, at: int) -> str:
    s = v.spans.get(key)
    if s is None or s.end is None:
        return "(unknown)"
    return f"{(at - s.end) / NS:.1f} s before ({s.how}; bound {v.bound_ns / NS:.1f} s)"


def _readback(
    v: Voice, ctx: CheckContext, examples: list[Counterexample], k: int
) -> tuple[int, bool]:
    rb = readback(ctx)
    if rb is None or rb.empty:
        return 0, True
    leftovers = 0
    for rec in rb.to_dict("records"):
        if not rec.get("complete"):
            return leftovers, True
        members = str(rec.get("members") or "")
        holder = rec.get("holder")
        if members or (isinstance(holder, str) and holder):
            leftovers += 1
            if len(examples) < k:
                examples.append(
                    Counterexample(
                        f"{rec['workspace']}/{rec['room']} after everyone left: members "
                        f"[{members}], floor holder {holder}",
                        [{str(k2): x for k2, x in rec.items() if x is not None and x == x}],
                    )
                )
    return leftovers, False
