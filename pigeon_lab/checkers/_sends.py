"""Who sent what: the sends of a history, for judging what observers and the final log hold.

Shared by ``order`` (phantoms), ``durability`` (definite failures), ``idempotence`` and
``isolation`` (cross-tenant messages, true senders). A message is identified by its
(channel, client_msg_id) pair, the server's dedupe key (the channel id already includes the
workspace). Almost every ``client_msg_id`` is sent on one channel by one user, so each
question is answered per ``client_msg_id`` by lookup; the few ids sent on several channels
or by several users are answered exactly from the pairs (or triples) they were sent with.

Pre-run messages: a channel's seqs up to the lowest ``head_seq`` any ``join_ok`` of the
history reported existed before any client of the run could send there (a send needs a
join, and is stored after it), so they are not expected to match a send.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pigeon_lab.checkers._prep import I64, K, Prepared
from pigeon_lab.protocol.errors import error_code

SEND_KINDS = ("send_invoke", "send_ok", "send_info", "send_fail")
#: rows that say which workspace a user belongs to
USER_KINDS = ("connect", "join", "join_ok", "send_invoke")
NONE, SEVERAL = -1, -2


def _owner(keys: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per key, its one value, NONE when it has none or SEVERAL when it has several."""
    out = np.full(max(size, 1), NONE, I64)
    out[keys] = values
    out[keys[out[keys] != values]] = SEVERAL
    return out


def _refused_every_attempt(
    p: Prepared, rows: np.ndarray, cm: np.ndarray, invokes: np.ndarray
) -> np.ndarray:
    """Per cmid: a ``send_fail`` whose ``detail`` lists one definite refusal code for each of
    its attempts (as many as its ``send_invoke`` rows): no attempt can have been stored."""
    out = np.zeros(len(invokes), bool)
    fail = p.kind[rows] == K["send_fail"]
    detail = p.col("detail").iloc[rows[fail]].to_numpy()
    for c, d in zip(cm[fail], detail, strict=True):
        if isinstance(d, str) and d:
            codes = d.split(",")
            out[c] = len(codes) == invokes[c] and all(error_code(x).definite for x in codes)
    return out


def _isin_sorted(q: np.ndarray, table: np.ndarray) -> np.ndarray:
    if len(table) == 0 or len(q) == 0:
        return np.zeros(len(q), bool)
    i = np.minimum(np.searchsorted(table, q), len(table) - 1)
    hit: np.ndarray = table[i] == q
    return hit


