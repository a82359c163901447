"""Voice invariant 4, each signal delivered exactly once, to its addressee only.

A signal is (workspace, room, sender, ``sig_id``); its sender addressed it to one session
(``to``, ``to_inc``). Sound because the receiving client records every signal it gets with
the session it holds (``inc`` of the socket) and delivers each ``mseq`` once:

- a signal received by any other session (another member, or the addressee's superseded
  socket) is a violation: relayed past the session check;
- a signal delivered twice to its session is a violation (a duplicate the mailbox numbered
  twice); wire duplicates the client dropped are counted;
- an acknowledged signal (``sig_ok``) must be delivered to its addressee unless that session
  ended within ``settle_ms`` of the ack (left, superseded, lost): the members resync their
  mailbox at the end, so a live addressee has it; one ``(to, to_inc, mseq)`` names one signal.
Signals that ended ``sig_info`` may have been relayed: at most once.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd

from pigeon_lab.checkers._voice import Row, no_voice, outcome, voice_of
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register
from pigeon_lab.checkers.voice_metrics import SignalMetrics

NAME = "voice_signals"

SigKey = tuple[str, str, str, str]  # (ws, room, sender, sig_id)


PROVES = (
    "Every acknowledged signal reached its addressee's session exactly once, and no other session."
)
BLIND_SPOTS = (
    "signals to a session that ended within the settle time",
    "what a client did with a signal",
)


@register(NAME, metrics=SignalMetrics, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Acked signals reach their addressee's session once; nobody else gets them."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME, SignalMetrics())
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    acked: dict[SigKey, Row] = {}
    info: set[SigKey] = set()
    delivered: dict[SigKey, list[Row]] = defaultdict(list)
    received: Counter[tuple[SigKey, int | None, str]] = Counter()
    misdelivered: list[Row] = []
    boxes: dict[tuple[str, str, str, int, int], set[SigKey]] = defaultdict(set)
    for r in v.rows:
        if r.kind == "sig_ok" and r.cmid:
            key = (r.ws, r.room, r.client, r.cmid)
            acked.setdefault(key, r)
            to, to_inc = r.d.get("to"), r.d.get("to_inc")
            if isinstance(to_inc, int) and r.seq is not None:
                boxes[(r.ws, r.room, str(to), to_inc, r.seq)].add(key)
        elif r.kind == "sig_info" and r.cmid:
            info.add((r.ws, r.room, r.client, r.cmid))
        elif r.kind in ("sig_recv", "sig_deliver") and r.cmid and r.sender:
            key = (r.ws, r.room, r.sender, r.cmid)
            if r.client != r.d.get("to") or r.inc != r.d.get("to_inc"):
                misdelivered.append(r)
                continue
            if r.seq is not None:
                boxes[(r.ws, r.room, r.client, int(r.inc or 0), r.seq)].add(key)
            if r.kind == "sig_deliver":
                delivered[key].append(r)
            else:
                received[(key, r.inc, r.client)] += 1
    for r in misdelivered[:k]:
        examples.append(
            Counterexample(
                f"signal {r.cmid} from {r.sender} to {r.d.get('to')}@{r.d.get('to_inc')} reached "
                f"{r.client}@{r.inc}",
                v.rows_of([r]),
            )
        )
    twice = [rows for rows in delivered.values() if len(rows) > 1]
    for rows in twice[: max(0, k - len(examples))]:
        examples.append(
            Counterexample(
                f"signal {rows[0].cmid} delivered {len(rows)} times to "
                f"{rows[0].client}@{rows[0].inc}",
                v.rows_of(rows),
            )
        )
    renumbered = [keys for keys in boxes.values() if len(keys) > 1]
    for keys in renumbered[: max(0, k - len(examples))]:
        examples.append(
            Counterexample(
                f"one mailbox number names {len(keys)} signals: {sorted(x[3] for x in keys)}", []
            )
        )
    settle = int(ctx.settle_ms * 1_000_000)
    lost: list[Row] = []
    excused = 0
    for key, ack in acked.items():
        if key in delivered:
            continue
        to, to_inc = ack.d.get("to"), ack.d.get("to_inc")
        span = (
            v.spans.get((ack.ws, ack.room, str(to), int(to_inc)))
            if isinstance(to_inc, int)
            else None
        )
        if span is None or (span.end is not None and span.end <= ack.t + settle):
            excused += 1
            continue
        if span.end is None and ack.t + settle > v.t_end:
            excused += 1
            continue
        lost.append(ack)
    for r in lost[: max(0, k - len(examples))]:
        examples.append(
            Counterexample(
                f"acked signal {r.cmid} ({r.d.get('k')}) never delivered to its live addressee "
                f"{r.d.get('to')}@{r.d.get('to_inc')}",
                v.rows_of([r]),
            )
        )
    wire_dups = sum(n - 1 for n in received.values() if n > 1)
    violations = len(misdelivered) + len(twice) + len(renumbered) + len(lost)
    counts = {
        "acked": len(acked),
        "delivered": len(delivered),
        "info": len(info),
        "misdelivered": len(misdelivered),
        "delivered_twice": len(twice),
        "mailbox_conflicts": len(renumbered),
        "lost": len(lost),
    }
    metrics = SignalMetrics(wire_dups, excused)
    if violations:
        summary = (
            f"{len(misdelivered)} signals to the wrong session, {len(twice)} delivered twice, "
            f"{len(lost)} acked but lost, {len(renumbered)} mailbox numbers reused"
        )
    else:
        summary = (
            f"{len(acked)} acked signals delivered once each to their addressee "
            f"({excused} whose addressee had left)"
        )
    undecided = not acked
    return Verdict(
        NAME,
        outcome(violations, undecided, ctx.complete),
        summary,
        counts,
        examples,
        metrics.to_dict(),
    )
