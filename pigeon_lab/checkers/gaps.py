"""Invariant 3, no gaps (completeness), in two parts.

*Final log*: a channel's read-back holds every seq ``1..head`` (``head`` = the
highest seq read back or the read-back's ``head_seq``); a truncated read-back
may lack a prefix, never a middle. Sound because seqs are assigned densely: a
hole is a message the store lost or never had.

*Clients*: a client in a membership segment (see ``_membership``: from its
join to its acknowledged leave, across reconnects because it resumes with
``after_seq``) must deliver every seq in ``(base, required]`` where
``required`` is the highest of: what it delivered itself; and, for a
membership with a known end (Kafka's lost-write criterion made local), the
heads its joins reported and the seqs acknowledged to anyone, at least
``ctx.settle_ms`` before that end. A known end is an acknowledged leave, the
end of the history with the client still joined and connected, or a
disconnect the client made itself (``NORMAL_CLOSE``: every load user ends its
run so, after syncing every channel). Committed messages newer than that may
still be in flight; a client whose connection dropped and never resumed cannot
be blamed for what it could not reach; and when a fault window overlaps the
last ``settle_ms`` (a paused node can leave a connection silently dead), only
what was committed ``settle_ms`` before the fault began is required: the check
never blames a correct client. Recorded truncations (see ``_streams``) count
as delivered. A missing seq below what the client delivered is definite; a
missing tail in a history cut short is ``unknown``.

Live pushes the client saw skip ahead (and so had to repair by ``sync``) are
the metric ``live_gaps_repaired``, not a failure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._membership import membership, running_max
from pigeon_lab.checkers._prep import (
    I64,
    NORMAL_CLOSE,
    POS_BITS,
    Prepared,
    judge,
    prepare,
    readback,
    vacuous_is_unknown,
)
from pigeon_lab.checkers._streams import deliveries, wire
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "gaps"
PROVES = (
    "Every final log holds seqs 1..head without holes, and every member delivered every "
    "message committed while it was joined, up to settle_ms before it left or closed."
)
BLIND_SPOTS = (
    "messages committed within settle_ms of a membership's end",
    "the tail of a membership whose connection dropped and never resumed",
    "the tail of a membership whose last settle period overlaps a fault window",
    "the newest messages of a log lost together with its head (durability sees acked ones)",
)


def _final_holes(p: Prepared, k: int) -> tuple[int, int, int, list[Counterexample]]:
    """(channels checked, holes, undecidable channels, examples) for the final log."""
    if p.final is None:
        return 0, 0, 0, []
    rb = readback(p)
    f = p.final
    nchan = len(p.chan_ws)
    fs = p.slots(f.chan, f.seq)
    ok = (fs >= 0) & (f.seq >= 1)
    present = np.zeros(p.n_slots, bool)
    present[fs[ok]] = True
    have = np.bincount(p.chan_of_slot[present], minlength=nchan)
    fmax = np.full(nchan, 0, I64)
    np.maximum.at(fmax, f.chan[ok], f.seq[ok])
    fmin = np.full(nchan, np.iinfo(I64).max, I64)
    np.minimum.at(fmin, f.chan[ok], f.seq[ok])
    head = np.maximum(fmax, rb.head)
    lo = np.where(rb.truncated & (have > 0), fmin, 1)
    expected = np.maximum(head - lo + 1, 0)
    seen = np.zeros(nchan, bool)
    seen[f.chan[f.chan >= 0]] = True
    seen |= rb.head >= 0
    judged = seen & rb.decidable
    holes = np.where(judged, expected - have, 0)
    examples = []
    for c in np.flatnonzero(holes > 0)[:k]:
        want = np.arange(lo[c], min(head[c], fmax[c]) + 1)
        got = p.slots(np.full(len(want), c, I64), want) >= 0
        got[got] = present[p.slots(np.full(int(got.sum()), c, I64), want[got])]
        miss = np.flatnonzero(~got)
        s = int(want[miss[0]]) if len(miss) else int(fmax[c] + 1)
        ws, ch = p.chan_label(int(c))
        near = np.flatnonzero((f.chan == c) & (np.abs(f.seq - s) == 1))
        examples.append(
            Counterexample(
                f"final log of {ws}/{ch} lacks seq {s} (head {int(head[c])}, "
                f"{int(holes[c])} missing)",
                p.final_rows(near, 2),
            )
        )
    return int(judged.sum()), int(holes.sum()), int((seen & ~rb.decidable).sum()), examples


def _required(p: Prepared) -> np.ndarray:
    """Per membership segment, the highest seq the client must have delivered."""
    m, d, ctx = membership(p), deliveries(p), p.ctx
    nseg = len(m.seg_base)
    req = m.seg_base.copy()
    np.maximum.at(req, d.seg, d.seq)
    # where the segment ends, and whether the client was joined and connected then
    disc = np.flatnonzero(p.is_kind("disconnect"))
    last_disc = np.full(len(p.clients) + 1, -1, I64)
    last_disc[p.client[disc]] = disc  # rows are in time order: the last write wins
    last_row = np.full(len(p.clients) + 1, -1, I64)
    last_row[p.client] = np.arange(p.n, dtype=I64)
    last_jo = np.full(nseg, -1, I64)
    np.maximum.at(last_jo, m.jo_seg, m.jo_pos)
    left = m.seg_end >= 0
    cl = m.seg_client
    joined_at_end = ~left & (last_jo > last_disc[cl])
    # or the first disconnect after the segment's last join_ok is one the client made itself
    closed, close_pos = _closed_by_client(p, disc, cl, last_jo)
    closed &= ~left & ~joined_at_end
    tail = left | joined_at_end | closed
    end_pos = np.where(left, m.seg_end, np.where(closed, close_pos, last_row[cl]))
    end_t = p.t[np.maximum(end_pos, 0)]
    cut_t = end_t - int(ctx.settle_ms * 1e6)
    for fw in ctx.faults:  # a fault in the last settle period: only what came before it
        healed_late = np.ones(nseg, bool) if fw.end_t is None else fw.end_t > cut_t
        hit = (fw.start_t < end_t) & healed_late
        cut_t = np.where(hit, np.minimum(cut_t, fw.start_t - int(ctx.settle_ms * 1e6)), cut_t)
    cut_pos = np.searchsorted(p.t, cut_t, side="right") - 1
    # heads the segment's joins reported, before the cut
    jo_ok = p.t[m.jo_pos] <= cut_t[m.jo_seg]
    heads = np.full(nseg, -1, I64)
    np.maximum.at(heads, m.jo_seg[jo_ok], m.jo_head[jo_ok])
    # seqs acknowledged to anyone on the channel, before the cut
    acks = np.flatnonzero(p.is_kind("send_ok") & (p.slot >= 0))
    akey = (p.chan[acks].astype(I64) << POS_BITS) | acks
    o = np.argsort(akey)
    akey, aseq = akey[o], p.seq[acks][o]
    achan = akey >> POS_BITS
    acked = np.full(nseg, -1, I64)
    if len(akey):  # running max per channel (channels are contiguous after the sort)
        arun, _ = running_max(achan, aseq, np.full(int(achan.max()) + 1, -1, I64))
        q = (m.seg_chan << POS_BITS) | np.maximum(cut_pos, 0)
        i = np.searchsorted(akey, q, side="right") - 1
        j = np.maximum(i, 0)
        hit = (i >= 0) & (cut_pos >= 0) & (achan[j] == m.seg_chan)
        acked = np.where(hit, arun[j], -1)
    req = np.where(tail, np.maximum(req, np.maximum(heads, acked)), req)
    return req


def _closed_by_client(
    p: Prepared, disc: np.ndarray, client: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per (client, position): whether the client's first disconnect after ``after`` is one it
    made itself (a normal end, ``NORMAL_CLOSE``), and that disconnect's position."""
    if len(disc) == 0 or len(client) == 0:
        return np.zeros(len(client), bool), np.full(len(client), -1, I64)
    err = p.col("error").iloc[disc].to_numpy()
    normal = pd.Series(err, dtype=object).isin(list(NORMAL_CLOSE)).to_numpy()
    key = (p.client[disc].astype(I64) << POS_BITS) | disc
    o = np.argsort(key, kind="stable")
    key, normal, pos = key[o], normal[o], disc[o]
    q = (client << POS_BITS) | np.maximum(after, 0)
    i = np.minimum(np.searchsorted(key, q, side="right"), len(key) - 1)
    mine = ((key[i] >> POS_BITS) == client) & (pos[i] > after) & (after >= 0)
    return mine & normal[i], np.where(mine, pos[i], -1)


