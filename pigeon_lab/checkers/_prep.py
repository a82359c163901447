"""The history as integer arrays, computed once and shared by every checker.

Checkers compare strings (channels, message ids, users) across millions of
rows; doing that on strings is slow, so each string column becomes integer
codes once, and the final log is mapped into the same code spaces (values it
alone holds get new codes). Rows are put in time order (``t``) so that
"previous event of this client on this channel" is a grouped shift, never a
Python loop. ``prepare`` caches the last result by identity of the history
and context, so ``check_all`` pays for it once; the cache is transparent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from pigeon_lab.checkers.base import CheckContext, Outcome, Verdict
from pigeon_lab.history.schema import HISTORY_COLUMNS, KINDS

K = {name: i for i, name in enumerate(KINDS)}
#: kinds whose rows name a message (seq + msg_id) as some observer saw it
OBS_KINDS = ("recv", "deliver", "sync_ok", "send_ok", "join_ok")
#: kinds that are errors on the client's side (for the SLO timeline and faults)
ERROR_KINDS = ("connect_error", "join_fail", "send_fail", "send_info")
POS_BITS = 34  # row positions < 2**34; pair/chan ids above them in one int64 key

I64 = np.int64


def codes_of(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for null) and the categories, without copying categoricals."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int32), s.cat.categories
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes.astype(np.int32), pd.Index(uniques)


def map_into(s: pd.Series, cats: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Codes of ``s`` in the space of ``cats``, extended with values ``cats`` lacks."""
    own, own_cats = codes_of(s)
    lut = (
        cats.get_indexer(own_cats).astype(np.int32)
        if len(cats)
        else np.full(len(own_cats), -1, np.int32)
    )
    new = lut < 0
    if new.any():
        lut[new] = len(cats) + np.arange(int(new.sum()), dtype=np.int32)
        cats = cats.append(own_cats[new])
    out = np.where(own >= 0, lut[np.maximum(own, 0)] if len(lut) else -1, -1).astype(np.int32)
    return out, cats


def int_col(s: pd.Series) -> np.ndarray:
    """A nullable integer column as int64 with -1 for null."""
    return s.to_numpy(dtype=I64, na_value=-1)


