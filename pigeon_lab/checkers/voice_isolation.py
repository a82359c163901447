"""Voice invariant 9, isolation.

- No event reaches a client outside the workspace and room it joined: every push a client
  recorded (roster, floor, speaking, signal) names a room its socket held a session of, and
  arrived while it did (after the ``vjoin`` ack, before its ``vleave`` ack; a socket whose
  session was superseded may still get room pushes in flight for a moment, not signals);
- every member a roster push names, and every sender of a signal, belongs to the receiver's
  workspace (member ids are unique over the run);
- ``from`` is the sender's token subject: a signal's recorded sender is the member that sent
  that ``sig_id`` (a forged ``from`` must be ignored);
- every adversarial voice probe was refused (a signal to a member of another workspace, a room
  name outside the rules, a token from no current grant, a chair action without the role).
"""

from __future__ import annotations

import pandas as pd

from pigeon_lab.checkers._voice import NS, Row, no_voice, outcome, voice_of
from pigeon_lab.checkers.base import CheckContext, Counterexample, Verdict, register
from pigeon_lab.history.voice import PUSH_ROWS

NAME = "voice_isolation"
KICK_GRACE_S = 2.0  # room pushes in flight when a session was superseded
ROOM_PUSHES = frozenset({"vroster", "vfloor", "vspeaking"})


PROVES = (
    "No voice push reached a socket outside the room and workspace it held, senders are stamped"
    " by the server, and probes across tenants were refused."
)
BLIND_SPOTS = ("traffic of members the load did not run",)


@register(NAME, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """No cross-tenant or out-of-membership event, senders stamped, probes refused."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME)
    k = ctx.max_counterexamples
    examples: list[Counterexample] = []
    home: dict[str, str] = {}
    sent_by: dict[tuple[str, str, str], str] = {}  # (ws, room, sig_id) -> sender
    for r in v.rows:
        if r.kind == "vjoin_ok":
            home.setdefault(r.client, r.ws)
        elif r.kind == "sig_invoke" and r.cmid:
            sent_by.setdefault((r.ws, r.room, r.cmid), r.client)
    outside: list[Row] = []
    foreign: list[Row] = []
    spoofed: list[Row] = []
    member_of: dict[tuple[str, int], tuple[str, str, int | None]] = {}  # link -> held session
    kicked_at: dict[tuple[str, int], int] = {}
    pushes = 0
    for r in v.rows:
        link = (r.client, r.link if r.link is not None else -1)
        if r.kind in ("vjoin", "vjoin_ok"):  # pushes may come before the ack
            member_of[link] = (r.ws, r.room, r.inc)
            kicked_at.pop(link, None)
        elif r.kind == "vleave_ok" or (
            r.kind == "vjoin_fail" and r.error not in ("timeout", "disconnect")
        ):
            if member_of.get(link, ("", ""))[1] == r.room:
                member_of.pop(link, None)
        elif r.kind == "vkicked":
            kicked_at[link] = r.t
        if r.kind not in PUSH_ROWS or r.kind == "vkicked":
            continue
        pushes += 1
        held = member_of.get(link)
        late = r.t - kicked_at[link] if link in kicked_at else None
        if held is None or held[:2] != (r.ws, r.room):
            outside.append(r)
        elif late is not None and r.kind != "sig_recv" and late > KICK_GRACE_S * NS:
            outside.append(r)  # (a signal after a kick is voice_signals' business)
        named = r.d.get("m") if r.kind == "vroster" else r.sender
        if isinstance(named, str) and named in home and home[named] != r.ws:
            foreign.append(r)
        if r.kind == "sig_recv" and r.cmid:
            real = sent_by.get((r.ws, r.room, r.cmid))
            if real is not None and real != r.sender:
                spoofed.append(r)
    for rows, what in (
        (outside, "an event for a room its socket did not hold"),
        (foreign, "an event naming a member of another workspace"),
        (spoofed, "a signal whose sender is not the member that sent it"),
    ):
        for r in rows[: max(0, k - len(examples))]:
            examples.append(
                Counterexample(
                    f"{r.client} ({r.ws}) got {what}: {r.kind} in {r.room}", v.rows_of([r])
                )
            )
    probes = [r for r in v.rows if r.kind == "vadversarial"]
    accepted = [r for r in probes if r.error == "accepted"]
    unanswered = [r for r in probes if r.error == "unknown"]
    for r in accepted[: max(0, k - len(examples))]:
        examples.append(
            Counterexample(f"probe {r.d.get('attack')} by {r.client} was accepted", v.rows_of([r]))
        )
    violations = len(outside) + len(foreign) + len(spoofed) + len(accepted)
    counts = {
        "pushes": pushes,
        "outside_membership": len(outside),
        "cross_tenant": len(foreign),
        "spoofed_sender": len(spoofed),
        "adversarial": len(probes),
        "adversarial_accepted": len(accepted),
        "adversarial_unanswered": len(unanswered),
    }
    if violations:
        summary = (
            f"{len(outside)} events outside membership, {len(foreign)} cross-tenant, "
            f"{len(spoofed)} spoofed senders, {len(accepted)} probes accepted"
        )
    else:
        summary = f"{pushes} events all within membership and tenant; {len(probes)} probes refused"
    undecided = not pushes or bool(unanswered)
    return Verdict(NAME, outcome(violations, undecided, ctx.complete), summary, counts, examples)
