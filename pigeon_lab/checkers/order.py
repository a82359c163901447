"""Invariant 2, one order (agreement): a (workspace, channel, seq) names one message, the
same for every observer, and that message was sent by a client of the run.

Sound because every observer (a live ``recv``, a ``deliver``, a message from a
``sync_ok`` (sync or join replay), the ``send_ok`` of the writer, the final log)
reports what the server gave it for a seq: two different msg_ids at one seq, or
one msg_id at two seqs (or in two channels), cannot both be true of a single
total order (Jepsen Kafka's "inconsistent offsets"); nor can two different
``client_msg_id``, ``sender`` or ``body_hash`` values at one seq (the content of
a seq is immutable; rows that lack a field are compared on the fields they
carry). It catches seq counters rolled back by a failover, node-local counters
and a push whose body differs from the stored one.

Phantoms (Jepsen's "unexpected"): a message in the final log, a ``sync_ok``, a
``recv`` or a ``deliver`` whose (channel, client_msg_id) matches no send of the
history (by ``msg_id`` against the acks when it carries no client_msg_id) was
never sent by a client of the run. Seqs at or below the lowest head any join
reported were there before the run and are not judged (see ``_sends``); in a
history cut short a phantom may be a send whose rows were lost, so it is
undecidable, never a pass.

A seq out of range (below 1, or far outside the dense run of seqs of its
channel; see ``_prep``) is a violation here and is ignored by the other
checkers. The verdict is ``unknown`` without a final log or with a channel
whose read-back is incomplete: unread entries could disagree.

Linear time: each (channel, seq) has a dense slot id; one pass per field writes a
representative value per slot (the final log's, where it has one), another
flags every observation that disagrees with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import (
    I64,
    OBS_KINDS,
    Prepared,
    judge,
    prepare,
    readback,
    vacuous_is_unknown,
)
from pigeon_lab.checkers._sends import sends
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "order"
PROVES = (
    "Every seq of a channel names one message, with the same id, client_msg_id, sender and "
    "body for every observer and in the final log, and every message was sent by a client "
    "of the run."
)
BLIND_SPOTS = (
    "messages no client observed and the read-back did not return",
    "fields an observer did not record (a deliver row carries no body hash)",
    "seqs committed before the run's first join (they match no send of the run)",
    "an external target without seqs",
)
FIELDS = ("msg_id", "client_msg_id", "sender", "body_hash")


BIG = np.iinfo(np.int32).max


class _Obs:
    """Observations: history rows (``i < nh``: position ``hidx[i]``) then final-log entries."""

    def __init__(self, p: Prepared) -> None:
        c = p.content
        hidx = np.flatnonzero(
            p.is_kind(*OBS_KINDS) & (p.slot >= 0) & ((p.msg >= 0) | (p.cmid >= 0))
        )
        self.hidx, self.nh = hidx, len(hidx)
        cols = [p.slot, p.msg, p.cmid, c.sender, c.body]
        parts = [[x[hidx] for x in cols]]
        self.fv = np.empty(0, I64)
        if p.final is not None:
            f = p.final
            fs = p.slots(f.chan, f.seq)
            self.fv = np.flatnonzero(fs >= 0)
            parts.append([x[self.fv] for x in (fs, f.msg, f.cmid, c.f_sender, c.f_body)])
        joined = [np.concatenate([part[j] for part in parts]) for j in range(len(cols))]
        self.slot = joined[0].astype(I64, copy=False)
        self.fields = [x.astype(np.int32, copy=False) for x in joined[1:]]
        self.msg, self.cmid = self.fields[0], self.fields[1]
        # per slot: whether an observer other than the writer's ack saw it
        self.seen = np.zeros(p.n_slots, bool)
        not_ack = np.r_[~p.is_kind("send_ok")[hidx], np.ones(len(self.fv), bool)]
        self.seen[self.slot[not_ack]] = True

    def rows(self, p: Prepared, i: np.ndarray) -> list[dict[str, object]]:
        hist = i[i < self.nh]
        fin = i[i >= self.nh] - self.nh
        return p.rows(self.hidx[hist], 4) + (p.final_rows(self.fv[fin], 2) if len(fin) else [])


def _spread(n: int, key: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per key, the lowest and highest present (>= 0) value of ``v`` (BIG, -1 when none)."""
    v = v.astype(np.int64)  # ufunc.at is fast only when the dtypes match
    lo = np.full(n, BIG, np.int64)
    hi = np.full(n, -1, np.int64)
    np.minimum.at(lo, key, np.where(v >= 0, v, BIG))
    np.maximum.at(hi, key, v)
    return lo, hi


def _values(v: np.ndarray) -> int:
    """How many distinct present values ``v`` holds."""
    return len(np.unique(v[v >= 0]))


