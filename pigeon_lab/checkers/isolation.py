"""Invariant 6, isolation between tenants, channels and users; true senders.

Five checks, each sound on what the client recorded:

* cross-tenant: a row whose ``msg_workspace`` differs from the client's
  workspace, or a message (recv/deliver/sync_ok) that no client sent on the
  receiver's channel (the channel id includes the workspace) but a client of
  another workspace sent under that ``client_msg_id``, reached the wrong tenant.
  An id sent in several workspaces is judged by the (channel, client_msg_id)
  pair, so it is never skipped;
* receipt without membership: a live ``recv`` on a channel when the client had
  no join outstanding or completed (its ``join`` sent, or, with a race-free
  leave ack, after its acknowledged ``leave``) was pushed to a room it was not
  in. The joined interval starts at the ``join`` (the server adds the client to
  the room before it acks, so a push may overtake the ack) and ends at the
  ``leave`` ack (later pushes cannot have been queued before it);
* every ``adversarial`` attempt was refused (``error`` not ``"accepted"``);
* spoofed sender: the ``sender`` of a received or stored message is not a user
  who sent its (channel, client_msg_id);
* foreign sender: a message that matches no send (a phantom, see ``order``)
  names a sender who is no user of the message's workspace (``msg_workspace``
  when recorded, else the channel's). Seqs before the run and histories cut
  short are not judged by this rule (the sender may be a user the run never saw).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._membership import membership
from pigeon_lab.checkers._prep import I64, Prepared, judge, map_into, prepare, vacuous_is_unknown
from pigeon_lab.checkers._sends import Sends, sends
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "isolation"
PROVES = (
    "No client received another workspace's message or a push outside its membership, every "
    "attack was refused, and every message names the user who sent it as sender."
)
BLIND_SPOTS = (
    "a message leaked from a workspace no client of the run sent in, while the load leaves "
    "msg_workspace empty (order reports it as a phantom)",
    "pushes racing a join's ack (the join counts from when it was sent)",
    "attacks the adversary does not try",
    "events the clients did not record",
)


@register(NAME)
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """No other workspace's events, no recv outside membership, attacks refused, true senders."""
    p = prepare(history, ctx)
    s = sends(p)
    k = ctx.max_counterexamples
    # every received message: was it sent on this channel, and by its sender?
    snd = p.content.sender
    r_idx = np.flatnonzero(p.is_kind("recv", "deliver", "sync_ok") & (p.chan >= 0))
    r_chan, r_cmid, r_snd = p.chan[r_idx], p.cmid[r_idx], snd[r_idx]
    r_sent, r_by = s.sent_by(r_chan, r_cmid, r_snd)
    # 1. cross-tenant: the message's own workspace, or who sent its client_msg_id
    mws, _ = map_into(p.col("msg_workspace").reset_index(drop=True), p.wss)
    foreign = (mws >= 0) & (mws != p.ws)
    stray = np.flatnonzero(~r_sent & (r_cmid >= 0))  # few: what no client sent here
    elsewhere = s.sent_elsewhere(r_cmid[stray], p.ws[r_idx[stray]])
    foreign[r_idx[stray[elsewhere]]] = True
    foreign_idx = np.flatnonzero(foreign)
    # 2. recv outside membership
    m = membership(p)
    r = np.flatnonzero(p.is_kind("recv") & (p.chan >= 0))
    outside = r[~m.joined_at(m.compact(p.pair[r]), r)]
    # 3. adversarial attempts accepted
    adv = np.flatnonzero(p.is_kind("adversarial"))
    err = p.col("error").to_numpy()[adv] if len(adv) else np.empty(0, object)
    accepted = adv[np.asarray([e == "accepted" for e in err], bool)] if len(adv) else adv
    # 4. and 5. senders, of what clients received and of what the final log holds (only for
    # a target that stamps senders itself: otherwise a sender is whatever the client said)
    has = (r_snd >= 0) & ("server_sender" in ctx.capabilities)
    spoof_idx = r_idx[has & r_sent & ~r_by]
    h_alien = _aliens(p, s, r_idx[has & ~r_sent], mws, ctx.complete)
    alien_idx = r_idx[has & ~r_sent][h_alien]
    h_checked = int((has & r_sent).sum()) + int((has & ~r_sent).sum() if ctx.complete else 0)
    f_spoof = f_alien = np.empty(0, I64)
    f_checked = 0
    if p.final is not None and "server_sender" in ctx.capabilities:
        f = p.final
        fs = p.content.f_sender
        f_idx = np.flatnonzero((fs >= 0) & (f.chan >= 0))
        f_sent, f_by = s.sent_by(f.chan[f_idx], f.cmid[f_idx], fs[f_idx])
        f_spoof = f_idx[f_sent & ~f_by]
        rest = f_idx[~f_sent]
        judged = ctx.complete & ~s.pre_run(f.chan[rest], f.seq[rest])
        f_alien = rest[judged & ~s.member_user(p.chan_ws[f.chan[rest]], fs[rest])]
        f_checked = int(f_sent.sum()) + int(judged.sum())

    examples: list[Counterexample] = []

    def add(idx: np.ndarray, what: str, with_send: bool = False) -> None:
        for i in idx[: max(0, k - len(examples))]:
            rows = p.rows([int(i)])
            if with_send:
                same = p.is_kind("send_invoke") & (p.cmid == p.cmid[i]) & (p.cmid[i] >= 0)
                rows += p.rows(np.flatnonzero(same)[:1])
            examples.append(Counterexample(f"client {p.clients[p.client[i]]}: {what}", rows))

    def add_final(idx: np.ndarray, what: str) -> None:
        for j in idx[: max(0, k - len(examples))]:
            examples.append(Counterexample(f"final log: {what}", p.final_rows([int(j)])))

    add(foreign_idx, "received an event of another workspace", True)
    add(outside, "received a message on a channel it had not joined or had left")
    add(accepted, "an adversarial attempt was accepted")
    add(spoof_idx, "message sender differs from the user who sent it", True)
    add(alien_idx, "message sender is no user of the message's workspace")
    add_final(f_spoof, "stored sender differs from the user who sent the message")
    add_final(f_alien, "stored sender is no user of the channel's workspace")
    counts = {
        "cross_tenant": len(foreign_idx),
        "recv_without_join": len(outside),
        "adversarial": len(adv),
        "adversarial_accepted": len(accepted),
        "spoofed_sender": len(spoof_idx) + len(f_spoof),
        "foreign_sender": len(alien_idx) + len(f_alien),
        "checked_senders": h_checked + f_checked,
    }
    nviol = sum(
        counts[c]
        for c in (
            "cross_tenant",
            "recv_without_join",
            "adversarial_accepted",
            "spoofed_sender",
            "foreign_sender",
        )
    )
    counts["violations"] = nviol
    outcome = judge(nviol, not ctx.complete)
    if nviol:
        summary = (
            f"{len(foreign_idx)} cross-tenant events, {len(outside)} receipts outside "
            f"membership, {len(accepted)} adversarial attempts accepted, "
            f"{counts['spoofed_sender'] + counts['foreign_sender']} false senders"
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


def _aliens(p: Prepared, s: Sends, idx: np.ndarray, mws: np.ndarray, complete: bool) -> np.ndarray:
    """Of received messages that match no send (rows ``idx``), those whose sender is no user
    of the message's workspace (``msg_workspace`` if recorded, else the channel's)."""
    ws = np.where(mws[idx] >= 0, mws[idx], p.chan_ws[p.chan[idx]])
    judged = complete & (ws >= 0) & ~s.pre_run(p.chan[idx], p.seq[idx])
    out: np.ndarray = judged & ~s.member_user(ws, p.content.sender[idx])
    return out
