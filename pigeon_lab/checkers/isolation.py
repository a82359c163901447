"""Invariant 6, isolation between tenants, channels and users.

Four checks, each sound on what the client recorded:

* cross-tenant: a row whose ``msg_workspace`` differs from the client's
  workspace, or a message (recv/deliver/sync_ok) whose ``client_msg_id`` was
  sent by a client of another workspace, reached the wrong tenant;
* receipt without membership: a live ``recv`` on a channel when the client had
  no join outstanding or completed (its ``join`` sent, or, with a race-free
  leave ack, after its acknowledged ``leave``) was pushed to a room it was not
  in. The joined interval starts at the ``join`` (the server adds the client to
  the room before it acks, so a push may overtake the ack) and ends at the
  ``leave`` ack (later pushes cannot have been queued before it);
* every ``adversarial`` attempt was refused (``error`` not ``"accepted"``);
* spoofed sender: a message's ``sender`` is not the user whose client sent its
  ``client_msg_id`` (mapped from ``send_invoke`` rows; ids sent by several
  users, or by no recorded client, are skipped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._membership import membership
from pigeon_lab.checkers._prep import Prepared, judge, map_into, prepare, vacuous_is_unknown
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "isolation"
UNKNOWN, AMBIGUOUS = -1, -2


def _owner(p: Prepared, codes: np.ndarray) -> np.ndarray:
    """Per client_msg_id, the one value of ``codes`` on its send_invoke rows (or -1/-2)."""
    inv = np.flatnonzero(p.is_kind("send_invoke") & (p.cmid >= 0) & (codes >= 0))
    out = np.full(max(p.n_cmid, 1), UNKNOWN, np.int64)
    out[p.cmid[inv]] = codes[inv]
    amb = codes[inv] != out[p.cmid[inv]]
    out[p.cmid[inv][amb]] = AMBIGUOUS
    return out


@register(NAME)
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """No other workspace's events, no recv outside membership, attacks refused, true senders."""
    p = prepare(history, ctx)
    k = ctx.max_counterexamples
    msgs = p.is_kind("recv", "deliver", "sync_ok")
    # 1. cross-tenant
    mws, _ = map_into(p.col("msg_workspace"), p.wss)
    foreign = (mws >= 0) & (mws != p.ws)
    ws_owner = _owner(p, p.ws)
    has = msgs & (p.cmid >= 0)
    ow = np.where(has, ws_owner[np.maximum(p.cmid, 0)], UNKNOWN)
    foreign |= has & (ow >= 0) & (ow != p.ws)
    # 2. recv outside membership
    m = membership(p)
    r = np.flatnonzero(p.is_kind("recv") & (p.chan >= 0))
    outside = r[~m.joined_at(m.compact(p.pair[r]), r)]
    # 3. adversarial attempts accepted
    adv = np.flatnonzero(p.is_kind("adversarial"))
    err = p.col("error").to_numpy()[adv] if len(adv) else np.empty(0, object)
    accepted = adv[np.asarray([e == "accepted" for e in err], bool)] if len(adv) else adv
    # 4. spoofed senders
    snd, _ = map_into(p.col("sender"), p.users)
    u_owner = _owner(p, p.user)
    uo = np.where(has, u_owner[np.maximum(p.cmid, 0)], UNKNOWN)
    spoofed = has & (uo >= 0) & (snd >= 0) & (snd != uo)
    foreign_idx = np.flatnonzero(foreign)
    spoof_idx = np.flatnonzero(spoofed)

    examples: list[Counterexample] = []

    def add(idx: np.ndarray, what: str, with_send: bool = False) -> None:
        for i in idx[: max(0, k - len(examples))]:
            rows = p.rows([int(i)])
            if with_send:
                rows += p.rows(np.flatnonzero(p.is_kind("send_invoke") & (p.cmid == p.cmid[i]))[:1])
            examples.append(Counterexample(f"client {p.clients[p.client[i]]}: {what}", rows))

    add(foreign_idx, "received an event of another workspace", True)
    add(outside, "received a message on a channel it had not joined or had left")
    add(accepted, "an adversarial attempt was accepted")
    add(spoof_idx, "message sender differs from the user who sent it", True)
    counts = {
        "cross_tenant": len(foreign_idx),
        "recv_without_join": len(outside),
        "adversarial": len(adv),
        "adversarial_accepted": len(accepted),
        "spoofed_sender": len(spoof_idx),
        "checked_senders": int((has & (uo >= 0) & (snd >= 0)).sum()),
    }
    nviol = len(foreign_idx) + len(outside) + len(accepted) + len(spoof_idx)
    counts["violations"] = nviol
    outcome = judge(nviol, not ctx.complete)
    if nviol:
        summary = (
            f"{len(foreign_idx)} cross-tenant events, {len(outside)} receipts outside "
            f"membership, {len(accepted)} adversarial attempts accepted, "
            f"{len(spoof_idx)} spoofed senders"
        )
    else:
        summary = (
            f"no cross-tenant event or receipt outside membership; {len(adv)} adversarial "
            f"attempts refused; {counts['checked_senders']} senders verified"
        )
        if not ctx.complete:
            summary += "; history cut short, so unknown"
    verdict = Verdict(NAME, outcome, summary, counts=counts, counterexamples=examples)
    evidence = counts["checked_senders"] + counts["adversarial"]
    return vacuous_is_unknown(verdict, evidence, "received messages or adversarial attempts")
