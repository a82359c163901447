"""Voice invariant 5, per-pair order kept and answers matching their offers.

Between one sender session and one addressee session, signals must be delivered in the order
the sender made them (its first ``sig_invoke`` of each): the relay numbers them per addressee
in the order they arrived on the sender's socket. A signal the sender had to resend (a lost
ack) may legitimately land after a later one; such pairs are counted, not failed. Every
answer delivered to a member must answer an offer that member made on that connection with
the same negotiation number; and a candidate must belong to the latest description (offer or
answer) its sender's signals delivered before it: a candidate of an older negotiation after a
newer description is a replayed or reordered signal. Glare and ICE restarts are reported.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from pigeon_lab.checkers._voice import Row, no_voice, outcome, voice_of
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register

NAME = "voice_negotiation"

Pair = tuple[str, str, str, int, str, int]  # ws, room, sender, sender_inc, to, to_inc


PROVES = (
    "Per sender and addressee session, signals arrived in the order they were made, and every "
    "answer answers the latest offer of its negotiation."
)
BLIND_SPOTS = (
    "media: no real WebRTC runs",
    "renegotiations lost to a failed write (excused)",
)


@register(NAME, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Per sender and addressee session, delivered in sending order; answers match offers."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    order: dict[tuple[str, str, str, str], int] = {}  # (ws, room, sender, sig_id) -> made as n-th
    retried: set[tuple[str, str, str, str]] = set()
    offers: set[tuple[str, str, str, str, int]] = set()  # ws, room, offerer, pc, neg
    # (ws, room, sender, pc, neg) -> the sig_ids of that sender's descriptions of that negotiation
    descs: dict[tuple[str, str, str, str, int], set[str]] = defaultdict(set)
    unsure: set[str] = set()  # sig_ids whose outcome was unknown (sig_info)
    stream: dict[Pair, list[Row]] = defaultdict(list)
    for r in v.rows:
        if r.kind == "sig_invoke" and r.cmid:
            key = (r.ws, r.room, r.client, r.cmid)
            order.setdefault(key, len(order))
            kind, neg = r.d.get("k"), r.d.get("neg")
            if kind in ("offer", "answer") and isinstance(neg, int):
                descs[(r.ws, r.room, r.client, str(r.d.get("pc")), neg)].add(r.cmid)
                if kind == "offer":
                    offers.add((r.ws, r.room, r.client, str(r.d.get("pc")), neg))
            if (r.attempt or 1) > 1:
                retried.add(key)
        elif r.kind == "sig_info" and r.cmid:
            unsure.add(r.cmid)
        elif r.kind == "sig_deliver" and r.cmid and r.sender:
            if str(r.d.get("pc", "")).startswith("probe~"):
                continue
            from_inc = int(r.d.get("from_inc") or 0)
            stream[(r.ws, r.room, r.sender, from_inc, r.client, int(r.inc or 0))].append(r)
    reordered: list[tuple[Row, Row]] = []
    excused = 0
    bad_answers: list[Row] = []
    stale: list[Row] = []
    delivered = 0
    for rows in stream.values():
        rows.sort(key=lambda x: x.seq or 0)
        last_desc: dict[str, int] = {}
        prev: Row | None = None
        for r in rows:
            delivered += 1
            key = (r.ws, r.room, str(r.sender), str(r.cmid))
            if prev is not None:
                pk = (prev.ws, prev.room, str(prev.sender), str(prev.cmid))
                if key in order and pk in order and order[key] < order[pk]:
                    if key in retried:
                        excused += 1
                    else:
                        reordered.append((prev, r))
            prev = r
            kind, pc, neg = r.d.get("k"), str(r.d.get("pc")), r.d.get("neg")
            if kind == "answer" and (r.ws, r.room, r.client, pc, neg) not in offers:
                bad_answers.append(r)
            if kind in ("offer", "answer") and isinstance(neg, int):
                last_desc[pc] = neg
            elif kind in ("candidate", "eoc") and pc in last_desc and neg != last_desc[pc]:
                own = descs.get((r.ws, r.room, str(r.sender), pc, int(neg or 0)), set())
                if own & (unsure | {x[3] for x in retried}):
                    excused += 1  # its description's write failed and was resent: order lost
                else:
                    stale.append(r)
    for a, b in reordered[:k]:
        examples.append(
            Counterexample(
                f"{b.sender} -> {b.client}: {b.cmid} ({b.d.get('k')}) was made before "
                f"{a.cmid} ({a.d.get('k')}) but delivered after it",
                v.rows_of([a, b]),
            )
        )
    for r in bad_answers[: max(0, k - len(examples))]:
        examples.append(
            Counterexample(
                f"{r.client} got an answer (neg {r.d.get('neg')}) on {r.d.get('pc')} to no offer "
                "it made",
                v.rows_of([r]),
            )
        )
    for r in stale[: max(0, k - len(examples))]:
        examples.append(
            Counterexample(
                f"{r.client} got a {r.d.get('k')} of negotiation {r.d.get('neg')} after a newer "
                f"description on {r.d.get('pc')}",
                v.rows_of([r]),
            )
        )
    steps: dict[str, int] = defaultdict(int)
    for r in v.rows:
        if r.kind == "pc_state":
            steps[str(r.d.get("state"))] += 1
    violations = len(reordered) + len(bad_answers) + len(stale)
    counts = {
        "pairs": len(stream),
        "delivered": delivered,
        "reordered": len(reordered),
        "reordered_by_retry": excused,
        "answers_without_offer": len(bad_answers),
        "stale_candidates": len(stale),
        "connected": steps["connected"],
        "glare": steps["glare_rollback"] + steps["glare_ignored"],
    }
    if violations:
        summary = (
            f"{len(reordered)} signals out of order, {len(bad_answers)} answers to no offer, "
            f"{len(stale)} stale candidates after a newer description"
        )
    else:
        summary = (
            f"{delivered} signals in order on {len(stream)} session pairs; "
            f"{counts['connected']} negotiations completed, {counts['glare']} glare resolutions"
        )
    undecided = not delivered
    return Verdict(NAME, outcome(violations, undecided, ctx.complete), summary, counts, examples)
