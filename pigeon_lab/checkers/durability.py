"""Invariant 1, durability: acknowledged writes survive.

Sound because a ``send_ok`` carrying ``seq = s`` is the server's promise that
the message is stored at ``s``; the quiescent read-back is what survived. If
the final log of a completely read-back channel has nothing at ``s``, or a
different message there, an acknowledged write was lost (Jepsen's lost
write). ``send_info`` is never counted: its outcome is unknown. Channels whose
read-back is incomplete, and seqs below a retention-truncated read-back, are
undecidable, as is a history cut short (acks may be missing), so they give
``unknown``, never ``pass``.

Also reported (a metric, not a failure): acknowledged messages that no client
ever read (``recv``, ``sync_ok`` or ``deliver``), Jepsen's "never read".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import (
    I64,
    codes_of,
    first,
    judge,
    map_into,
    prepare,
    readback,
    vacuous_is_unknown,
)
from pigeon_lab.checkers.base import CheckContext, Counterexample, Outcome, Verdict, register

NAME = "durability"


@register(NAME)
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
    # body hashes: codes of the acks' hashes, final log mapped into the same space
    a_body, bcats = codes_of(p.col("body_hash").iloc[acks].reset_index(drop=True))
    if "body_hash" in ctx.final_log.columns:
        f_body, _ = map_into(ctx.final_log["body_hash"].reset_index(drop=True), bcats)
    else:
        f_body = np.full(len(ctx.final_log), -1, np.int32)
    fbody = np.full(p.n_slots, -1, np.int32)
    fbody[fslot[fv]] = f_body[fv]

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
    nlost = int(lost.sum())
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
    counts = {
        "acked": len(acks),
        "checked": int(decidable.sum()),
        "lost": int(missing.sum()),
        "mismatched": int(wrong.sum()),
        "undecidable": undecided,
    }
    incomplete = not ctx.complete
    outcome = judge(nlost, undecided or incomplete)
    if nlost:
        summary = f"{nlost} of {len(acks)} acknowledged writes lost or changed in the final log"
    elif incomplete:
        summary = "history cut short: acknowledged writes so far survived, but the run is partial"
    elif undecided:
        summary = (
            f"no loss among {int(decidable.sum())} checked acks; {undecided} undecidable "
            "(incomplete or truncated read-back, malformed acks)"
        )
    else:
        summary = f"all {len(acks)} acknowledged writes are in the final log"
    verdict = Verdict(
        NAME,
        outcome,
        summary,
        counts=counts,
        counterexamples=examples,
        metrics={"acked_never_read": never_read},
    )
    return vacuous_is_unknown(verdict, len(acks), "acknowledged sends")
