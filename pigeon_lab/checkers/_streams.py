"""The per-membership delivery stream, recorded truncations and wire-level events.

Over a client's ``recv`` and ``deliver`` rows in a membership segment (see
``_membership``), what had it delivered before each row? One grouped running
max answers it for every row at once (``_pass``).

Retention: a resuming ``join_ok`` with ``detail = "truncated"`` tells the
client that messages after its ``after_seq`` fell out of retention; the client
then skips to the first message the join returned (its first ``sync_ok``). A
``sync_ok`` message row with ``detail = "truncated"`` (the first of a truncated
sync batch) says the same for a sync. That skip is a *recorded truncation*: the
skipped seqs count as had, for ``delivery`` and ``gaps`` alike, unless the
final log holds one of them (retention only ever drops more, so a seq still
there had not been dropped when the client was told it was, and the skip is not
excused).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pigeon_lab.checkers._membership import membership
from pigeon_lab.checkers._prep import I64, POS_BITS, K, Prepared

TRUNCATED = "truncated"


@dataclass
class Deliveries:
    """Deliver rows in time order, each with the highest seq its segment had before it."""

    pos: np.ndarray  # row positions (time order) of deliver rows that have a segment
    seg: np.ndarray
    seq: np.ndarray
    before: np.ndarray  # max(segment base, seqs delivered or excused earlier in the segment)
    orphan: np.ndarray  # positions of deliver rows with no segment (no join before them)
    cr_pos: np.ndarray  # recorded truncations: marker position, segment, skipped (from, to]
    cr_seg: np.ndarray
    cr_from: np.ndarray
    cr_to: np.ndarray
    cr_false: np.ndarray  # marker positions of truncations the final log refutes


@dataclass
class Wire:
    """Live pushes (``recv``) judged against what the client had delivered by then."""

    duplicates: int  # recv of a seq already delivered
    gaps: int  # recv that skipped ahead of the next expected seq (repaired later or not)
    outside: np.ndarray  # positions of recv rows with no segment


def _marks(p: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Truncation markers: (positions, last skipped seq). A truncated join_ok skips to its
    first sync_ok; a truncated sync_ok message row skips to itself."""
    det = p.col("detail").to_numpy()
    jo = np.flatnonzero(p.is_kind("join_ok") & (p.chan >= 0))
    jo = jo[det[jo] == TRUNCATED]
    so = np.flatnonzero(p.is_kind("sync_ok") & (p.seq >= 1) & (p.chan >= 0))
    marked = so[det[so] == TRUNCATED]
    to = np.full(len(jo), -1, I64)
    if len(jo) and len(so):
        skey = (p.pair[so] << POS_BITS) | so
        o = np.argsort(skey, kind="stable")
        skey, sseq = skey[o], p.seq[so][o]
        q = (p.pair[jo] << POS_BITS) | jo
        i = np.minimum(np.searchsorted(skey, q, side="right"), len(skey) - 1)
        to = np.where((skey[i] >> POS_BITS) == p.pair[jo], sseq[i] - 1, -1)
    pos = np.r_[jo[to >= 0], marked]
    last = np.r_[to[to >= 0], p.seq[marked] - 1]
    o = np.argsort(pos, kind="stable")
    return pos[o].astype(I64), last[o].astype(I64)


