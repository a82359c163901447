"""The history as integer arrays, computed once and shared by every checker.

Checkers compare strings (channels, message ids, users) across millions of
rows; doing that on strings is slow, so each string column becomes integer
codes once, and the final log is mapped into the same code spaces (values it
alone holds get new codes). Rows are put in time order (``t``) so that
"previous event of this client on this channel" is a grouped shift, never a
Python loop. ``prepare`` caches the last result by identity of the history
and context, so ``check_all`` pays for it once; the cache is transparent.

Seqs out of range never crash the preparation: a message seq below 1 (a
``join_ok`` head below 0), or one far outside the dense run of seqs its
channel holds, is set aside (``seq_bad``, ``Final.bad``) for the ``order``
checker to report and is null for every other checker. Slots are dense per
channel from its lowest seq to its highest (an external target whose seqs
start high costs nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from pigeon_lab.checkers._codes import (
    codes_of,
    columns_of,
    float_col,
    int_col,
    map_into,
    records,
    take_records,
    with_columns,
)
from pigeon_lab.checkers._readback import Readback, readback
from pigeon_lab.checkers._seqs import main_runs, ranges
from pigeon_lab.checkers.base import CheckContext, Outcome, Verdict
from pigeon_lab.history.schema import HISTORY_COLUMNS, KINDS

__all__ = [  # the helpers of _codes are re-exported: checkers import them from here
    "ERROR_KINDS",
    "I64",
    "NORMAL_CLOSE",
    "OBS_KINDS",
    "POS_BITS",
    "K",
    "Prepared",
    "Readback",
    "codes_of",
    "first",
    "float_col",
    "int_col",
    "judge",
    "map_into",
    "prepare",
    "readback",
    "records",
    "vacuous_is_unknown",
    "with_columns",
]

K = {name: i for i, name in enumerate(KINDS)}
#: kinds whose rows name a message (seq + msg_id) as some observer saw it
OBS_KINDS = ("recv", "deliver", "sync_ok", "send_ok", "join_ok")
#: kinds that are errors on the client's side (for the SLO timeline and faults)
ERROR_KINDS = ("connect_error", "join_fail", "send_fail", "send_info")
#: disconnect reasons of a close the client made itself (python-socketio's and the lean
#: client's "client disconnect"; the adversary's "client"): the normal end of a run
NORMAL_CLOSE = frozenset({"client disconnect", "client"})
#: message kinds whose seq must be >= 1 (a sync_ok without ids is an ack: seq = head >= 0)
MSG_KINDS = ("recv", "deliver", "sync_ok", "send_ok")
POS_BITS = 34  # row positions < 2**34; pair/chan ids above them in one int64 key

I64 = np.int64
NULL = np.iinfo(np.int64).min  # a null integer while reading (-1 is a value there)


@dataclass
class Final:
    """The final log in the history's code spaces; ``slot`` indexes (channel, seq)."""

    chan: np.ndarray
    seq: np.ndarray  # -1 where null or out of range
    msg: np.ndarray
    cmid: np.ndarray
    row: np.ndarray  # row number in ctx.final_log
    bad: np.ndarray  # row numbers whose seq is out of range


@dataclass
class Content:
    """Sender and body-hash codes of the history (time order) and of the final log, each
    pair in one code space; ``users`` extends ``Prepared.users`` with senders alone."""

    sender: np.ndarray
    body: np.ndarray
    f_sender: np.ndarray
    f_body: np.ndarray
    users: pd.Index


