"""Isolation: two workspaces that use one channel name see nothing of each other, and a
message's sender is the token's user, not what the payload claims.

A1 (workspace a) and B1 (workspace b) join the same channel name; each sends; neither
may receive the other's push, nor read it back. A1 then sends with a ``sender`` field
naming someone else; A2 (workspace a) must see A1's own user as the sender.
"""

from __future__ import annotations

import uuid

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.client import ProbeClient, connected, shown
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family

LEAK_WAIT_S = 1.5
SPOOFED = "pigeon-probe-spoofed"

CHECKS = (
    CheckSpec(
        "isolation.rooms",
        "two workspaces with one channel name see nothing of each other",
        "tenant-scoped-rooms",
        "Name rooms and keys by tenant (ws:<tenant>:ch:<channel>), the tenant taken from "
        "the token, never from the payload.",
    ),
    CheckSpec(
        "isolation.sender",
        "a message's sender is the token's user, whatever the payload says",
        "sender-from-token",
        "Stamp sender (and tenant) from the verified token on the server; ignore such "
        "fields in payloads.",
    ),
)


def _rooms(ctx: ProbeContext, c: CheckRecorder, a1: ProbeClient, b1: ProbeClient) -> None:
    channel = ctx.channel("shared-name")
    for who in (a1, b1):
        _, raw = who.join(channel)
        c.saw(who.describe("join", {"channel": channel}), shown(raw))
    bodies = {}
    for who in (a1, b1):
        body = f"probe-tenant-{who.name}-{uuid.uuid4().hex[:6]}"
        _, raw = who.send(channel, body)
        c.saw(who.describe("send", {"channel": channel, "body": body}), shown(raw))
        bodies[who.name] = body
    a1.wait_for(lambda ms: bodies["B1"] in {m.get("body") for m in ms}, LEAK_WAIT_S)
    leaks = [f"A1 got B1's {bodies['B1']!r}"] if bodies["B1"] in a1.bodies() else []
    if bodies["A1"] in b1.bodies():
        leaks.append(f"B1 got A1's {bodies['A1']!r}")
    if ctx.target.capabilities.history:
        page, raw = b1.sync(channel, 0)
        c.saw("B1: " + b1.describe("sync", {"channel": channel, "after_seq": 0}), shown(raw))
        if bodies["A1"] in {m.get("body") for m in page.messages}:
            leaks.append("B1 read A1's message back from the log")
    c.saw("pushes received", f"A1: {len(a1.pushes)}, B1: {len(b1.pushes)}")
    a_ws, b_ws = ctx.identity(0, 0)[0], ctx.identity(1, 0)[0]
    if leaks:
        c.finding(Severity.CRITICAL, f"workspaces {a_ws} and {b_ws} share channel "
                  f"{channel!r}: {'; '.join(leaks)}")  # fmt: skip
    else:
        c.passed(f"{a_ws} and {b_ws} both used {channel!r}; each saw only its own messages")


def _sender(ctx: ProbeContext, c: CheckRecorder, a1: ProbeClient, a2: ProbeClient) -> None:
    if not ctx.target.capabilities.server_sender:
        c.unknown("the target's profile says it does not stamp senders (capabilities)")
        return
    channel = ctx.channel("sender")
    for who in (a1, a2):
        who.join(channel)
    body = f"probe-spoof-{uuid.uuid4().hex[:6]}"
    extra = {"sender": SPOOFED}
    ack, raw = a1.send(channel, body, extra=extra)
    c.saw(a1.describe("send", {"channel": channel, "body": body}, extra), shown(raw))
    a2.wait_for(lambda ms: body in {m.get("body") for m in ms}, 3.0)
    pushed = [m for m in a2.pushes if m.get("body") == body]
    user = ctx.identity(0, 0)[1]
    if not ack.ok:
        c.passed(f"a send claiming another sender was refused ({shown(raw, 80)})")
    elif not pushed:
        c.unknown("A2 got no push of the message to read its sender from")
    else:
        sender = pushed[0].get("sender")
        c.saw("A2 receives it", f"sender {sender!r}")
        if sender == SPOOFED:
            c.finding(Severity.CRITICAL, f"the payload's sender {SPOOFED!r} was trusted: any "
                      "user can post as any other")  # fmt: skip
        elif sender == user:
            c.passed(f"the server stamped the token's user {user!r}, ignoring the payload")
        else:
            c.unknown(f"the push names sender {sender!r}, neither the token's user nor the claim")


def run(ctx: ProbeContext) -> None:
    if len(ctx.target.workspaces()) < 2:
        ctx.skip("isolation.rooms", "needs tokens for two workspaces")
        a1 = connected(ctx, ctx.token(0, 0), "A1")
        a2 = connected(ctx, ctx.token(0, 1), "A2")
        try:
            with ctx.check("isolation.sender") as c:
                _sender(ctx, c, a1, a2)
        finally:
            a1.close()
            a2.close()
        return
    a1 = connected(ctx, ctx.token(0, 0), "A1")
    b1 = connected(ctx, ctx.token(1, 0), "B1")
    a2 = connected(ctx, ctx.token(0, 1), "A2")
    try:
        with ctx.check("isolation.rooms") as c:
            _rooms(ctx, c, a1, b1)
        with ctx.check("isolation.sender") as c:
            _sender(ctx, c, a1, a2)
    finally:
        for who in (a1, b1, a2):
            who.close()


FAMILY = register_family(Family("isolation", "Isolation", CHECKS, run, connections=3, order=70))

__all__ = ["FAMILY"]