@dataclass
class Sends:
    """The sends of one history, asked by (channel, client_msg_id[, user])."""

    n_cmid: int
    n_users: int
    chan: np.ndarray  # per cmid: its channel, NONE or SEVERAL
    user: np.ndarray  # per cmid: its sending user, NONE or SEVERAL
    ws_lo: np.ndarray  # per cmid: lowest and highest workspace of its senders (-1: none)
    ws_hi: np.ndarray
    pairs: np.ndarray  # sorted chan * n_cmid + cmid of the cmids with SEVERAL channels
    triple_pairs: np.ndarray  # sorted pair keys of cmids with several channels or users
    triples: np.ndarray  # sorted pair index * n_users + user of those
    definite: np.ndarray  # per cmid: every attempt definitely refused (send_fail only)
    acked_msg: np.ndarray  # per msg_id code: some send_ok carried it
    bound: np.ndarray  # per channel: seqs <= bound are pre-run
    user_ws: np.ndarray  # per user: its workspace, NONE or SEVERAL
    user_ws_keys: np.ndarray  # sorted ws * n_users + user of users with SEVERAL

    def sent(self, chan: np.ndarray, cmid: np.ndarray) -> np.ndarray:
        """Whether some send of the history had this (channel, client_msg_id)."""
        return self.sent_by(chan, cmid, None)[0]

    def sent_by(
        self, chan: np.ndarray, cmid: np.ndarray, user: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(whether some send had this (channel, client_msg_id), whether ``user`` sent it)."""
        ok = (chan >= 0) & (cmid >= 0)
        cm = np.maximum(cmid, 0)
        c = self.chan[cm]
        sent: np.ndarray = ok & (c == chan)
        amb = np.flatnonzero(ok & (c == SEVERAL))
        if len(amb):
            sent[amb] = _isin_sorted(chan[amb].astype(I64) * self.n_cmid + cmid[amb], self.pairs)
        if user is None:
            return sent, sent
        u = self.user[cm]
        # a send row without a user cannot be held against the sender: count it as theirs
        by: np.ndarray = sent & (((u == user) & (user >= 0)) | (u == NONE))
        amb = np.flatnonzero(sent & (user >= 0) & ((c == SEVERAL) | (u == SEVERAL)))
        if len(amb) and len(self.triple_pairs):
            key = chan[amb].astype(I64) * self.n_cmid + cmid[amb]
            i = np.minimum(np.searchsorted(self.triple_pairs, key), len(self.triple_pairs) - 1)
            found = self.triple_pairs[i] == key
            by[amb] = found & _isin_sorted(i * self.n_users + user[amb], self.triples)
        return sent, by

    def sent_elsewhere(self, cmid: np.ndarray, ws: np.ndarray) -> np.ndarray:
        """Whether a client of a workspace other than ``ws`` sent this client_msg_id."""
        cm = np.maximum(cmid, 0)
        lo, hi = self.ws_lo[cm], self.ws_hi[cm]
        out: np.ndarray = (cmid >= 0) & (lo >= 0) & ((lo != ws) | (hi != ws))
        return out

    def member_user(self, ws: np.ndarray, user: np.ndarray) -> np.ndarray:
        """Whether ``user`` appears in the history as a client of workspace ``ws``."""
        ok = (ws >= 0) & (user >= 0) & (user < len(self.user_ws))
        u = np.maximum(np.minimum(user, len(self.user_ws) - 1), 0)
        w = np.where(ok, self.user_ws[u], NONE)
        out: np.ndarray = ok & (w == ws)
        amb = np.flatnonzero(ok & (w == SEVERAL))
        if len(amb):
            key = ws[amb].astype(I64) * self.n_users + user[amb]
            out[amb] = _isin_sorted(key, self.user_ws_keys)
        return out

    def pre_run(self, chan: np.ndarray, seq: np.ndarray) -> np.ndarray:
        """Whether (channel, seq) was committed before any client of the run joined."""
        out: np.ndarray = (chan >= 0) & (seq <= self.bound[np.maximum(chan, 0)])
        return out


def sends(p: Prepared) -> Sends:
    """The sends of ``p``'s history (cached on ``p``)."""
    if "sends" in p.cache:
        return p.cache["sends"]  # type: ignore[no-any-return]
    ncm = max(p.n_cmid, 1)
    nu = max(len(p.content.users), 1)
    rows = np.flatnonzero(p.is_kind(*SEND_KINDS) & (p.cmid >= 0) & (p.chan >= 0))
    cm, ch = p.cmid[rows], p.chan[rows].astype(I64)
    us, ws = p.user[rows].astype(I64), p.ws[rows].astype(I64)
    chan = _owner(cm, ch, ncm)
    user = _owner(cm[us >= 0], us[us >= 0], ncm)
    ws_lo = np.full(ncm, np.iinfo(I64).max, I64)
    ws_hi = np.full(ncm, -1, I64)
    w = ws >= 0
    np.minimum.at(ws_lo, cm[w], ws[w])
    np.maximum.at(ws_hi, cm[w], ws[w])
    ws_lo = np.where(ws_hi >= 0, ws_lo, -1)
    many_chan = chan[cm] == SEVERAL
    pairs = np.unique(ch[many_chan] * p.n_cmid + cm[many_chan])
    amb = many_chan | (user[cm] == SEVERAL)
    amb &= us >= 0
    tkey = ch[amb] * p.n_cmid + cm[amb]
    triple_pairs = np.unique(tkey)
    triples = np.unique(np.searchsorted(triple_pairs, tkey) * nu + us[amb])
    # definite failures: a send_fail, no ok or info, and one attempt only or every attempt
    # refused (its detail lists each attempt's code)
    kind = p.kind[rows]
    attempt = p.col("attempt").to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    failed = np.bincount(cm[kind == K["send_fail"]], minlength=ncm) > 0
    done = np.bincount(cm[(kind == K["send_ok"]) | (kind == K["send_info"])], minlength=ncm) > 0
    retried = np.bincount(cm[~(attempt <= 1)], minlength=ncm) > 0  # NaN: cannot tell
    invokes = np.bincount(cm[kind == K["send_invoke"]], minlength=ncm)
    single = ~retried & (invokes <= 1)
    every = _refused_every_attempt(p, rows, cm, invokes)
    definite = failed & ~done & (single | every) & (chan >= 0)
    acked_msg = np.zeros(max(p.n_msg, 1), bool)
    acked_msg[p.msg[p.is_kind("send_ok") & (p.msg >= 0)]] = True
    # pre-run bound: the lowest head a join_ok reported on each channel
    nchan = len(p.chan_ws)
    jo = np.flatnonzero(p.is_kind("join_ok") & (p.chan >= 0) & (p.seq >= 0))
    bound = np.full(nchan, np.iinfo(I64).max, I64)
    np.minimum.at(bound, p.chan[jo], p.seq[jo])
    bound = np.where(bound == np.iinfo(I64).max, 0, bound)
    # users per workspace
    ur = np.flatnonzero(p.is_kind(*USER_KINDS) & (p.user >= 0) & (p.ws >= 0))
    uu, uw = p.user[ur].astype(I64), p.ws[ur].astype(I64)
    user_ws = _owner(uu, uw, nu)
    several = user_ws[uu] == SEVERAL
    s = Sends(
        n_cmid=p.n_cmid,
        n_users=nu,
        chan=chan,
        user=user,
        ws_lo=ws_lo,
        ws_hi=ws_hi,
        pairs=pairs,
        triple_pairs=triple_pairs,
        triples=triples,
        definite=definite,
        acked_msg=acked_msg,
        bound=bound,
        user_ws=user_ws,
        user_ws_keys=np.unique(uw[several] * nu + uu[several]),
    )
    p.cache["sends"] = s
    return s
