"""Delivery: fan-out across nodes, one sequence per channel, acked writes readable, and
what a client that was away gets back.

Two clients on different nodes (two entry points when given; otherwise the second
reconnects until its join ack names another node, when the target says its node) join
one channel. After a forced disconnect (the probe drops a member's connection) the
other sends; on reconnect the member must get the missed messages back, by an
application resume (join with ``after_seq``) or by Socket.IO connection state recovery
(``csr.py``); a deployment that does neither delivers at most once.
"""

from __future__ import annotations

import time
import uuid

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.client import ProbeClient, connected, shown
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.csr import recovery_replays
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family

PLACEMENT_TRIES = 4
PUSH_WAIT_S = 3.0
SEQ_SENDS = 4
MISSED = 3
READABLE_SENDS = 30
PERSIST_WAIT_S = 0.5

CHECKS = (
    CheckSpec(
        "delivery.fanout",
        "a message reaches a member connected to another node",
        "cross-node-fanout",
        "Give every node an adapter (Redis pub/sub, streams, ...) that carries room "
        "broadcasts to the other nodes; test with members on two nodes.",
    ),
    CheckSpec(
        "delivery.seq-unique",
        "messages sent through different nodes get distinct sequence numbers",
        "central-sequencing",
        "Take each channel's sequence from one authority (Redis INCR in the same script as "
        "the write), never from a node-local counter.",
    ),
    CheckSpec(
        "delivery.acked-readable",
        "every acknowledged message is in the channel's log",
        "ack-after-durable-write",
        "Acknowledge a send only after the write (and its replication, if promised) has succeeded.",
    ),
    CheckSpec(
        "delivery.resume",
        "a reconnecting client gets what it missed (not at most once)",
        "resume-after-reconnect",
        "On reconnect, rejoin with after_seq = the last seq delivered and replay from the "
        "durable log (or enable Socket.IO connection state recovery for short drops).",
    ),
)


Seen = list[tuple[str, str]]


def _pair(
    ctx: ProbeContext, channel: str, seen: Seen
) -> tuple[ProbeClient, ProbeClient, str, bool]:
    """Two members of ``channel`` on different nodes when that can be arranged: where they
    are, and whether they are known to share one node. A second member that lands on the
    first one's node is kept connected while the next tries (a balancer by connection
    counts then sends the next elsewhere), then let go."""
    urls = ctx.target.urls
    a = connected(ctx, ctx.token(0, 0), "A", urls[0])
    a_ack, raw = a.join(channel)
    seen.append((f"A ({urls[0]}): " + a.describe("join", {"channel": channel}), shown(raw)))
    url = urls[1] if len(urls) > 1 else urls[0]
    held: list[ProbeClient] = []
    try:
        for _ in range(PLACEMENT_TRIES):
            b = connected(ctx, ctx.token(0, 1), "B", url)
            b_ack, raw = b.join(channel)
            if len(urls) > 1 or a_ack.node is None or b_ack.node != a_ack.node:
                break
            held.append(b)
        else:
            b = held.pop()
            seen.append((f"B: {PLACEMENT_TRIES} connections", f"all on {a_ack.node}"))
        seen.append((f"B ({url}): " + b.describe("join", {"channel": channel}), shown(raw)))
    finally:
        for extra in held:
            extra.close()
    nodes = sorted({n for n in (a_ack.node, b_ack.node) if n})
    ctx.note("fanout_nodes", nodes)
    one_node = len(urls) == 1 and a_ack.node is not None and a_ack.node == b_ack.node
    if a_ack.node and b_ack.node:
        where = f"A on {a_ack.node}, B on {b_ack.node}"
    else:
        where = "A and B on two entry points" if len(urls) > 1 else "nodes not reported"
    return a, b, where, one_node


def run(ctx: ProbeContext) -> None:
    can = ctx.target.capabilities
    channel = ctx.channel("fanout")
    seen: Seen = []
    a, b, where, one_node = _pair(ctx, channel, seen)
    alone = f"both members landed on one node ({where}): cross-node behaviour not tested"
    try:
        with ctx.check("delivery.fanout") as c:
            for request, answer in seen:
                c.saw(request, answer)
            _fanout(c, a, b, channel, where)
            if one_node and c.status == "pass":
                c.unknown(alone)
        with ctx.check("delivery.seq-unique") as c:
            if not (can.seqs and can.acks):
                c.unknown("needs acknowledged sends with seqs (capabilities.seqs)")
            else:
                _seq_unique(c, a, b, channel)
                if one_node and c.status == "pass":
                    c.unknown(alone)
        with ctx.check("delivery.resume") as c:
            a = _resume(ctx, c, a, b, channel)
        with ctx.check("delivery.acked-readable") as c:
            if can.acks and can.history:
                _readable(c, b, ctx.channel("readable"))
            else:
                c.unknown("needs acknowledged sends and a history read (capabilities)")
    finally:
        a.close()
        b.close()


def _fanout(c: CheckRecorder, a: ProbeClient, b: ProbeClient, channel: str, where: str) -> None:
    body = f"probe-fanout-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    ack, raw = a.send(channel, body)
    got = b.wait_for(lambda ms: any(m.get("body") == body for m in ms), PUSH_WAIT_S)
    took = (time.monotonic() - t0) * 1000
    c.saw(a.describe("send", {"channel": channel, "body": body}), shown(raw))
    if not ack.ok:
        c.unknown(f"the probe's send was refused: {shown(raw)}")
    elif got:
        c.saw(f"B waits for {body!r}", f"pushed after {took:.0f} ms")
        c.passed(f"B got A's message in {took:.0f} ms ({where})")
    else:
        c.saw(f"B waits for {body!r}", f"nothing within {PUSH_WAIT_S:g} s")
        c.finding(Severity.HIGH, f"B never got A's message ({where}): broadcasts do not "
                  "cross nodes")  # fmt: skip


