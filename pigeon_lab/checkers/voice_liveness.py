"""Voice invariant 8, floor liveness.

When the holder's session ends (it left, was superseded, or died with its node or device),
its grant must end (freed, or handed to the next in the queue) within the bound: at once on
a leave, within the lease and one reaping round when it died (lease + reap + slack, from its
death). No grant may outlive the longest talk time (``max_talk_s`` from the ``vjoin`` acks)
by more than one reaping round and the slack. Judged only while some member stayed in the
room to see it; the read-back must find no holder once everyone has left.
"""

from __future__ import annotations

import pandas as pd

from pigeon_lab.checkers._voice import NS, SLACK_S, Voice, no_voice, outcome, readback, voice_of
from pigeon_lab.checkers._voice_floor import Grant, floors
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "voice_floor_liveness"


def _watched(v: Voice, room: tuple[str, str], t0: int, t1: int, holder: str) -> bool:
    """Some other member stayed in the room over [t0, t1] (someone would have seen it)."""
    return any(key[:2] == room and key[2] != holder and v.observing(key, t0, t1) for key in v.spans)


def _gone_holder(v: Voice, g: Grant, examples: list[Counterexample], k: int) -> int | None:
    """Judge a grant whose holder's session ended while it held it: 1 (stuck), 0 (freed in
    time), None (not judged: the holder did not go, or no one stayed to see)."""
    holder = next(iter(sorted(g.sessions)), None)
    if holder is None:
        return None
    room = g.room
    span = v.spans.get((room[0], room[1], holder[0], holder[1]))
    if span is None or span.end is None or (g.ended is not None and g.ended <= span.end):
        return None
    gone = span.dead if span.dead is not None else span.end
    until = gone + v.bound_ns
    if until > v.t_end or not _watched(v, room, gone, until, holder[0]):
        return None
    if g.ended is not None and g.ended <= until:
        return 0
    if len(examples) < k:
        when = "never" if g.ended is None else f"{(g.ended - gone) / NS:.1f} s later"
        examples.append(
            Counterexample(
                f"{room[1]}: {holder[0]}@{holder[1]} held token {g.token} and went "
                f"({span.how}); the floor was freed {when} (bound {v.bound_ns / NS:.1f} s)",
                v.rows_of([x for x in (g.seen_row, g.end_row) if x is not None]),
            )
        )
    return 1


def _overlong(v: Voice, g: Grant, examples: list[Counterexample], k: int) -> bool:
    """A grant that lasted longer than the talk time (plus a reaping round and slack)."""
    talk_ns = int((v.max_talk_s + v.reap_s + SLACK_S) * NS)
    if g.seen_row is None:
        return False
    end = g.ended
    holder = next(iter(sorted(g.sessions)), ("", 0))[0]
    watched = g.seen + talk_ns <= v.t_end and _watched(v, g.room, g.seen, g.seen + talk_ns, holder)
    if end is None and watched:
        end = v.t_end + 1  # still held at the end of the history
    if end is None or end - g.seen <= talk_ns:
        return False
    if len(examples) < k:
        examples.append(
            Counterexample(
                f"{g.room[1]}: token {g.token} held {(end - g.seen) / NS:.1f} s, over the "
                f"{v.max_talk_s:g} s talk time",
                v.rows_of([x for x in (g.seen_row, g.end_row) if x is not None]),
            )
        )
    return True


def _held_after(ctx: CheckContext, examples: list[Counterexample], k: int) -> int:
    held = 0
    rb = readback(ctx)
    for rec in [] if rb is None else rb.to_dict("records"):
        holder = rec.get("holder")
        if rec.get("complete") and isinstance(holder, str) and holder:
            held += 1
            if len(examples) < k:
                where = f"{rec['workspace']}/{rec['room']}"
                examples.append(
                    Counterexample(
                        f"{where}: {holder} still holds the floor after everyone left",
                        [{str(a): b for a, b in rec.items() if b is not None and b == b}],
                    )
                )
    return held


PROVES = (
    "When its holder goes, the floor is freed or handed on within the bound, and no grant "
    "outlives the talk time."
)
BLIND_SPOTS = ("floors in rooms whose every member vanished unobserved",)


@register(NAME, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """The floor is freed or handed on within the bound after its holder goes; no grant
    outlives the talk time."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    grants = [g for room in floors(v).grants.values() for g in room.values()]
    judged = stuck = overlong = 0
    for g in grants:
        went = _gone_holder(v, g, examples, k)
        if went is not None:
            judged += 1
            stuck += went
        if not went and _overlong(v, g, examples, k):
            overlong += 1
    held_after = _held_after(ctx, examples, k)
    violations = stuck + overlong + held_after
    counts = {
        "grants": len(grants),
        "holders_gone_judged": judged,
        "floor_stuck": stuck,
        "over_talk_time": overlong,
        "held_after_the_end": held_after,
    }
    if violations:
        summary = (
            f"{stuck} floors not freed after their holder went, {overlong} grants over the talk "
            f"time, {held_after} floors held after the end"
        )
    else:
        summary = (
            f"{len(grants)} grants ended in time ({judged} after their holder went, within "
            f"{v.bound_ns / NS:.1f} s)"
        )
    undecided = not grants or readback(ctx) is None
    return Verdict(NAME, outcome(violations, undecided, ctx.complete), summary, counts, examples)
