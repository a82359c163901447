"""Invariant 1, durability: acknowledged writes survive, definitely refused ones do not.

Sound because a ``send_ok`` carrying ``seq = s`` is the server's promise that
the message is stored at ``s``; the quiescent read-back is what survived. If
the final log of a completely read-back channel has nothing at ``s``, or a
different message there, an acknowledged write was lost (Jepsen's lost
write). ``send_info`` is never counted: its outcome is unknown. Channels whose
read-back is incomplete, and seqs below a retention-truncated read-back, are
undecidable, as is a history cut short (acks may be missing), so they give
``unknown``, never ``pass``.

Definite failures: a send whose only attempt ended ``send_fail`` was refused by
the server (a protocol error code that says "not done"); finding its
(channel, client_msg_id) in the final log, or observed by any client, is a
violation: the refusal was a lie. A send retried before it failed may have been
stored by an earlier attempt that timed out, so only a failure whose every attempt
was definitely refused (one attempt, or a ``detail`` listing a definite code per
attempt) and no ``send_ok``/``send_info`` of the same pair is judged.

Also reported (a metric, not a failure): acknowledged messages that no client
ever read (``recv``, ``sync_ok`` or ``deliver``), Jepsen's "never read".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import (
    I64,
    Prepared,
    first,
    judge,
    prepare,
    readback,
    vacuous_is_unknown,
)
from pigeon_lab.checkers._sends import sends
from pigeon_lab.checkers.base import CheckContext, Counterexample, Outcome, Verdict, register

NAME = "durability"
PROVES = (
    "Every acknowledged send is in the final log at its seq with the same message, and no "
    "definitely refused send was stored."
)
BLIND_SPOTS = (
    "sends whose outcome is unknown (send_info): they may or may not be stored",
    "channels whose read-back is incomplete, and seqs below a retention-truncated read-back",
    "refused sends retried after an attempt of unknown outcome (it may have been stored)",
    "writes lost after the quiescent read-back",
)


@register(NAME, needs=("acks", "seqs", "history"))
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Every send_ok (c, s) is in c's final log at s, same msg_id, client_msg_id and body."""
    p = prepare(history, ctx)
    acks = np.flatnonzero(p.is_kind("send_ok"))
    if ctx.final_log is None or p.final is None:
        return Verdict(
            NAME,
            Outcome.UNKNOWN,
            "no final log (read-back missing): cannot tell whether acknowledged writes survived",
            counts={"acked": len(acks)},
        )
    rb = readback(p)
    f = p.final
    fslot = p.slots(f.chan, f.seq)
    fv = fslot >= 0
    present = np.zeros(p.n_slots, bool)
    present[fslot[fv]] = True
    frow = np.full(p.n_slots, -1, I64)
    frow[fslot[fv]] = f.row[fv]
    fmsg = np.full(p.n_slots, -1, np.int32)
    fmsg[fslot[fv]] = f.msg[fv]
    fcmid = np.full(p.n_slots, -1, np.int32)
    fcmid[fslot[fv]] = f.cmid[fv]
    a_body = p.content.body[acks]
    fbody = np.full(p.n_slots, -1, np.int32)
    fbody[fslot[fv]] = p.content.f_body[fv]

    s = p.slot[acks]
    chan = p.chan[acks]
    malformed = s < 0  # an ack without channel or seq proves nothing
    ss = np.maximum(s, 0)
    decidable = ~malformed & rb.decidable[np.maximum(chan, 0)]
    # a truncated read-back may legitimately lack the oldest messages
    fmin = np.full(len(p.chan_ws), np.iinfo(I64).max, I64)
    np.minimum.at(fmin, f.chan[fv], f.seq[fv])
    below = rb.truncated[np.maximum(chan, 0)] & (p.seq[acks] < fmin[np.maximum(chan, 0)])
    decidable &= ~below
    here = present[ss]
    missing = decidable & ~here

    def differs(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        out: np.ndarray = (mine >= 0) & (theirs != mine)
        return out

    wrong = (
        decidable
        & here
        & (
            differs(p.msg[acks], fmsg[ss])
            | differs(p.cmid[acks], fcmid[ss])
            | differs(a_body, fbody[ss])
        )
    )
    lost = missing | wrong
    refused, nstored, stored = _refused_but_stored(p)
    nlost = int(lost.sum()) + nstored
    undecided = int((~decidable).sum())

    read = np.zeros(p.n_slots, bool)
    rs = p.slot[p.is_kind("recv", "deliver", "sync_ok")]
    read[rs[rs >= 0]] = True
    never_read = int((~malformed & ~read[ss]).sum())

    examples = []
    for i in first(lost, ctx.max_counterexamples):
        ws, ch = p.chan_label(int(chan[i]))
        seq = int(p.seq[acks[i]])
        rows = p.rows([acks[i]])
        what = "missing from" if missing[i] else "different in"
        if here[i]:
            rows += p.final_rows([int(frow[ss[i]])])
        examples.append(
            Counterexample(f"acknowledged write {ws}/{ch} seq {seq} is {what} the final log", rows)
        )
    for proof, fail_row in stored[: max(0, ctx.max_counterexamples - len(examples))]:
        examples.append(
            Counterexample(
                "a definitely refused send (send_fail) was stored",
                p.rows([fail_row]) + proof,
            )
        )
    counts = {
        "acked": len(acks),
        "checked": int(decidable.sum()),
        "lost": int(missing.sum()),
        "mismatched": int(wrong.sum()),
        "definite_failures": refused,
        "refused_but_stored": nstored,
        "undecidable": undecided,
    }
    incomplete = not ctx.complete
    outcome = judge(nlost, undecided or incomplete)
    if nlost:
        summary = (
            f"{int(lost.sum())} of {len(acks)} acknowledged writes lost or changed in the final "
            f"log; {nstored} of {refused} definitely refused sends stored"
        )
    elif incomplete:
        summary = "history cut short: acknowledged writes so far survived, but the run is partial"
    elif undecided:
        summary = (
            f"no loss among {int(decidable.sum())} checked acks; {undecided} undecidable "
            "(incomplete or truncated read-back, malformed acks)"
        )
    else:
        summary = (
            f"all {len(acks)} acknowledged writes are in the final log; none of {refused} "
            "refused sends is"
        )
    verdict = Verdict(
        NAME,
        outcome,
        summary,
        counts=counts,
        counterexamples=examples,
        metrics={"acked_never_read": never_read},
    )
    # a backend that refused every send proves nothing (docs/invariants.md)
    return vacuous_is_unknown(verdict, len(acks), "acknowledged sends")


def _refused_but_stored(
    p: Prepared,
) -> tuple[int, int, list[tuple[list[dict[str, object]], int]]]:
    """(definite failures, how many were stored, the first [(rows proving it, its send_fail
    row)]); a refused pair is stored when the final log or any observer holds it."""
    s = sends(p)
    fails = np.flatnonzero(p.is_kind("send_fail") & (p.cmid >= 0) & (p.chan >= 0))
    fails = fails[s.definite[p.cmid[fails]]]
    if len(fails) == 0:
        return 0, 0, []
    key = np.full(max(p.n_cmid, 1), -1, I64)  # per refused cmid, its channel
    key[p.cmid[fails]] = p.chan[fails]
    fail_of = np.full(max(p.n_cmid, 1), -1, I64)
    fail_of[p.cmid[fails]] = fails
    seen: dict[int, list[dict[str, object]]] = {}
    obs = np.flatnonzero(p.is_kind("recv", "deliver", "sync_ok") & (p.cmid >= 0))
    hit = obs[key[p.cmid[obs]] == p.chan[obs]]
    for i in hit[: 4 * p.ctx.max_counterexamples]:
        seen.setdefault(int(p.cmid[i]), p.rows([int(i)]))
    if p.final is not None:
        f = p.final
        ok = np.flatnonzero((f.cmid >= 0) & (f.chan >= 0))
        fhit = ok[key[f.cmid[ok]] == f.chan[ok]]
        for j in fhit[: 4 * p.ctx.max_counterexamples]:
            seen[int(f.cmid[j])] = p.final_rows([int(j)])
        stored = np.union1d(np.unique(f.cmid[fhit]), np.unique(p.cmid[hit]))
    else:
        stored = np.unique(p.cmid[hit])
    k = p.ctx.max_counterexamples
    out = [(seen.get(int(c), []), int(fail_of[c])) for c in stored[:k]]
    return len(np.unique(p.cmid[fails])), len(stored), out