@register(NAME, needs=("seqs",))
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Across recv, deliver, sync_ok, send_ok and the final log: one seq, one message."""
    p = prepare(history, ctx)
    o = _Obs(p)
    k = ctx.max_counterexamples
    # 1. a seq names one content: every observation agrees with the final log's entry, and
    # where the final log has no value, the observations agree among themselves
    differ: dict[str, int] = {}
    reps, conflict = [], np.zeros(p.n_slots, bool)
    observed = np.zeros(p.n_slots, bool)
    observed[o.slot] = True
    for name, v in zip(FIELDS, o.fields, strict=True):
        ref = np.full(p.n_slots, -1, np.int32)
        ref[o.slot[o.nh :]] = v[o.nh :]
        r = ref[o.slot]
        d = np.zeros(p.n_slots, bool)
        full = bool((ref[observed] >= 0).all())  # the usual case: the final log has it all
        bad = (v >= 0) & (v != r)
        if not full:
            bad &= r >= 0
        if bad.any():
            d[o.slot[bad]] = True
        own = np.empty(0, I64) if full else np.flatnonzero((r < 0) & (v >= 0))
        if len(own):  # slots the final log says nothing of: the observers agree among themselves
            lo, hi = _spread(p.n_slots, o.slot[own], v[own])
            d |= (hi >= 0) & (lo != hi)
            ref = np.where(ref >= 0, ref, hi).astype(np.int32)
        differ[name] = int(d.sum())
        conflict |= d
        reps.append(ref)
    conflict_slots = np.flatnonzero(conflict)
    # 2. a message has one seq
    has = o.msg >= 0
    msg, slot = (o.msg, o.slot) if has.all() else (o.msg[has], o.slot[has])
    where = np.full(max(p.n_msg, 1), -1, I64)
    where[msg] = slot
    conflict_msgs = np.unique(msg[slot != where[msg]])
    # 3. phantoms, per seen slot: its message matches no send (acks are sends themselves)
    s = sends(p)
    sl = np.flatnonzero(o.seen)
    ch = p.chan_of_slot[sl]
    seq = sl - p.slot_off[ch] + p.slot_lo[ch]
    cm, mg = reps[1][sl], reps[0][sl]
    matched = np.where(cm >= 0, s.sent(ch, cm), s.acked_msg[np.maximum(mg, 0)] & (mg >= 0))
    phantom_slots = sl[~matched & ~s.pre_run(ch, seq)]
    # 4. seqs out of range
    f_bad = p.final.bad if p.final is not None else np.empty(0, I64)
    n_range = len(p.seq_bad) + len(f_bad)
    nph = len(phantom_slots) if ctx.complete else 0
    nviol = len(conflict_slots) + len(conflict_msgs) + nph + n_range

    examples: list[Counterexample] = []
    for sl_ in conflict_slots[:k]:
        at = np.flatnonzero(o.slot == sl_)
        first = at[at >= o.nh][:1] if np.any(at >= o.nh) else at[:1]
        i0 = int(first[0])
        off = [n for n, v in zip(FIELDS, o.fields, strict=True) if _values(v[at]) > 1]
        wrong = np.zeros(len(at), bool)
        for v in o.fields:
            wrong |= (v[at] >= 0) & (v[i0] >= 0) & (v[at] != v[i0])
        b = at[wrong][:1] if wrong.any() else at[at != i0][:1]
        c = int(p.chan_of_slot[sl_])
        ws, chn = p.chan_label(c)
        examples.append(
            Counterexample(
                f"{ws}/{chn} seq {p.slot_seq(c, int(sl_))}: observers disagree on {', '.join(off)}",
                o.rows(p, first) + o.rows(p, b),
            )
        )
    for m in conflict_msgs[: max(0, k - len(examples))]:
        at = np.flatnonzero(o.msg == m)
        a = at[o.slot[at] == o.slot[at[0]]][:1]
        b = at[o.slot[at] != o.slot[at[0]]][:1]
        examples.append(
            Counterexample("one message seen at two different seqs", o.rows(p, np.r_[a, b]))
        )
    for sl_ in phantom_slots[: max(0, k - len(examples)) if ctx.complete else 0]:
        at = np.flatnonzero(o.slot == sl_)[:2]
        c = int(p.chan_of_slot[sl_])
        ws, chn = p.chan_label(c)
        examples.append(
            Counterexample(
                f"{ws}/{chn} seq {p.slot_seq(c, int(sl_))} holds a message no client of the run "
                "sent (phantom)",
                o.rows(p, at),
            )
        )
    room = max(0, k - len(examples))
    bad_rows = p.rows(p.seq_bad[:room], room) + (
        p.final_rows(f_bad[: max(0, room - len(p.seq_bad))], room) if len(f_bad) else []
    )
    examples += [Counterexample(f"seq {r.get('seq')} out of range", [r]) for r in bad_rows]

    rb = readback(p)
    used = np.unique(p.chan_of_slot[observed])
    unread = int((~rb.decidable[used]).sum()) if p.final is not None else 0
    counts = {
        "observations": len(o.slot),
        "seqs": int(observed.sum()),
        "conflicting_seqs": len(conflict_slots),
        "conflicting_messages": len(conflict_msgs),
        **{f"differ_{n}": differ[n] for n in FIELDS},
        "phantoms": len(phantom_slots),
        "out_of_range": n_range,
        "undecidable": unread,
        "violations": nviol,
    }
    incomplete = not ctx.complete
    outcome = judge(nviol, incomplete or p.final is None or unread)
    if nviol:
        summary = (
            f"{len(conflict_slots)} seqs with conflicting content, {len(conflict_msgs)} "
            f"messages at several seqs, {nph} phantoms, {n_range} seqs out of range"
        )
    else:
        summary = f"every one of {counts['seqs']} seqs names one message across all observers"
        if p.final is None:
            summary += "; no final log, so unknown"
        elif unread:
            summary += f"; {unread} channels not read back completely, so unknown"
        if incomplete:
            summary += "; history cut short, so unknown"
    verdict = Verdict(NAME, outcome, summary, counts=counts, counterexamples=examples)
    return vacuous_is_unknown(verdict, counts["observations"], "observed messages")