def _seq_unique(c: CheckRecorder, a: ProbeClient, b: ProbeClient, channel: str) -> None:
    seqs: dict[int, list[str]] = {}
    for i in range(SEQ_SENDS):
        for who in (a, b):
            ack, raw = who.send(channel, f"probe-seq-{who.name}-{i}")
            if i == 0:
                c.saw(who.describe("send", {"channel": channel}), shown(raw))
            if ack.ok and ack.seq is not None:
                seqs.setdefault(ack.seq, []).append(f"{who.name}{i}")
    clashes = {s: w for s, w in seqs.items() if len(w) > 1}
    total = sum(len(w) for w in seqs.values())
    if total == 0:
        c.unknown("no send was acknowledged with a seq")
    elif clashes:
        seq, names = sorted(clashes.items())[0]
        c.saw("acked seqs", ", ".join(f"{s}: {'+'.join(w)}" for s, w in sorted(seqs.items())))
        c.finding(Severity.CRITICAL, f"{len(clashes)} seqs were given to two messages (seq "
                  f"{seq}: {', '.join(names)}): readers disagree on what a seq holds")  # fmt: skip
    else:
        c.passed(f"{total} sends through both members got {total} distinct seqs "
                 f"({min(seqs)}..{max(seqs)})")  # fmt: skip


def _resume(
    ctx: ProbeContext, c: CheckRecorder, a: ProbeClient, b: ProbeClient, channel: str
) -> ProbeClient:
    """Drop A, let B send, bring A back; returns A's new connection."""
    can = ctx.target.capabilities
    seen = [int(m["seq"]) for m in a.pushes if isinstance(m.get("seq"), int)]
    last = max(seen) if seen else None
    a.close()
    c.saw("A: drops its connection (forced disconnect)", f"last seq delivered: {last}")
    bodies = [f"probe-missed-{i}-{uuid.uuid4().hex[:6]}" for i in range(MISSED)]
    for body in bodies:
        b.send(channel, body)
    c.saw(f"B: sends {MISSED} messages while A is away", ", ".join(bodies))
    a = connected(ctx, ctx.token(0, 0), "A", ctx.target.urls[0])
    resumable = can.history and can.seqs and last is not None
    ack, raw = a.join(channel, after_seq=last if resumable else None)
    c.saw("A (reconnected): " + a.describe("join", {"channel": channel, "after_seq": last}),
          shown(raw, 300))  # fmt: skip
    replayed = {str(m.get("body")) for m in ack.messages} & set(bodies)
    a.wait_for(lambda ms: set(bodies) <= {str(m.get("body")) for m in ms}, 1.0)
    pushed = set(a.bodies(channel)) & set(bodies)
    if resumable and len(replayed) == MISSED:
        c.passed(f"application resume: the join with after_seq={last} returned all {MISSED} "
                 "missed messages")  # fmt: skip
        return a
    if resumable:
        c.finding(Severity.HIGH, f"the join with after_seq={last} returned {len(replayed)} of "
                  f"{MISSED} missed messages")  # fmt: skip
        return a
    if pushed == set(bodies):
        c.passed(f"all {MISSED} missed messages were pushed again after the reconnect")
        return a
    if recovery_replays(ctx, c, b, channel):
        c.passed("Socket.IO connection state recovery replayed what a dropped client missed")
    else:
        how = "no history read (capabilities.history)" if not can.history else "no resume"
        c.finding(Severity.HIGH, f"at most once across reconnects: {MISSED} messages sent "
                  f"while A was away never reached it ({how}, no connection state "
                  "recovery)")  # fmt: skip
    return a


def _readable(c: CheckRecorder, client: ProbeClient, channel: str) -> None:
    ack, _ = client.join(channel)
    start = ack.head_seq
    acked: dict[str, int | None] = {}
    for i in range(READABLE_SENDS):
        cmid = str(uuid.uuid4())
        sent, raw = client.send(channel, f"probe-durable-{i}", cmid)
        if i == 0:
            c.saw(client.describe("send", {"channel": channel, "client_msg_id": cmid}), shown(raw))
        if sent.ok:
            acked[cmid] = sent.seq
    time.sleep(PERSIST_WAIT_S)
    stored: set[str] = set()
    after = start
    for _ in range(READABLE_SENDS):  # pages
        page, raw = client.sync(channel, after)
        stored |= {str(m.get("client_msg_id")) for m in page.messages}
        seqs = [m["seq"] for m in page.messages if isinstance(m.get("seq"), int)]
        if not page.more or not seqs:
            break
        after = max(seqs)
    c.saw(client.describe("sync", {"channel": channel, "after_seq": start}),
          f"{len(stored)} messages read back")  # fmt: skip
    lost = [seq for cmid, seq in acked.items() if cmid not in stored]
    if not acked:
        c.unknown("no send was acknowledged")
    elif lost:
        c.finding(Severity.CRITICAL, f"{len(lost)} of {len(acked)} acknowledged messages are "
                  f"not in the log (seqs {', '.join(map(str, lost[:5]))}): an ack came "
                  "before the write")  # fmt: skip
    else:
        c.passed(f"all {len(acked)} acknowledged messages are in the log")


FAMILY = register_family(
    Family("delivery", "Delivery", CHECKS, run, connections=3 + PLACEMENT_TRIES, order=60)
)

__all__ = ["FAMILY"]
