"""Invariant 5, idempotent retries.

A client retries a send with the same ``client_msg_id``; the server must store
it once and answer every attempt with the original seq. Sound because a
(channel, ``client_msg_id``) pair, the server's dedupe key, names one intended
message: finding it at two seqs of a channel's final log means a retry was
stored twice (whatever the acks said), and two acks of one pair naming
different seqs mean the server answered a retry as a new message. The same
``client_msg_id`` on two channels is two messages. Sends that ended
``send_info`` may have been stored, but at most once. Without a final log, with
a channel read back incompletely, or in a history cut short, a double store may
be unseen, so no violation gives ``unknown``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import I64, judge, prepare, readback, vacuous_is_unknown
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "idempotence"
PROVES = (
    "No (channel, client_msg_id) is stored at two seqs of the final log, and all acks of one "
    "agree on its seq."
)
BLIND_SPOTS = (
    "retries that reached the server after its dedupe window",
    "double stores in channels whose read-back is incomplete or truncated by retention",
    "retries of sends no client recorded",
)


@register(NAME, needs=("client_ids", "history"))
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """No (channel, client_msg_id) at two seqs of a final log; all its acks agree."""
    p = prepare(history, ctx)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    acks = np.flatnonzero(p.is_kind("send_ok") & (p.cmid >= 0) & (p.slot >= 0))
    ncm = max(p.n_cmid, 1)
    akey = p.chan[acks].astype(I64) * ncm + p.cmid[acks]
    pair, _ = pd.factorize(akey)
    where = np.full(max(len(acks), 1), -1, I64)
    where[pair] = p.slot[acks]
    split = p.slot[acks] != where[pair]
    bad_pairs = np.unique(pair[split])
    retried = int((p.col("attempt").to_numpy(dtype=np.float64, na_value=np.nan)[acks] > 1).sum())
    for c in bad_pairs[:k]:
        at = acks[pair == c]
        a = at[p.slot[at] == where[c]][:1]
        b = at[p.slot[at] != where[c]][:1]
        examples.append(
            Counterexample(
                "one (channel, client_msg_id) acknowledged at two different seqs",
                p.rows(np.r_[a, b]),
            )
        )
    info_twice = stored_twice = unread = 0
    if p.final is not None:
        f = p.final
        ok = np.flatnonzero((f.cmid >= 0) & (f.chan >= 0))
        key = f.chan[ok].astype(I64) * ncm + f.cmid[ok]
        twice = ok[pd.Series(key).duplicated(keep=False).to_numpy()]
        tkeys = np.unique(f.chan[twice].astype(I64) * ncm + f.cmid[twice])
        irows = np.flatnonzero(p.is_kind("send_info") & (p.cmid >= 0) & (p.chan >= 0))
        ikeys = np.unique(p.chan[irows].astype(I64) * ncm + p.cmid[irows])
        info = np.isin(tkeys, ikeys)
        info_twice = int(info.sum())
        stored_twice = len(tkeys)
        room = max(0, k - len(examples))
        for tk, was_info in zip(tkeys[:room], info[:room], strict=True):
            ch, cm = int(tk // ncm), int(tk % ncm)
            rows = twice[(f.chan[twice] == ch) & (f.cmid[twice] == cm)]
            sends = np.flatnonzero(
                p.is_kind("send_invoke", "send_ok", "send_info") & (p.cmid == cm) & (p.chan == ch)
            )[:4]
            examples.append(
                Counterexample(
                    f"client_msg_id stored at {len(rows)} seqs of one channel "
                    f"({'outcome was unknown' if was_info else 'a retried send'})",
                    p.final_rows(rows, 3) + p.rows(sends),
                )
            )
        rb = readback(p)
        used = np.unique(np.r_[f.chan[ok], p.chan[acks]]).astype(I64)
        unread = int((~rb.decidable[used]).sum())
    nviol = len(bad_pairs) + stored_twice
    counts = {
        "acks": len(acks),
        "retried_acks": retried,
        "acked_at_two_seqs": len(bad_pairs),
        "stored_twice": stored_twice,
        "info_stored_twice": info_twice,
        "undecidable": unread,
        "violations": nviol,
    }
    outcome = judge(nviol, p.final is None or not ctx.complete or unread)
    if nviol:
        summary = (
            f"{stored_twice} client_msg_ids stored more than once and {len(bad_pairs)} "
            "acknowledged at different seqs"
        )
    elif p.final is None:
        summary = "acks agree, but without a final log double stores cannot be ruled out"
    else:
        summary = f"every client_msg_id stored once; {retried} retried acks agree"
        if unread:
            summary += f"; {unread} channels not read back completely, so unknown"
        if not ctx.complete:
            summary += "; history cut short, so unknown"
    verdict = Verdict(NAME, outcome, summary, counts=counts, counterexamples=examples)
    return vacuous_is_unknown(verdict, counts["acks"], "acknowledged sends")
