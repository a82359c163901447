"""Invariant 5, idempotent retries.

A client retries a send with the same ``client_msg_id``; the server must store
it once and answer every attempt with the original seq. Sound because a
``client_msg_id`` names one intended message: finding it at two seqs of a
channel's final log means a retry was stored twice (whatever the acks said),
and two acks of one ``client_msg_id`` naming different seqs mean the server
answered a retry as a new message. Sends that ended ``send_info`` may have
been stored, but at most once. Without a final log only the acks can be
compared, so no violation there gives ``unknown``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import I64, judge, prepare, vacuous_is_unknown
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "idempotence"


@register(NAME)
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """No client_msg_id at two seqs of a final log; all acks of one client_msg_id agree."""
    p = prepare(history, ctx)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    acks = np.flatnonzero(p.is_kind("send_ok") & (p.cmid >= 0) & (p.slot >= 0))
    where = np.full(max(p.n_cmid, 1), -1, I64)
    where[p.cmid[acks]] = p.slot[acks]
    split = p.slot[acks] != where[p.cmid[acks]]
    bad_cmids = np.unique(p.cmid[acks][split])
    retried = int((p.col("attempt").to_numpy(dtype=np.float64, na_value=np.nan)[acks] > 1).sum())
    for c in bad_cmids[:k]:
        at = acks[p.cmid[acks] == c]
        a = at[p.slot[at] == where[c]][:1]
        b = at[p.slot[at] != where[c]][:1]
        examples.append(
            Counterexample(
                "one client_msg_id acknowledged at two different seqs", p.rows(np.r_[a, b])
            )
        )
    twice = np.empty(0, I64)
    info_twice = 0
    if p.final is not None:
        f = p.final
        ok = np.flatnonzero((f.cmid >= 0) & (f.chan >= 0))
        key = (f.chan[ok].astype(I64) << 32) | f.cmid[ok].astype(I64)
        dup = pd.Series(key).duplicated(keep=False).to_numpy()
        twice = ok[dup]
        info = np.zeros(max(p.n_cmid, 1), bool)
        info[p.cmid[p.is_kind("send_info") & (p.cmid >= 0)]] = True
        twice_cmids = np.unique(f.cmid[twice])
        info_twice = int(info[twice_cmids].sum()) if len(twice_cmids) else 0
        for c in twice_cmids[: max(0, k - len(examples))]:
            rows = twice[f.cmid[twice] == c]
            sends = np.flatnonzero(
                p.is_kind("send_invoke", "send_ok", "send_info") & (p.cmid == c)
            )[:4]
            examples.append(
                Counterexample(
                    f"client_msg_id stored at {len(rows)} seqs of one channel "
                    f"({'outcome was unknown' if info[c] else 'a retried send'})",
                    p.final_rows(rows, 3) + p.rows(sends),
                )
            )
        stored_twice = len(twice_cmids)
    else:
        stored_twice = 0
    nviol = len(bad_cmids) + stored_twice
    counts = {
        "acks": len(acks),
        "retried_acks": retried,
        "acked_at_two_seqs": len(bad_cmids),
        "stored_twice": stored_twice,
        "info_stored_twice": info_twice,
        "violations": nviol,
    }
    outcome = judge(nviol, p.final is None or not ctx.complete)
    if nviol:
        summary = (
            f"{stored_twice} client_msg_ids stored more than once and {len(bad_cmids)} "
            "acknowledged at different seqs"
        )
    elif p.final is None:
        summary = "acks agree, but without a final log double stores cannot be ruled out"
    else:
        summary = f"every client_msg_id stored once; {retried} retried acks agree"
        if not ctx.complete:
            summary += "; history cut short, so unknown"
    verdict = Verdict(NAME, outcome, summary, counts=counts, counterexamples=examples)
    return vacuous_is_unknown(verdict, counts["acks"], "acknowledged sends")
