"""Acks and limits: sends are acknowledged in time; a retry with the same client id is
not stored twice; an oversized event and a burst past the rate limit are answered with a
code, not with a disconnect, and a burst by one client does not disturb another.

The burst is the one place the probe goes fast: at most ``limits.burst`` events on one
connection, stopped at the first refusal, with a bystander (another workspace) doing
paced operations meanwhile.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.client import NoAck, ProbeClient, connected, shown
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family
from pigeon_lab.protocol.codec import leave_payload

SENDS = 5
OVERSIZED_BYTES = 64 * 1024
BYSTANDER_OPS = 5

CHECKS = (
    CheckSpec(
        "acks.timely",
        "every send is acknowledged within the timeout",
        "ack-timeouts",
        "Acknowledge every event (ok or an error code), within a bound the clients' ack "
        "timeout can wait for.",
    ),
    CheckSpec(
        "acks.retry-dedupe",
        "a retry with the same client_msg_id is not stored twice",
        "server-dedupe",
        "Deduplicate sends on (tenant, channel, client_msg_id) for a window longer than "
        "the clients' retry deadline, and answer the retry with the original seq and id.",
    ),
    CheckSpec(
        "acks.oversized",
        "an oversized message is refused with a code, not stored or disconnected",
        "bounded-payloads",
        "Check the body size per event (e.g. 4 KiB) and refuse with a code like too_large; "
        "keep maxPayload for the transport only.",
    ),
    CheckSpec(
        "acks.rate-limit",
        "a burst past the rate limit is answered with a code; others are not disturbed",
        "rate-limits",
        "Rate-limit events per connection (and per tenant) with a token bucket; answer "
        "refused events with rate_limited instead of disconnecting.",
    ),
)


def _timely(ctx: ProbeContext, c: CheckRecorder, client: ProbeClient, channel: str) -> None:
    if not ctx.target.capabilities.acks:
        c.unknown("the target's profile says sends are not acknowledged (capabilities.acks)")
        return
    took: list[float] = []
    for i in range(SENDS):
        body = f"probe-ack-{i}"
        t0 = time.monotonic()
        try:
            ack, raw = client.send(channel, body)
        except NoAck as exc:
            c.saw(client.describe("send", {"channel": channel, "body": body}), str(exc))
            c.finding(Severity.HIGH, f"send {i + 1} of {SENDS} was never acknowledged: "
                      "the client cannot tell delivered from lost")  # fmt: skip
            return
        took.append((time.monotonic() - t0) * 1000)
        if i == 0:
            c.saw(client.describe("send", {"channel": channel, "body": body}), shown(raw))
        if not ack.ok:
            code = ack.error.code if ack.error else "?"
            c.unknown(f"the probe's send was refused ({code})")
            return
    c.passed(f"{SENDS} sends acknowledged, slowest {max(took):.0f} ms "
             f"(timeout {ctx.limits.timeout_s:g} s)")  # fmt: skip


def _dedupe(ctx: ProbeContext, c: CheckRecorder, client: ProbeClient, channel: str) -> None:
    can = ctx.target.capabilities
    if not (can.acks and can.client_ids):
        c.unknown("needs acknowledged sends with client ids (capabilities.acks, client_ids)")
        return
    cmid = str(uuid.uuid4())
    first, raw1 = client.send(channel, "probe-retry", cmid)
    c.saw(client.describe("send", {"channel": channel, "client_msg_id": cmid}), shown(raw1))
    second, raw2 = client.send(channel, "probe-retry", cmid)
    c.saw(client.describe("send", {"channel": channel, "client_msg_id": cmid}) + " (retry)",
          shown(raw2))  # fmt: skip
    if not first.ok:
        c.unknown("the first send was refused")
        return
    if not second.ok:
        code = second.error.code if second.error else "?"
        c.finding(Severity.LOW, f"the retry was refused ({code}): a client whose ack was "
                  "lost cannot learn the seq and id of what it sent")  # fmt: skip
        return
    same_seq = first.seq is not None and first.seq == second.seq
    same_id = first.msg_id is not None and first.msg_id == second.msg_id
    if same_seq or same_id or (second.duplicate and second.seq is None):
        c.passed(f"the retry got the original {'seq ' + str(first.seq) if same_seq else 'id'}"
                 f"{' with duplicate: true' if second.duplicate else ''}")  # fmt: skip
    else:
        c.finding(Severity.HIGH, f"the retry was stored again (seq {first.seq} then "
                  f"{second.seq}, id {first.msg_id} then {second.msg_id}): every retried "
                  "send is a duplicate message")  # fmt: skip


def _oversized(ctx: ProbeContext, c: CheckRecorder, client: ProbeClient, channel: str) -> None:
    opened = ctx.observed.get("handshake") or {}
    limit = opened.get("maxPayload") if isinstance(opened, dict) else None
    size = OVERSIZED_BYTES
    if isinstance(limit, int) and limit <= size + 1024:
        size = max(1024, limit // 2)
    body = "x" * size
    asked = client.describe("send", {"channel": channel, "body": f"<{size} bytes>"})
    try:
        ack, raw = client.send(channel, body)
    except NoAck as exc:
        c.saw(asked, str(exc))
        if not client.connected:
            c.finding(Severity.LOW, f"a {size:,}-byte message dropped the connection "
                      "instead of a refusal with a code")  # fmt: skip
        else:
            c.finding(Severity.LOW, f"a {size:,}-byte message got no answer")
        return
    c.saw(asked, shown(raw))
    if not ack.ok:
        c.passed(f"a {size:,}-byte message was refused ({ack.error.code if ack.error else '?'})")
    else:
        c.finding(Severity.LOW, f"a {size:,}-byte message was accepted and stored: no body "
                  "limit below the transport's maxPayload")  # fmt: skip


class _Burst:
    """The acks of the burst as they come back."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.expected = 0

    def ack(self, *args: Any) -> None:
        raw = args[0] if args else None
        code = ""
        if isinstance(raw, dict) and not raw.get("ok", True):
            err = raw.get("error")
            code = str(err.get("code") if isinstance(err, dict) else err or raw.get("reason"))
        elif isinstance(raw, dict) and raw.get("status") not in (None, "ok"):
            code = str(raw.get("reason") or raw.get("status"))
        with self.lock:
            self.codes.append(code)
            if len(self.codes) >= self.expected:
                self.done.set()


