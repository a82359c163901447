"""Who was joined to which channel when (membership segments).

Shared by the gaps, delivery and isolation checkers (the delivery stream of each
segment is in ``_streams``). A *membership segment* of
a client on a channel starts at a ``join_ok`` whose join carried no
``after_seq`` (a fresh start at the head) or that follows a ``leave``; a re-join
with ``after_seq`` (the client resuming after a reconnect) continues the
segment. Its *base* is the last seq the client had when it started: the join's
``after_seq`` if given, else the ``head_seq`` of the ``join_ok``. From then on
the client algorithm must deliver ``base+1, base+2, ...``.

Conventions read from the history (docs/interfaces.md): a ``join`` row's
``seq`` is its ``after_seq`` (null when none); a ``join_ok`` row's ``seq`` is
the ``head_seq`` and its ``msg_id`` is null; a ``leave`` row is recorded when
the leave was acknowledged (``error`` set when it failed).

Everything is keyed by ``key = pair << POS_BITS | pos`` where ``pos`` is the
row's place in time order, so "the last membership event before this row" is
one ``searchsorted`` over a small sorted array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import I64, POS_BITS, K, Prepared

NONE = -1


@dataclass
class Membership:
    """Segments (index = segment id) and the sorted membership-event keys."""

    pairs: np.ndarray  # sorted unique raw pair ids that had membership events
    seg_pair: np.ndarray  # compact pair index
    seg_client: np.ndarray
    seg_chan: np.ndarray
    seg_base: np.ndarray
    seg_start: np.ndarray  # pos of the join that started it
    seg_end: np.ndarray  # pos of the leave that ended it, or -1
    jo_seg: np.ndarray  # per join_ok (continuations included): segment, pos, head
    jo_pos: np.ndarray
    jo_head: np.ndarray
    ev_key: np.ndarray  # sorted: membership starts (at the join) and leaves
    ev_start: np.ndarray
    ev_seg: np.ndarray
    st_key: np.ndarray  # sorted: starts only
    st_seg: np.ndarray

    def compact(self, raw_pair: np.ndarray) -> np.ndarray:
        """Compact pair index for raw pair ids, -1 for pairs never joined."""
        if len(self.pairs) == 0:
            return np.full(len(raw_pair), NONE, I64)
        top = int(self.pairs[-1]) + 1
        if top <= 64_000_000:  # dense lookup table: linear, no search
            lut = np.full(top + 1, NONE, I64)
            lut[self.pairs] = np.arange(len(self.pairs))
            compacted: np.ndarray = lut[np.clip(raw_pair, -1, top)]
            return compacted
        i = np.minimum(np.searchsorted(self.pairs, raw_pair), len(self.pairs) - 1)
        return np.where(self.pairs[i] == raw_pair, i, NONE)

    def joined_at(self, cpair: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Whether the client was joined (join sent, no acknowledged leave since) at ``pos``."""
        i = _latest(self.ev_key, cpair, pos, len(self.pairs))
        return (i >= 0) & self.ev_start[np.maximum(i, 0)] if len(self.ev_key) else i >= 0

    def segment_of(self, cpair: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """The segment a row belongs to (latest start at or before it, leaves ignored), or -1."""
        i = _latest(self.st_key, cpair, pos, len(self.pairs))
        return np.where(i >= 0, self.st_seg[np.maximum(i, 0)], NONE) if len(self.st_key) else i


def _latest(keys: np.ndarray, cpair: np.ndarray, pos: np.ndarray, npairs: int) -> np.ndarray:
    """Index in sorted ``keys`` of the pair's latest event at or before ``pos``, or -1.

    Pairs with a single event (the common case) are answered by lookup; only the
    rows of pairs with several events pay for a binary search.
    """
    out = np.full(len(pos), NONE, I64)
    if len(keys) == 0 or len(pos) == 0:
        return out
    kp = keys >> POS_BITS
    cnt = np.bincount(kp, minlength=npairs + 1)
    first = np.r_[0, np.cumsum(cnt)[:-1]]
    c = np.where(cpair >= 0, cpair, npairs)
    n = np.where(cpair >= 0, cnt[c], 0)
    one = n == 1
    f = first[c[one]]
    out[one] = np.where((keys[f] & ((1 << POS_BITS) - 1)) <= pos[one], f, NONE)
    many = np.flatnonzero(n > 1)
    if len(many):
        q = (cpair[many] << POS_BITS) | pos[many]
        i = np.searchsorted(keys, q, side="right") - 1
        j = np.maximum(i, 0)
        out[many] = np.where((i >= 0) & (kp[j] == cpair[many]), i, NONE)
    return out


def membership(p: Prepared) -> Membership:
    """The membership segments of every client and channel (cached on ``p``)."""
    if "membership" in p.cache:
        return p.cache["membership"]  # type: ignore[no-any-return]
    idx = np.flatnonzero(p.is_kind("join", "join_ok", "join_fail", "leave") & (p.chan >= 0))
    raw = p.pair[idx]
    pairs = np.unique(raw)
    cp = np.searchsorted(pairs, raw).astype(I64)
    order = np.lexsort((idx, cp))
    idx, cp = idx[order], cp[order]
    kind = p.kind[idx]
    seq = p.seq[idx]
    err = p.col("error").to_numpy()[idx] if len(idx) else np.empty(0, object)
    same_prev = np.r_[False, cp[1:] == cp[:-1]]
    prev_is_join = same_prev & np.r_[False, kind[:-1] == K["join"]]
    is_ok = kind == K["join_ok"]
    after = np.where(prev_is_join, np.r_[NONE, seq[:-1]], NONE)
    start_pos = np.where(prev_is_join, np.r_[NONE, idx[:-1]], idx)
    is_leave = (kind == K["leave"]) & pd.isna(err)
    # walk join_oks and acknowledged leaves only
    r = np.flatnonzero(is_ok | is_leave)
    okr = is_ok[r]
    same = np.r_[False, cp[r][1:] == cp[r][:-1]]
    prev_ok = same & np.r_[False, okr[:-1]]
    new_seg_r = okr & ((after[r] < 0) | ~prev_ok)
    seg_r = np.cumsum(new_seg_r) - 1
    # a leave ends the segment of the join_ok just before it (same pair), if any
    seg_of_r = np.where(okr | prev_ok, seg_r, NONE)
    starts = r[new_seg_r]
    nseg = len(starts)
    head = seq[starts]
    base = np.where(after[starts] >= 0, after[starts], np.maximum(head, 0))
    seg_end = np.full(nseg, NONE, I64)
    lv = r[~okr]
    lv_seg = seg_of_r[~okr]
    has = lv_seg >= 0
    seg_end[lv_seg[has]] = idx[lv[has]]
    jo = r[okr]
    ev_key = np.r_[(cp[jo] << POS_BITS) | start_pos[jo], (cp[lv] << POS_BITS) | idx[lv]]
    ev_start = np.r_[np.ones(len(jo), bool), np.zeros(len(lv), bool)]
    ev_seg = np.r_[seg_r[okr], lv_seg]
    o = np.argsort(ev_key, kind="stable")
    st_key = (cp[jo] << POS_BITS) | start_pos[jo]
    so = np.argsort(st_key, kind="stable")
    m = Membership(
        pairs=pairs,
        seg_pair=cp[starts],
        seg_client=p.client[idx[starts]].astype(I64),
        seg_chan=p.chan[idx[starts]].astype(I64),
        seg_base=base.astype(I64),
        seg_start=start_pos[starts].astype(I64),
        seg_end=seg_end,
        jo_seg=seg_r[okr].astype(I64),
        jo_pos=idx[jo].astype(I64),
        jo_head=seq[jo],
        ev_key=ev_key[o],
        ev_start=ev_start[o],
        ev_seg=ev_seg[o].astype(I64),
        st_key=st_key[so],
        st_seg=seg_r[okr][so].astype(I64),
    )
    p.cache["membership"] = m
    return m


def running_max(
    group: np.ndarray, val: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive and exclusive running max of ``val`` within contiguous groups.

    Each group's running max starts at ``start[group]``; one pass of
    ``maximum.accumulate`` over values lifted by a per-group offset that keeps
    groups apart (groups are sorted, so offsets only grow).
    """
    if len(val) == 0:
        return val.copy(), val.copy()
    lo = min(int(val.min()), int(start.min()) if len(start) else 0) - 1
    span = max(int(val.max()), int(start.max()) if len(start) else 0) - lo + 2
    first = np.r_[True, group[1:] != group[:-1]]
    rank = np.cumsum(first) - 1
    off = rank.astype(I64) * span
    lifted = np.maximum(val - lo, np.where(first, start[group] - lo, 0)) + off
    run = np.maximum.accumulate(lifted) - off + lo
    before = np.where(first, start[group], np.r_[0, run[:-1]])
    return run, before
