"""Invariant 2, one order (agreement): a (workspace, channel, seq) names one message.

Sound because every observer (a live ``recv``, a ``deliver``, a message from a
``sync_ok``/``join_ok``, the ``send_ok`` of the writer, the final log) reports
the pair (seq, msg_id) the server gave it; two different msg_ids at one seq, or
one msg_id at two seqs (or in two channels), cannot both be true of a single
total order (Jepsen Kafka's "inconsistent offsets"). It catches seq counters
rolled back by a failover and node-local counters.

Linear time: each (channel, seq) has a dense slot id; the first pass writes a
representative msg_id per slot (and slot per msg_id), the second flags every
observation that disagrees with its representative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import I64, OBS_KINDS, judge, prepare, vacuous_is_unknown
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "order"


@register(NAME)
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Across recv, deliver, sync_ok, send_ok, join_ok and the final log, one seq = one msg_id."""
    p = prepare(history, ctx)
    hidx = np.flatnonzero(p.is_kind(*OBS_KINDS) & (p.msg >= 0) & (p.slot >= 0))
    slots, msgs = p.slot[hidx], p.msg[hidx]
    nh = len(hidx)
    # observation i < nh is history row hidx[i]; i >= nh is final-log entry fv[i - nh]
    final_chan = p.final.chan if p.final is not None else np.empty(0, np.int32)
    if p.final is not None:
        fs = p.slots(p.final.chan, p.final.seq)
        fv = np.flatnonzero((fs >= 0) & (p.final.msg >= 0))
        slots = np.concatenate([slots, fs[fv]])
        msgs = np.concatenate([msgs, p.final.msg[fv]])
    else:
        fv = np.empty(0, I64)
    rep = np.full(p.n_slots, -1, np.int32)
    rep[slots] = msgs
    where = np.full(max(p.n_msg, 1), -1, I64)
    where[msgs] = slots
    bad_seq = msgs != rep[slots]  # this slot also holds another message
    bad_msg = slots != where[msgs]  # this message also sits at another slot
    conflict_slots = np.unique(slots[bad_seq])
    conflict_msgs = np.unique(msgs[bad_msg])
    nviol = len(conflict_slots) + len(conflict_msgs)

    def rows_at(i: np.ndarray) -> list[dict[str, object]]:
        hist = i[i < nh]
        fin = i[i >= nh] - nh
        return p.rows(hidx[hist], 4) + (p.final_rows(fv[fin], 2) if len(fin) else [])

    examples = []
    k = ctx.max_counterexamples
    for sl in conflict_slots[:k]:
        at = np.flatnonzero(slots == sl)
        a = at[msgs[at] == rep[sl]][:1]
        b = at[msgs[at] != rep[sl]][:1]
        c = int(p.chan[hidx[a[0]]]) if a[0] < nh else int(final_chan[fv[a[0] - nh]])
        ws, ch = p.chan_label(c)
        seq = int(sl - p.slot_off[c])
        examples.append(
            Counterexample(
                f"{ws}/{ch} seq {seq} names two different messages", rows_at(np.r_[a, b])
            )
        )
    for m in conflict_msgs[: max(0, k - len(examples))]:
        at = np.flatnonzero(msgs == m)
        a = at[slots[at] == where[m]][:1]
        b = at[slots[at] != where[m]][:1]
        examples.append(
            Counterexample("one message seen at two different seqs", rows_at(np.r_[a, b]))
        )
    counts = {
        "observations": len(slots),
        "seqs": len(np.unique(slots)) if nviol else int((rep >= 0).sum()),
        "conflicting_seqs": len(conflict_slots),
        "conflicting_messages": len(conflict_msgs),
        "violations": nviol,
    }
    incomplete = not ctx.complete
    outcome = judge(nviol, incomplete)
    if nviol:
        summary = (
            f"{len(conflict_slots)} seqs name more than one message and "
            f"{len(conflict_msgs)} messages have more than one seq"
        )
    else:
        summary = f"every one of {counts['seqs']} seqs names one message across all observers"
        if p.final is None:
            summary += " (no final log: judged on client observations only)"
        if incomplete:
            summary += "; history cut short, so unknown"
    verdict = Verdict(NAME, outcome, summary, counts=counts, counterexamples=examples)
    return vacuous_is_unknown(verdict, counts["observations"], "observed messages")
