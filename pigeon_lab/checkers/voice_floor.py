"""Voice invariant 6, floor exclusivity.

Every grant carries a fencing token, and the floor has at most one holder:

- one token names one holder session (two sessions granted the same token: two holders);
- tokens rise strictly with the room version of the push that granted them;
- a push that grants a new token while another was current must say it ended that one
  (``prev``): otherwise, for as long as the old holder's grant lasts, two members hold it;
- ``speaking`` is accepted only with the current token: a ``speak_ok`` whose token was never
  granted to that session, or whose grant had ended before the member sent it (its own
  release acknowledged, or any client told of the end, earlier), is a violation.
Sound because a grant's end is seen only after it was committed, so a speaking request sent
later reached a server whose floor had moved on.
"""

from __future__ import annotations

import itertools

import pandas as pd

from pigeon_lab.checkers._voice import NS, Row, no_voice, outcome, voice_of
from pigeon_lab.checkers._voice_floor import floors
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "voice_floor"


PROVES = (
    "One fencing token names one holder, tokens rise, no grant lands over a current one, and "
    "speaking is accepted only with the current token."
)
BLIND_SPOTS = (
    "speech the members did not claim",
    "floors of rooms nobody observed",
)


@register(NAME, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """At most one holder, rising tokens, speaking only with the current token."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    fl = floors(v)
    shared = []
    for room, grants in fl.grants.items():
        for g in grants.values():
            if len(g.sessions) > 1:
                shared.append(g)
                if len(examples) < k:
                    who = ", ".join(f"{m}@{i}" for m, i in sorted(g.sessions))
                    rows = [
                        r
                        for r in v.rows
                        if r.kind == "vfloor"
                        and r.d.get("token") == g.token
                        and (r.ws, r.room) == room
                    ][:6]
                    examples.append(
                        Counterexample(
                            f"{room[1]}: token {g.token} granted to {who}", v.rows_of(rows)
                        )
                    )
    falling = 0
    double = 0
    judged = 0
    for room, states in fl.states.items():
        by_ver = sorted(
            (g.ver, g.token, g) for g in fl.grants.get(room, {}).values() if g.ver is not None
        )
        for (_, t1, g1), (_, t2, g2) in itertools.pairwise(by_ver):
            if t2 <= t1:
                falling += 1
                if len(examples) < k:
                    rows = [x for x in (g1.seen_row, g2.seen_row) if x is not None]
                    examples.append(
                        Counterexample(
                            f"{room[1]}: token {t2} granted after token {t1}", v.rows_of(rows)
                        )
                    )
        for a, b in itertools.pairwise(states):
            if b.state != "taken" or b.token is None or a.state != "taken" or a.token == b.token:
                continue
            if not fl.contiguous(room, a.ver, b.ver):
                continue
            judged += 1
            if b.prev_token != a.token:
                double += 1
                if len(examples) < k:
                    examples.append(
                        Counterexample(
                            f"{room[1]} ver {b.ver}: {b.holder} granted token {b.token} while "
                            f"{a.holder} held token {a.token} (ver {a.ver}), with no end of it",
                            v.rows_of([a.row, b.row]),
                        )
                    )
    bad_speak: list[Row] = []
    speaks = 0
    for r in v.rows:
        if r.kind != "speak_ok" or r.seq is None or not r.d.get("on"):
            continue
        speaks += 1
        found = fl.grants.get((r.ws, r.room), {}).get(r.seq)
        sent = r.t - int((r.latency or 0) * 1e6)
        why = None
        if found is None or (r.client, r.inc) not in found.sessions:
            why = "a token never granted to this session"
        elif found.released_by_holder is not None and found.released_by_holder < sent:
            ago = (sent - found.released_by_holder) / NS
            why = f"its own release was acked {ago:.2f} s before"
        elif found.ended is not None and found.ended < sent:
            ago = (sent - found.ended) / NS
            why = f"the grant's end ({found.end_why}) was seen {ago:.2f} s before"
        if why:
            bad_speak.append(r)
            if len(examples) < k:
                extra = (
                    [x for x in (found.seen_row, found.end_row) if x is not None] if found else []
                )
                examples.append(
                    Counterexample(
                        f"{r.client}@{r.inc} was allowed to speak with token {r.seq}: {why}",
                        v.rows_of([r, *extra]),
                    )
                )
    violations = len(shared) + falling + double + len(bad_speak)
    ngrants = sum(len(x) for x in fl.grants.values())
    counts = {
        "grants": ngrants,
        "handovers_judged": judged,
        "shared_tokens": len(shared),
        "falling_tokens": falling,
        "two_holders": double,
        "speaking_accepted": speaks,
        "speaking_without_the_floor": len(bad_speak),
    }
    if violations:
        summary = (
            f"{len(shared)} tokens with two holders, {double} grants over a current one, "
            f"{falling} falling tokens, {len(bad_speak)} speaking without the floor"
        )
    else:
        summary = (
            f"{ngrants} grants with rising tokens, one holder at a time; {speaks} speaking "
            "acks each with the current token"
        )
    undecided = not ngrants
    return Verdict(NAME, outcome(violations, undecided, ctx.complete), summary, counts, examples)