def _rate_limit(ctx: ProbeContext, c: CheckRecorder) -> None:
    burster = connected(ctx, ctx.token(0, 2), "burster")
    bystander = connected(ctx, ctx.token(1, 2) if len(ctx.target.workspaces()) > 1
                          else ctx.token(0, 1), "bystander")  # fmt: skip
    try:
        channel = ctx.channel("bystander")
        bystander.join(channel)
        burst = _Burst()
        n = ctx.limits.burst
        burst.expected = n
        payload = leave_payload(ctx.channel("burst"))
        t0 = time.monotonic()
        for _ in range(n):
            burster.emit_nowait("leave", payload, burst.ack)
        bystander_ok = 0
        problems: list[str] = []
        for i in range(BYSTANDER_OPS):
            try:
                ack, _ = bystander.send(channel, f"probe-bystander-{i}")
                bystander_ok += ack.ok or not ctx.target.capabilities.acks
                if not ack.ok:
                    problems.append(ack.error.code if ack.error else "refused")
            except NoAck as exc:
                problems.append(str(exc))
        burst.done.wait(ctx.limits.timeout_s)
        elapsed = time.monotonic() - t0
        with burst.lock:
            codes = list(burst.codes)
        refused = [x for x in codes if x]
        first = next((i for i, x in enumerate(codes) if x), None)
        gone = "" if burster.connected else f"; disconnected ({burster.disconnect_reason})"
        c.saw(
            f"burster: {n} x emit {ctx.target.codec.event('leave')!r} {shown(payload)} "
            "as fast as it can",
            f"{len(codes)} acks in {elapsed:.1f} s, {len(refused)} refused"
            + (f" (first at event {first + 1}: {refused[0]!r})" if first is not None else "")
            + gone,
        )
        c.saw(f"bystander (another connection): {BYSTANDER_OPS} sends during the burst",
              f"{bystander_ok} ok" + (f"; {', '.join(problems[:3])}" if problems else "")
              + ("" if bystander.connected else "; disconnected"))  # fmt: skip
        if not bystander.connected or problems:
            c.finding(Severity.HIGH, "one client's burst disturbed another connection: "
                      f"{', '.join(problems[:3]) or 'it was disconnected'}")  # fmt: skip
        elif refused and burster.connected:
            c.passed(f"refused with {refused[0]!r} after {first + 1 if first is not None else '?'}"
                     f" events; the connection and a bystander carried on")  # fmt: skip
        elif not burster.connected:
            after = " after some refusals" if refused else ""
            c.finding(Severity.MEDIUM, f"a burst of {n} events was answered by a disconnect"
                      f"{after}, not only with a code")  # fmt: skip
        elif len(codes) < n:
            c.finding(Severity.LOW, f"{n - len(codes)} of {n} burst events got no answer "
                      "(dropped silently, not refused with a code)")  # fmt: skip
        else:
            c.finding(Severity.MEDIUM, f"no rate limit: {n} events in {elapsed:.1f} s "
                      f"({n / max(elapsed, 1e-3):.0f}/s) on one connection were all "
                      "accepted; one client can take a node's event loop")  # fmt: skip
    finally:
        burster.close()
        bystander.close()


def run(ctx: ProbeContext) -> None:
    channel = ctx.channel("acks")
    client = connected(ctx, ctx.token(0, 0), "A")
    try:
        ack, raw = client.join(channel)
        if not ack.ok:
            raise RuntimeError(f"the probe's join was refused: {shown(raw)}")
        with ctx.check("acks.timely") as c:
            _timely(ctx, c, client, channel)
        with ctx.check("acks.retry-dedupe") as c:
            _dedupe(ctx, c, client, channel)
        with ctx.check("acks.oversized") as c:
            _oversized(ctx, c, client, channel)
    finally:
        client.close()
    with ctx.check("acks.rate-limit") as c:
        _rate_limit(ctx, c)


FAMILY = register_family(Family("acks", "Acks and limits", CHECKS, run, connections=3, order=50))

__all__ = ["FAMILY"]
