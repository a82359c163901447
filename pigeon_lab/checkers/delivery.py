"""Invariant 4, in order and exactly once (application delivery).

Per client and channel, within a membership segment (see ``_membership``),
the client algorithm hands the application ``base+1, base+2, ...``: each
``deliver`` must be exactly one above the highest seq the client had before
it (the segment's base for the first). Sound because the algorithm's only
job is to turn best-effort pushes into that sequence: a repeat is a
duplicate delivery, a smaller seq a reorder, a larger one a skip, and a
``deliver`` with no join before it was never asked for. Live pushes of an
already delivered seq (``recv``) are wire-level duplicates, which the client
must drop: counted as a metric, not a failure. A skip over seqs a resuming
join reported as truncated (retention) is a recorded truncation, not a skip,
unless the final log still holds a skipped seq (see ``_streams``). A target without
seqs is judged by set semantics instead (``delivery_set``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._membership import membership
from pigeon_lab.checkers._prep import judge, prepare, vacuous_is_unknown
from pigeon_lab.checkers._streams import Deliveries, deliveries, wire
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register
from pigeon_lab.checkers.delivery_set import check_set

NAME = "delivery"
PROVES = (
    "Every client handed its application each channel's messages in seq order, exactly once, "
    "from where it joined, and only on channels it had joined."
)
BLIND_SPOTS = (
    "messages the client never delivered at all (the gaps checker owns those)",
    "what the application did with a message after it was handed over",
    "deliveries the client algorithm made but the load did not record",
)


@register(NAME)
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Per client and channel, deliver seqs go up by exactly one from the join's base."""
    if "seqs" not in ctx.capabilities:  # nothing to order by: set semantics
        return check_set(history, ctx)
    p = prepare(history, ctx)
    m, d, w = membership(p), deliveries(p), wire(p)
    bad = d.seq != d.before + 1
    dup = d.seq <= d.before
    skip = d.seq > d.before + 1
    nbad = int(bad.sum()) + len(d.orphan)
    again = _again(d) if dup.any() else np.zeros(len(dup), bool)
    k = ctx.max_counterexamples
    examples = []
    for i in np.flatnonzero(bad)[:k]:
        s = int(d.seg[i])
        earlier = d.pos[(d.seg == s) & (d.pos < d.pos[i])][-1:]
        prev = [int(earlier[0])] if len(earlier) else [int(m.seg_start[s])]
        what = "duplicate" if again[i] else "reordered" if dup[i] else "skipped ahead"
        who = str(p.clients[m.seg_client[s]])
        ws, ch = p.chan_label(int(m.seg_chan[s]))
        examples.append(
            Counterexample(
                f"client {who} on {ws}/{ch} delivered seq {int(d.seq[i])} ({what}) after "
                f"{int(d.before[i])}; expected {int(d.before[i]) + 1}",
                p.rows([*prev, int(d.pos[i])]),
            )
        )
    for pos in d.orphan[: max(0, k - len(examples))]:
        examples.append(
            Counterexample("deliver on a channel the client never joined", p.rows([int(pos)]))
        )
    counts = {
        "delivered": len(d.seq) + len(d.orphan),
        "memberships": len(m.seg_base),
        "duplicates": int(again.sum()),
        "reordered": int((dup & ~again).sum()),
        "skipped": int(skip.sum()),
        "without_join": len(d.orphan),
        "violations": nbad,
    }
    outcome = judge(nbad, not ctx.complete)
    if nbad:
        summary = (
            f"{nbad} of {counts['delivered']} deliveries out of order, repeated or without a join"
        )
    else:
        summary = (
            f"{counts['delivered']} deliveries in order and exactly once "
            f"({w.duplicates} wire duplicates dropped)"
        )
        if not ctx.complete:
            summary += "; history cut short, so unknown"
    verdict = Verdict(
        NAME,
        outcome,
        summary,
        counts=counts,
        counterexamples=examples,
        metrics={
            "wire_duplicates": w.duplicates,
            "live_gaps": w.gaps,
            "recorded_truncations": len(d.cr_pos),
            "refuted_truncations": len(d.cr_false),
        },
    )
    return vacuous_is_unknown(verdict, counts["delivered"], "deliveries")


def _again(d: Deliveries) -> np.ndarray:
    """Deliveries of a seq this segment already delivered (vs. smaller, never-delivered ones)."""
    key = (d.seg.astype(np.int64) << 32) | (d.seq & 0xFFFFFFFF)
    return pd.Series(key).duplicated().to_numpy()