def _missing(p: Prepared, req: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: seqs missing in (base, req], and the highest seq delivered."""
    m, d = membership(p), deliveries(p)
    nseg = len(req)
    top = m.seg_base.copy()
    np.maximum.at(top, d.seg, d.seq)
    in_order = d.seq == d.before + 1
    fresh = in_order & (d.seq <= req[d.seg])
    have = np.bincount(d.seg[fresh], minlength=nseg)
    messy = np.unique(d.seg[~in_order])
    if len(messy):  # exact distinct count where the client delivered out of order
        sel = np.isin(d.seg, messy)
        key = np.unique((d.seg[sel].astype(I64) << 32) | (d.seq[sel] & 0xFFFFFFFF))
        ks, kq = key >> 32, key & 0xFFFFFFFF
        inr = (kq > m.seg_base[ks]) & (kq <= req[ks])
        have[messy] = 0
        have += np.bincount(ks[inr], minlength=nseg)
    if len(d.cr_seg):  # recorded truncations: the skipped seqs count as had
        lo = np.maximum(d.cr_from, m.seg_base[d.cr_seg])
        hi = np.minimum(d.cr_to, req[d.cr_seg])
        have += np.bincount(d.cr_seg, weights=np.maximum(hi - lo, 0), minlength=nseg).astype(I64)
    return np.maximum(req - m.seg_base - have, 0), top


@register(NAME, needs=("seqs",))
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """The final log has no holes; every joined client delivered every committed seq."""
    p = prepare(history, ctx)
    k = ctx.max_counterexamples
    nchan, holes, undecided_chan, examples = _final_holes(p, k)
    m, d = membership(p), deliveries(p)
    req = _required(p)
    miss, top = _missing(p, req)
    definite = (miss > 0) & ((req <= top) | ctx.complete)
    tail_unknown = (miss > 0) & ~definite
    for s in np.flatnonzero(definite)[: max(0, k - len(examples))]:
        got = np.unique(d.seq[d.seg == s])
        want = np.arange(m.seg_base[s] + 1, req[s] + 1)
        gone = want[~np.isin(want, got)]
        ws, ch = p.chan_label(int(m.seg_chan[s]))
        who = str(p.clients[m.seg_client[s]])
        rows = p.rows([int(m.seg_start[s])], 1)
        last = d.pos[d.seg == s][-1:]
        rows += p.rows(last, 1)
        sent = np.flatnonzero((p.chan == m.seg_chan[s]) & (p.seq == gone[0]))[:1]
        rows += p.rows(sent, 1)
        examples.append(
            Counterexample(
                f"client {who} joined {ws}/{ch} from seq {int(m.seg_base[s]) + 1} never delivered "
                f"seq {int(gone[0])} ({len(gone)} missing up to {int(req[s])})",
                rows,
            )
        )
    w = wire(p)
    nviol = holes + int(miss[definite].sum())
    undecided = undecided_chan + int(tail_unknown.sum()) + (p.final is None)
    counts = {
        "channels_checked": nchan,
        "final_log_holes": holes,
        "memberships_checked": len(req),
        "missing_deliveries": int(miss[definite].sum()),
        "undecidable": undecided,
        "violations": nviol,
    }
    outcome = judge(nviol, undecided or not ctx.complete)
    if nviol:
        summary = (
            f"{holes} holes in final logs and {counts['missing_deliveries']} committed "
            f"messages never delivered to clients that stayed joined"
        )
    elif p.final is None:
        summary = "no final log: channel completeness cannot be judged"
    elif not ctx.complete:
        summary = "history cut short: no gap seen so far, but completeness cannot be judged"
    elif undecided:
        summary = f"no gap seen; {undecided} channels or memberships undecidable"
    else:
        summary = (
            f"{nchan} final logs without holes; {len(req)} memberships delivered every "
            f"committed seq ({w.gaps} live-push gaps repaired)"
        )
    verdict = Verdict(
        NAME,
        outcome,
        summary,
        counts=counts,
        counterexamples=examples,
        metrics={"live_gaps_repaired": w.gaps},
    )
    return vacuous_is_unknown(
        verdict, nchan * len(req), "channel with both a final log and a member"
    )