def _pass(
    rows: np.ndarray,
    seg: np.ndarray,
    val: np.ndarray,
    is_del: np.ndarray,
    cr_pos: np.ndarray,
    cr_seg: np.ndarray,
    cr_to: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(had before each row, had before each credit), per segment, in one grouped pass.

    Items in time order: a deliver row is a probe (-1) then its contribution (its seq); a
    recv row is a probe; a credit is a probe then its contribution (the last seq skipped).
    """
    credit = np.zeros(len(rows), bool)
    if len(cr_pos):
        ins = np.searchsorted(rows, cr_pos)
        rows, seg = np.insert(rows, ins, cr_pos), np.insert(seg, ins, cr_seg)
        val, is_del = np.insert(val, ins, cr_to), np.insert(is_del, ins, False)
        credit = np.insert(credit, ins, True)
    rep = 1 + (is_del | credit).astype(np.int64)
    at = np.repeat(np.arange(len(rows)), rep)
    contrib = np.r_[False, at[1:] == at[:-1]] if len(at) else np.empty(0, bool)
    v = np.where(contrib, val[at], -1)
    run = pd.Series(v).groupby(seg[at], sort=False).cummax().to_numpy() if len(v) else v
    had = run[~contrib]  # one per item
    return had[~credit], had[credit]


def _refuted(p: Prepared, chan: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether the final log of ``chan`` holds a seq in (lo, hi]."""
    if p.final is None or len(chan) == 0:
        return np.zeros(len(chan), bool)
    f = p.final
    ok = (f.chan >= 0) & (f.seq >= 1)
    fkey = np.sort((f.chan[ok].astype(I64) << 40) | f.seq[ok])
    c = chan.astype(I64) << 40
    n = np.searchsorted(fkey, c | hi, side="right") - np.searchsorted(fkey, c | lo, side="right")
    out: np.ndarray = n > 0
    return out


def _streams(p: Prepared) -> None:
    """Compute ``deliveries`` and ``wire`` (cached on ``p``): linear time, no sort of rows."""
    m = membership(p)
    rows = np.flatnonzero(p.is_kind("recv", "deliver") & (p.chan >= 0))
    seg = m.segment_of(m.compact(p.pair[rows]), rows)
    is_del = p.kind[rows] == K["deliver"]
    orphan = rows[(seg < 0) & is_del]
    outside = rows[(seg < 0) & ~is_del]
    keep = seg >= 0
    rows, seg, is_del = rows[keep], seg[keep], is_del[keep]
    seq = p.seq[rows]
    cr_pos, cr_to = _marks(p)
    cr_seg = m.segment_of(m.compact(p.pair[cr_pos]), cr_pos)
    cr_pos, cr_to, cr_seg = cr_pos[cr_seg >= 0], cr_to[cr_seg >= 0], cr_seg[cr_seg >= 0]
    base = m.seg_base
    had, cr_had = _pass(rows, seg, seq, is_del, cr_pos, cr_seg, cr_to)
    cr_from = np.maximum(cr_had, base[cr_seg])
    jump = cr_to > cr_from
    bad = jump & _refuted(p, p.chan[cr_pos], cr_from, cr_to)
    cr_false = cr_pos[bad]
    if bad.any() or not jump.all():  # again, with the excused truncations only
        ok = jump & ~bad
        cr_pos, cr_seg, cr_to = cr_pos[ok], cr_seg[ok], cr_to[ok]
        had, cr_had = _pass(rows, seg, seq, is_del, cr_pos, cr_seg, cr_to)
        cr_from = np.maximum(cr_had, base[cr_seg])
    had = np.maximum(had, base[seg]) if len(seg) else had
    p.cache["deliveries"] = Deliveries(
        pos=rows[is_del],
        seg=seg[is_del],
        seq=seq[is_del],
        before=had[is_del],
        orphan=orphan,
        cr_pos=cr_pos,
        cr_seg=cr_seg.astype(I64),
        cr_from=cr_from,
        cr_to=cr_to,
        cr_false=cr_false,
    )
    r_seq, r_had = seq[~is_del], had[~is_del]
    p.cache["wire"] = Wire(
        duplicates=int(np.sum(r_seq <= r_had)), gaps=int(np.sum(r_seq > r_had + 1)), outside=outside
    )


def deliveries(p: Prepared) -> Deliveries:
    """The per-segment delivery stream (cached on ``p``)."""
    if "deliveries" not in p.cache:
        _streams(p)
    return p.cache["deliveries"]  # type: ignore[no-any-return]


def wire(p: Prepared) -> Wire:
    """Wire-level duplicates and live-push gaps (cached on ``p``)."""
    if "wire" not in p.cache:
        _streams(p)
    return p.cache["wire"]  # type: ignore[no-any-return]
