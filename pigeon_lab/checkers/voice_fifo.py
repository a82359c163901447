"""Voice invariant 7, FIFO grants.

Judged on consecutive floor states of a room (consecutive as far as the floor goes: every
version between them was seen): a request is queued at the end (``queued``: the queue is the
old one plus the requester); a grant from the queue (``granted``) goes to its head and leaves
the rest in order; a cancel or a leave only takes someone out; the floor never falls idle
while requests wait. A chair's grant (``chair``) may pick anyone and is listed, not judged.
"""

from __future__ import annotations

import itertools

import pandas as pd

from pigeon_lab.checkers._voice import no_voice, outcome, voice_of
from pigeon_lab.checkers._voice_floor import State, floors
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "voice_floor_fifo"


def problem(a: State, b: State) -> str | None:
    """Why state ``b`` cannot follow ``a`` under FIFO (None: it can)."""
    q, nq = a.queue, b.queue
    if b.reason == "queued":
        if nq[: len(q)] != q or len(nq) != len(q) + 1:
            return f"queued: the queue went from {q} to {nq} (a request goes to the end)"
        return None
    if b.reason == "chair":
        return None
    if b.reason == "granted":
        if q and (b.holder != q[0] or nq != q[1:]):
            return f"granted to {b.holder}, but the head of the queue was {q[0]} ({q} -> {nq})"
        return None
    # cancelled, left, released, revoked, expired, lease, superseded: no one is granted
    if b.state == "idle" and nq:
        return f"floor idle ({b.reason}) while {nq} wait"
    if b.state == "taken" and (b.holder, b.token) != (a.holder, a.token):
        return f"{b.reason} handed the floor from {a.holder} to {b.holder} without a grant"
    if any(x not in q for x in nq):
        return f"{b.reason}: the queue gained members ({q} -> {nq})"
    return None


PROVES = (
    "Floor requests are granted from the head of the queue, and the floor is never idle while "
    "someone waits (chair grants apart)."
)
BLIND_SPOTS = (
    "requests the members did not record",
    "fairness between rooms",
)


@register(NAME, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Requests are queued at the end and granted from the head; the floor is never idle
    while someone waits; chair grants are listed."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    fl = floors(v)
    judged = chair = bad = skipped = 0
    for room, states in fl.states.items():
        for a, b in itertools.pairwise(states):
            if not fl.contiguous(room, a.ver, b.ver):
                skipped += 1
                continue
            judged += 1
            chair += b.reason == "chair"
            why = problem(a, b)
            if why:
                bad += 1
                if len(examples) < k:
                    examples.append(
                        Counterexample(
                            f"{room[1]} ver {a.ver} -> {b.ver}: {why}", v.rows_of([a.row, b.row])
                        )
                    )
    counts = {
        "transitions": judged,
        "not_judged": skipped,
        "chair_grants": chair,
        "violations": bad,
    }
    if bad:
        summary = f"{bad} of {judged} floor changes break FIFO"
    else:
        summary = f"{judged} floor changes in FIFO order ({chair} chair grants listed)"
    return Verdict(NAME, outcome(bad, not judged, ctx.complete), summary, counts, examples)