def float_col(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def with_columns(df: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """``df`` with any missing column of ``names`` added as nulls (older writers)."""
    missing = [n for n in names if n not in df.columns]
    if not missing:
        return df
    return df.assign(
        **{n: pd.Series([None] * len(df), index=df.index, dtype=object) for n in missing}
    )


@dataclass
class Final:
    """The final log in the history's code spaces; ``slot`` indexes (channel, seq)."""

    chan: np.ndarray
    seq: np.ndarray
    msg: np.ndarray
    cmid: np.ndarray
    row: np.ndarray  # row number in ctx.final_log


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
    seq: np.ndarray
    msg: np.ndarray
    n_msg: int
    cmid: np.ndarray
    n_cmid: int
    final: Final | None
    slot_off: np.ndarray  # per chan: first slot; slot = slot_off[chan] + seq
    n_slots: int
    cache: dict[str, Any] = field(default_factory=dict)

    def col(self, name: str) -> pd.Series:
        """A raw history column in time order (for the few columns without codes)."""
        s = self.history[name]
        return s if self.in_order else s.take(self.rowid)

    def is_kind(self, *names: str) -> np.ndarray:
        """Boolean mask of rows whose kind is one of ``names``."""
        lut = np.zeros(len(KINDS) + 1, bool)
        for n in names:
            lut[K[n]] = True
        mask: np.ndarray = lut[self.kind]
        return mask

    def slots(self, chan: np.ndarray, seq: np.ndarray) -> np.ndarray:
        """Dense id of (channel, seq); -1 where either is missing or seq is negative."""
        ok = (chan >= 0) & (seq >= 0)
        out = np.full(len(chan), -1, I64)
        out[ok] = self.slot_off[chan[ok]] + seq[ok]
        return out

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
        return records(self.history.iloc[take])

    def final_rows(self, idx: np.ndarray | list[int], limit: int = 20) -> list[dict[str, Any]]:
        assert self.ctx.final_log is not None
        out = records(self.ctx.final_log.iloc[np.asarray(idx, dtype=I64)[:limit]])
        for r in out:
            r["source"] = "final_log"
        return out


def _py(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values, dropping nulls."""
    out = []
    for rec in df.astype(object).to_dict("records"):
        values = {str(k): _py(v) for k, v in rec.items()}
        out.append({k: v for k, v in values.items() if v is not None})
    return out


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
    seq = perm(int_col(h["seq"]))
    msg, msg_cats = codes_of(h["msg_id"])
    cmid, cmid_cats = codes_of(h["client_msg_id"])

    fl = ctx.final_log
    f_ws = f_ch = f_msg = f_cmid = f_seq = np.empty(0, np.int32)
    if fl is not None:
        fl = with_columns(fl, ("workspace", "channel", "seq", "msg_id", "client_msg_id"))
        f_ws, wss = map_into(fl["workspace"], wss)
        f_ch, chnames = map_into(fl["channel"], chnames)
        f_msg, msg_cats = map_into(fl["msg_id"], msg_cats)
        f_cmid, cmid_cats = map_into(fl["client_msg_id"], cmid_cats)
        f_seq = int_col(fl["seq"])
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

    # dense slots: per channel, seqs 0..max
    nchan = len(ids)
    mx = np.full(nchan, -1, I64)
    ok = (chan >= 0) & (seq >= 0)
    np.maximum.at(mx, chan[ok], seq[ok])
    final = None
    if fl is not None:
        okf = (f_chan >= 0) & (f_seq >= 0)
        np.maximum.at(mx, f_chan[okf], f_seq[okf])
        final = Final(
            chan=f_chan.astype(np.int32),
            seq=f_seq,
            msg=f_msg,
            cmid=f_cmid,
            row=np.arange(len(fl), dtype=I64),
        )
    sizes = mx + 1
    if sizes.sum() > max(64_000_000, 8 * n):
        raise ValueError(
            f"sequence numbers too large or sparse for dense slots ({int(sizes.sum())} slots)"
        )
    off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(I64)
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
        msg=perm(msg),
        n_msg=len(msg_cats),
        cmid=perm(cmid),
        n_cmid=len(cmid_cats),
        final=final,
        slot_off=off,
        n_slots=int(sizes.sum()),
    )


@dataclass
class Readback:
    """Per channel id: whether the read-back covers it completely, and what it said."""

    decidable: np.ndarray  # final log of this channel is known to be complete
    truncated: np.ndarray
    head: np.ndarray  # -1 when unknown


def readback(p: Prepared) -> Readback:
    """Read-back state per channel; without a read-back table the final log is trusted."""
    nchan = len(p.chan_ws)
    if p.ctx.final_log is None:
        return Readback(np.zeros(nchan, bool), np.zeros(nchan, bool), np.full(nchan, -1, I64))
    rb = p.ctx.readback
    if rb is None:
        return Readback(np.ones(nchan, bool), np.zeros(nchan, bool), np.full(nchan, -1, I64))
    ids = {p.chan_label(c): c for c in range(nchan)}
    dec, trunc, head = np.zeros(nchan, bool), np.zeros(nchan, bool), np.full(nchan, -1, I64)
    for ws, ch, hs, complete, truncated in zip(
        rb["workspace"],
        rb["channel"],
        rb["head_seq"],
        rb["complete"],
        rb["truncated"],
        strict=True,
    ):
        c = ids.get((None if pd.isna(ws) else str(ws), str(ch)))
        if c is None:
            continue
        dec[c] = bool(complete)
        trunc[c] = bool(truncated)
        head[c] = -1 if pd.isna(hs) else int(hs)
    return Readback(dec, trunc, head)


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
