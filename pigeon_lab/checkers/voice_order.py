"""Voice invariant 3, one roster order.

Every roster and floor change of a room has a version (``ver``), and a version names one
change: across every observer, the ``vroster``/``vfloor`` pushes at one (room, ver) must
describe the same change, and the snapshots (``vjoin_ok``, ``vsync_ok``) at one (room, ver)
the same members. A push without a version cannot be ordered at all (a client cannot tell
a late push from a new one): each is a violation. Each client applies changes in strictly
rising versions (``vapply``; a snapshot may repeat the version it is at).
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from pigeon_lab.checkers._voice import Row, SKey, no_voice, outcome, voice_of
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "voice_roster_order"


def change_of(r: Row) -> tuple[object, ...]:
    """What a push says changed (the same change reads the same for every observer)."""
    d = r.d
    if r.kind == "vroster":
        return ("roster", d.get("op"), d.get("m"), d.get("minc"))
    return (
        "floor",
        d.get("state"),
        d.get("holder"),
        d.get("hinc"),
        d.get("token"),
        d.get("reason"),
    )


def members_of(r: Row) -> frozenset[tuple[str, int]]:
    raw = r.d.get("members")
    if not isinstance(raw, list):
        return frozenset()
    return frozenset((str(m), int(i)) for m, i in raw if isinstance(i, int))


PROVES = (
    "Every roster and floor push carries a version, and one (room, version) names one change "
    "for every observer."
)
BLIND_SPOTS = (
    "changes no observer was pushed",
    "the order of changes in different rooms",
)


@register(NAME, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Each (room, ver) names one change for every observer; clients apply vers in order."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    unversioned: list[Row] = []
    changes: dict[tuple[str, str, int], dict[tuple[object, ...], Row]] = defaultdict(dict)
    snaps: dict[tuple[str, str, int], dict[frozenset[tuple[str, int]], Row]] = defaultdict(dict)
    last: dict[SKey, int] = {}
    backwards: list[tuple[Row, int]] = []
    for r in v.rows:
        if r.kind in ("vroster", "vfloor"):
            if r.seq is None:
                unversioned.append(r)
            else:
                changes[(r.ws, r.room, r.seq)].setdefault(change_of(r), r)
        elif r.kind in ("vjoin_ok", "vsync_ok") and r.seq is not None and not r.error:
            snaps[(r.ws, r.room, r.seq)].setdefault(members_of(r), r)
        elif r.kind == "vapply" and r.seq is not None and r.session is not None:
            prev = last.get(r.session)
            snapshot = r.d.get("op") == "snapshot"
            if prev is not None and (r.seq < prev or (r.seq == prev and not snapshot)):
                backwards.append((r, prev))
            last[r.session] = max(prev or 0, r.seq)
    if unversioned and len(examples) < k:
        examples.append(
            Counterexample(
                f"{len(unversioned)} roster or floor pushes carry no version: no client can "
                "order them",
                v.rows_of(unversioned),
            )
        )
    conflicts = 0
    for (ws, room, ver), seen in sorted(changes.items()):
        if len(seen) > 1:
            conflicts += 1
            if len(examples) < k:
                examples.append(
                    Counterexample(
                        f"{ws}/{room} ver {ver} names {len(seen)} different changes",
                        v.rows_of(list(seen.values())),
                    )
                )
    split = 0
    for (ws, room, ver), states in sorted(snaps.items()):
        if len(states) > 1:
            split += 1
            if len(examples) < k:
                examples.append(
                    Counterexample(
                        f"{ws}/{room} ver {ver}: {len(states)} different member sets in snapshots",
                        v.rows_of(list(states.values())),
                    )
                )
    for r, prev in backwards[: max(0, k - len(examples))]:
        examples.append(
            Counterexample(
                f"{r.client}@{r.inc} applied ver {r.seq} after ver {prev}", v.rows_of([r])
            )
        )
    violations = len(unversioned) + conflicts + split + len(backwards)
    counts = {
        "versions": len(changes),
        "pushes": sum(1 for r in v.rows if r.kind in ("vroster", "vfloor")),
        "unversioned": len(unversioned),
        "conflicting_versions": conflicts,
        "conflicting_snapshots": split,
        "applied_backwards": len(backwards),
    }
    if violations:
        summary = (
            f"{len(unversioned)} unversioned pushes, {conflicts} versions naming two changes, "
            f"{split} split snapshots, {len(backwards)} out-of-order applications"
        )
    else:
        summary = f"{len(changes)} versions, each one change for every observer"
    undecided = not changes
    return Verdict(NAME, outcome(violations, undecided, ctx.complete), summary, counts, examples)