@dataclass
class Prepared:
    """Code arrays of one history, in time order (``rowid`` maps back to history rows)."""

    history: pd.DataFrame
    ctx: CheckContext
    n: int
    rowid: np.ndarray
    in_order: bool  # the history was already in time order: rowid is the identity
    t: np.ndarray
    kind: np.ndarray
    client: np.ndarray
    clients: pd.Index
    user: np.ndarray
    users: pd.Index
    ws: np.ndarray
    wss: pd.Index
    chan: np.ndarray  # (workspace, channel) id, -1 when no channel
    chan_ws: np.ndarray  # per chan id: workspace code
    chan_name: list[str]
    seq: np.ndarray  # -1 where null or out of range
    seq_bad: np.ndarray  # positions of observations whose seq is out of range
    msg: np.ndarray
    n_msg: int
    cmid: np.ndarray
    n_cmid: int
    final: Final | None
    slot_off: np.ndarray  # per chan: first slot; slot = slot_off[chan] + seq - slot_lo[chan]
    slot_lo: np.ndarray  # per chan: lowest seq with a slot
    slot_hi: np.ndarray  # per chan: highest seq with a slot (lo - 1 when none)
    n_slots: int
    cache: dict[str, Any] = field(default_factory=dict)

    def col(self, name: str) -> pd.Series:
        """A raw history column in time order (for the few columns without codes); all null
        when the history lacks it (an older writer)."""
        if name not in self.history.columns:
            return pd.Series([None] * self.n, dtype=object)
        s = self.history[name]
        return s if self.in_order else s.take(self.rowid)

    def is_kind(self, *names: str) -> np.ndarray:
        """Boolean mask of rows whose kind is one of ``names`` (cached: checkers ask often;
        treat it as read-only)."""
        key = "kind:" + ",".join(sorted(names))
        mask: np.ndarray | None = self.cache.get(key)
        if mask is None:
            mask = self.kind == K[names[0]]
            for n in names[1:]:
                mask |= self.kind == K[n]
            mask.flags.writeable = False
            self.cache[key] = mask
        return mask

    def slots(self, chan: np.ndarray, seq: np.ndarray) -> np.ndarray:
        """Dense id of (channel, seq); -1 where either is missing or seq has no slot."""
        if len(self.slot_lo) == 0:
            return np.full(len(chan), -1, I64)
        c = np.maximum(chan, 0)
        ok = (chan >= 0) & (seq >= self.slot_lo[c]) & (seq <= self.slot_hi[c])
        out = np.full(len(chan), -1, I64)
        out[ok] = self.slot_off[chan[ok]] + seq[ok] - self.slot_lo[chan[ok]]
        return out

    def slot_seq(self, c: int, slot: int) -> int:
        """The seq of ``slot`` in channel ``c``."""
        return int(slot - self.slot_off[c] + self.slot_lo[c])

    @cached_property
    def chan_of_slot(self) -> np.ndarray:
        """Per slot, its channel id."""
        sizes = self.slot_hi - self.slot_lo + 1
        return np.repeat(np.arange(len(sizes)), sizes)

    @cached_property
    def content(self) -> Content:
        """Sender and body-hash codes (computed on first use: not every checker needs them)."""
        snd, users = map_into(self.col("sender").reset_index(drop=True), self.users)
        body, bcats = codes_of(self.col("body_hash").reset_index(drop=True))
        fl = self.ctx.final_log
        if fl is None:
            return Content(snd, body, np.empty(0, np.int32), np.empty(0, np.int32), users)
        fl = with_columns(fl, ("sender", "body_hash"))
        f_snd, users = map_into(fl["sender"].reset_index(drop=True), users)
        f_body, _ = map_into(fl["body_hash"].reset_index(drop=True), bcats)
        return Content(snd, body, f_snd, f_body, users)

    @cached_property
    def slot(self) -> np.ndarray:
        return self.slots(self.chan, self.seq)

    @cached_property
    def pair(self) -> np.ndarray:
        """(client, channel) id per row, -1 when no channel."""
        nch = max(len(self.chan_ws), 1)
        return np.where(self.chan >= 0, self.client.astype(I64) * nch + self.chan, -1)

    def chan_label(self, c: int) -> tuple[str | None, str]:
        w = int(self.chan_ws[c])
        return (str(self.wss[w]) if 0 <= w < len(self.wss) else None), self.chan_name[c]

    def rows(self, idx: np.ndarray | list[int], limit: int = 20) -> list[dict[str, Any]]:
        """History rows (positions in time order) as JSON-ready dicts, non-null fields only."""
        take = self.rowid[np.asarray(idx, dtype=I64)[:limit]]
        return take_records(self._h_columns, take)

    def final_rows(self, idx: np.ndarray | list[int], limit: int = 20) -> list[dict[str, Any]]:
        out = take_records(self._f_columns, np.asarray(idx, dtype=I64)[:limit])
        for r in out:
            r["source"] = "final_log"
        return out

    @cached_property
    def _h_columns(self) -> list[tuple[str, Any]]:
        return columns_of(self.history)

    @cached_property
    def _f_columns(self) -> list[tuple[str, Any]]:
        assert self.ctx.final_log is not None
        return columns_of(self.ctx.final_log)


