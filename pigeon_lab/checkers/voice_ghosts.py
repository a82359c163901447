"""Voice invariant 2, no ghosts and no early leaves.

A session that ended (left, superseded, or its socket lost and never resumed: its node
killed or paused, its device gone) must leave every roster within the bound: the lease,
one reaping round and a second of slack (``lease_s`` and ``reap_s`` come from the ``vjoin``
acks). Judged on every other member
that stayed in the room from the death to the bound, on a node no fault froze meanwhile: it
must have applied the removal by
then. Sound because its ``vapply`` rows are what it holds, and a reaper that works removes a
dead member within the lease. And the other way round: a session removed while its client
was connected and its node healthy (no kill or pause window on it) was dropped early; a
removal during such a window is a flap, counted, not failed.
"""

from __future__ import annotations

import pandas as pd

from pigeon_lab.checkers._voice import (
    NODE_FAULTS,
    NS,
    SKey,
    Span,
    Voice,
    no_voice,
    outcome,
    voice_of,
)
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register
from pigeon_lab.checkers.voice_metrics import GhostMetrics

NAME = "voice_ghosts"


def removal_time(v: Voice, observer: SKey, dead: Span, after: int) -> int | None:
    """When ``observer`` first stopped listing ``dead`` after ``after`` (None: never)."""
    member = (dead.key[2], dead.key[3])
    for t, members in v.views.get(observer, []):
        if t >= after and member not in members:
            return t
    return None


def ghost_durations(v: Voice) -> list[tuple[Span, SKey, int | None]]:
    """Each (dead session, observer that stayed, removal time or None) worth judging."""
    out: list[tuple[Span, SKey, int | None]] = []
    for s in v.spans.values():
        if s.end is None:
            continue
        dead = s.dead if s.dead is not None else s.end
        until = dead + v.bound_ns
        if until > v.t_end:
            continue  # the history ends before the bound: nothing to demand yet
        ws, room, member, _ = s.key
        for o in v.spans.values():
            ok = o.key[:2] == (ws, room) and o.key[2] != member
            if not ok or not v.observing(o.key, dead, until):
                continue
            before = v.view_at(o.key, dead)
            if before is None or (member, s.key[3]) not in before:
                continue  # it did not list the dead session: nothing to remove
            out.append((s, o.key, removal_time(v, o.key, s, dead)))
    return out


def _faulted(v: Voice, s: Span, t: int) -> bool:
    lease = int(v.lease_s * NS)
    return any(
        ((f.kind in NODE_FAULTS and f.target in s.nodes) or f.kind == "redis-failover")
        and f.start_t - lease <= t <= (f.end_t or v.t_end) + lease
        for f in v.ctx.faults
    )


PROVES = (
    "A session that ended (left, superseded, its node killed or paused) left every other "
    "member's view within the lease bound, and no live session was dropped."
)
BLIND_SPOTS = (
    "ghosts shorter than the recording's resolution",
    "views of members on unhealthy nodes (no witness)",
)


@register(NAME, metrics=GhostMetrics, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Dead sessions leave every roster within the lease bound; live ones are not dropped."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME, GhostMetrics())
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    judged = ghosts = 0
    worst: float | None = None
    for s, observer, removed in ghost_durations(v):
        dead = s.dead if s.dead is not None else s.end
        assert dead is not None
        judged += 1
        took = None if removed is None else (removed - dead) / NS
        if took is not None:
            worst = took if worst is None else max(worst, took)
        if removed is None or removed - dead > v.bound_ns:
            ghosts += 1
            if len(examples) < k:
                shown = "never" if took is None else f"after {took:.1f} s"
                rows = [r for r in v.rows if r.session in (s.key, observer)][-8:]
                examples.append(
                    Counterexample(
                        f"{s.key[2]}@{s.key[3]} ended ({s.how}) at "
                        f"+{(dead - v.rows[0].t) / NS:.1f} s; "
                        f"{observer[2]}@{observer[3]} removed it {shown} (bound "
                        f"{v.bound_ns / NS:.1f} s)",
                        v.rows_of(rows),
                    )
                )
    dropped = flaps = 0
    for r in v.rows:
        if r.kind != "vend" or not str(r.error or "").startswith(("removed:", "kicked:expired")):
            continue
        key = r.session
        span = v.spans.get(key) if key else None
        if span is None:
            continue
        if _faulted(v, span, r.t):
            flaps += 1
            continue
        dropped += 1
        if len(examples) < k:
            examples.append(
                Counterexample(
                    f"{r.client}@{r.inc} was removed from {r.room} ({r.error}) while connected, "
                    "with no fault on its node",
                    v.rows_of([x for x in v.rows if x.session == key][-8:]),
                )
            )
    kept = sum(
        1 for s in v.spans.values() if (s.end or v.t_end) - s.start > v.bound_ns
    )  # sessions that stayed long enough to have been dropped early, and were not
    violations = ghosts + dropped
    metrics = GhostMetrics(judged, worst, v.bound_ns / NS, flaps)
    counts = {
        "deaths_judged": judged,
        "ghosts": ghosts,
        "live_kept": kept,
        "dropped_live": dropped,
        "flaps": flaps,
    }
    bound = v.bound_ns / NS
    if violations:
        summary = f"{ghosts} ghosts past the {bound:.1f} s bound, {dropped} live sessions dropped"
    elif not judged:
        summary = (
            f"no ended session had an observer left to judge it; {kept} live sessions were "
            "never dropped"
        )
    else:
        summary = (
            f"{judged} removals of ended sessions ({sum(1 for s in v.spans.values() if s.died)} "
            f"died), worst {worst or 0:.1f} s (bound {bound:.1f} s); no live session dropped"
        )
    undecided = not judged and not kept
    return Verdict(
        NAME,
        outcome(violations, undecided, ctx.complete),
        summary,
        counts,
        examples,
        metrics.to_dict(),
    )