_LAST: list[Prepared] = []


def prepare(history: pd.DataFrame, ctx: CheckContext) -> Prepared:
    """The prepared arrays of ``history`` (cached for the last history/context pair)."""
    if _LAST and _LAST[0].history is history and _LAST[0].ctx is ctx:
        return _LAST[0]
    p = _prepare(history, ctx)
    _LAST[:] = [p]
    return p


def clear_cache() -> None:
    _LAST.clear()


def _prepare(history: pd.DataFrame, ctx: CheckContext) -> Prepared:
    h = with_columns(history, HISTORY_COLUMNS)
    n = len(h)
    t = h["t"].to_numpy(dtype=I64)
    in_order = n < 2 or bool(np.all(t[1:] >= t[:-1]))
    rowid = np.arange(n, dtype=I64) if in_order else np.argsort(t, kind="stable")

    def perm(a: np.ndarray) -> np.ndarray:
        return a if in_order else a[rowid]

    kcodes, kcats = codes_of(h["kind"])
    lut = pd.Index(KINDS).get_indexer(kcats.astype(str)).astype(np.int8)
    lut = np.where(lut < 0, len(KINDS), lut).astype(np.int8)  # unknown kinds: own bucket
    kind = perm(
        np.where(kcodes >= 0, lut[np.maximum(kcodes, 0)] if len(lut) else 0, len(KINDS)).astype(
            np.int8
        )
    )
    client, clients = codes_of(h["client"])
    user, users = codes_of(h["user"])
    ws, wss = codes_of(h["workspace"])
    chn, chnames = codes_of(h["channel"])
    raw_seq = perm(int_col(h["seq"], NULL))
    msg, msg_cats = codes_of(h["msg_id"])
    cmid, cmid_cats = codes_of(h["client_msg_id"])
    msg, cmid = perm(msg), perm(cmid)

    fl = ctx.final_log
    f_ws = f_ch = f_msg = f_cmid = np.empty(0, np.int32)
    f_raw_seq = np.empty(0, I64)
    if fl is not None:
        fl = with_columns(fl, ("workspace", "channel", "seq", "msg_id", "client_msg_id"))
        f_ws, wss = map_into(fl["workspace"], wss)
        f_ch, chnames = map_into(fl["channel"], chnames)
        f_msg, msg_cats = map_into(fl["msg_id"], msg_cats)
        f_cmid, cmid_cats = map_into(fl["client_msg_id"], cmid_cats)
        f_raw_seq = int_col(fl["seq"], NULL)
    nws, nch = len(wss) + 1, max(len(chnames), 1)
    # (workspace, channel) -> one dense channel id; a null workspace is its own bucket
    raw = np.where(chn >= 0, np.where(ws >= 0, ws, nws - 1).astype(I64) * nch + chn, -1)
    f_raw = np.where(f_ch >= 0, np.where(f_ws >= 0, f_ws, nws - 1).astype(I64) * nch + f_ch, -1)
    both = np.concatenate([raw, f_raw])
    uniq = np.unique(both[both >= 0]) if nws * nch > 4 * len(both) + 1024 else None
    if uniq is None:
        present = np.zeros(nws * nch, bool)
        present[both[both >= 0]] = True
        remap = np.cumsum(present) - 1
        ids = np.flatnonzero(present)
        chan = np.where(raw >= 0, remap[np.maximum(raw, 0)], -1)
        f_chan = np.where(f_raw >= 0, remap[np.maximum(f_raw, 0)], -1)
    else:
        ids = uniq
        chan = np.where(raw >= 0, np.searchsorted(uniq, raw), -1)
        f_chan = np.where(f_raw >= 0, np.searchsorted(uniq, f_raw), -1)
    chan_ws = np.where(ids // nch == nws - 1, -1, ids // nch)
    chan_name = [str(x) for x in chnames[ids % nch]] if len(ids) else []
    chan = perm(chan.astype(np.int32))
    f_chan = f_chan.astype(np.int32)

    # seqs: null -> -1; below the protocol's range -> set aside; then dense slots per channel
    obs = _obs_mask(kind, msg, cmid)
    least = np.where(kind == K["join_ok"], 0, np.where(obs, 1, 0))
    low = (raw_seq != NULL) & (raw_seq < least)
    seq = np.where((raw_seq == NULL) | low, -1, raw_seq)
    f_low = (f_raw_seq != NULL) & (f_raw_seq < 1)
    f_seq = np.where((f_raw_seq == NULL) | f_low, -1, f_raw_seq)
    nchan = len(ids)
    budget = max(64_000_000, 8 * (n + len(f_seq)))
    h_ok = (chan >= 0) & (seq >= 0)
    f_ok = (f_chan >= 0) & (f_seq >= 0)
    lo, hi = ranges(nchan, chan[h_ok], seq[h_ok], f_chan[f_ok], f_seq[f_ok])
    if int((hi - lo + 1).sum()) > budget:  # a few absurd seqs: keep each channel's main run
        keep = main_runs(
            np.r_[chan[h_ok], f_chan[f_ok]], np.r_[seq[h_ok], f_seq[f_ok]], budget, nchan
        )
        h_out = np.flatnonzero(h_ok)[~keep[: int(h_ok.sum())]]
        f_out = np.flatnonzero(f_ok)[~keep[int(h_ok.sum()) :]]
        low[h_out] = True
        seq[h_out] = -1
        f_low[f_out] = True
        f_seq[f_out] = -1
        h_ok[h_out] = False
        f_ok[f_out] = False
        lo, hi = ranges(nchan, chan[h_ok], seq[h_ok], f_chan[f_ok], f_seq[f_ok])
    sizes = hi - lo + 1
    off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(I64)
    final = None
    if fl is not None:
        final = Final(
            chan=f_chan,
            seq=f_seq,
            msg=f_msg,
            cmid=f_cmid,
            row=np.arange(len(fl), dtype=I64),
            bad=np.flatnonzero(f_low),
        )
    return Prepared(
        history=history,
        ctx=ctx,
        n=n,
        rowid=rowid,
        in_order=in_order,
        t=perm(t),
        kind=kind,
        client=perm(client),
        clients=clients,
        user=perm(user),
        users=users,
        ws=perm(ws),
        wss=wss,
        chan=chan,
        chan_ws=chan_ws,
        chan_name=chan_name,
        seq=seq,
        seq_bad=np.flatnonzero(low & (obs | (kind == K["join_ok"]))),
        msg=msg,
        n_msg=len(msg_cats),
        cmid=cmid,
        n_cmid=len(cmid_cats),
        final=final,
        slot_off=off,
        slot_lo=lo,
        slot_hi=hi,
        n_slots=int(sizes.sum()),
    )


def _obs_mask(kind: np.ndarray, msg: np.ndarray, cmid: np.ndarray) -> np.ndarray:
    """Rows that report a message (a sync_ok without ids is the ack of a sync, not one)."""
    lut = np.zeros(len(KINDS) + 1, bool)
    for k in MSG_KINDS:
        lut[K[k]] = True
    mask: np.ndarray = lut[kind] & ((kind != K["sync_ok"]) | (msg >= 0) | (cmid >= 0))
    return mask


def judge(violations: int, undecided: int | bool) -> Outcome:
    """fail on any definite violation; else unknown if anything was undecidable; else pass."""
    if violations:
        return Outcome.FAIL
    return Outcome.UNKNOWN if undecided else Outcome.PASS


def vacuous_is_unknown(verdict: Verdict, evidence: int, what: str) -> Verdict:
    """A pass with nothing examined proves nothing (an empty history, a backend that refused
    every send): report it as unknown, saying what was missing."""
    if verdict.outcome is not Outcome.PASS or evidence > 0:
        return verdict
    return replace(verdict, outcome=Outcome.UNKNOWN, summary=f"nothing to judge: no {what}")


def first(mask: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first ``k`` true entries."""
    return np.flatnonzero(mask)[:k]
