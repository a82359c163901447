"""Stickiness behind a load balancer: every request of a polling session must reach the
node that holds the session.

Many short polling sessions, first keeping cookies (a browser on the same origin), then
keeping none (socket.io-client in Node, a cross-origin browser without
``withCredentials``): handshake, CONNECT, then acknowledged events and the polls that
fetch their acks. A request answered HTTP 400 "Session ID unknown" (python-engineio:
"Invalid session") reached a node that does not know its session; the share of those
is the finding.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.eio import (
    UNKNOWN_SESSION as UNKNOWN_WORDS,
)
from pigeon_lab.advisor.probe.eio import (
    Answer,
    Polling,
    connect_packet,
    event_packet,
    is_unknown_session,
)
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family
from pigeon_lab.protocol.codec import join_payload

SESSIONS = 4
"""Polling sessions per mode (with and without cookies), run side by side."""
EVENTS = 3
"""Acknowledged events per session; each ack comes back on the session's pending poll."""

CHECKS = (
    CheckSpec(
        "stickiness.polling",
        "polling requests reach the node holding their session (client keeps cookies)",
        "sticky-polling",
        "Make the load balancer sticky for the Socket.IO path: by the Engine.IO sid "
        "(url_param sid) or a cookie; or run websocket only.",
    ),
    CheckSpec(
        "stickiness.cookieless",
        "polling requests reach their node when the client keeps no cookies",
        "sticky-polling",
        "Route by the Engine.IO sid (e.g. node-tagged sids and HAProxy use-server on "
        "url_param(sid)), not only by a cookie: Node clients and cross-origin browsers "
        "send none.",
    ),
)

_NODE = re.compile(r'"node"\s*:\s*"([^"]+)"')


@dataclass
class Tally:
    """What the sessions of one mode saw."""

    requests: int = 0
    unknown: int = 0
    sessions_hit: int = 0
    sessions: int = 0
    nodes: set[str] = field(default_factory=set)
    first_bad: tuple[str, str] | None = None
    polling_off: bool = False
    sample: list[tuple[str, str]] = field(default_factory=list)

    def share(self) -> float:
        return self.unknown / self.requests if self.requests else 0.0


class _Session:
    """One polling client as socket.io-client runs it: a poll pending on one HTTP
    connection while packets are posted on another (so that a balancer by connection
    counts sees real concurrency). The poll is issued while an answer is awaited, so
    that none is left pending at the end (python-engineio holds a pending poll past
    a close packet)."""

    def __init__(self, ctx: ProbeContext, cookies: bool, token: str, channel: str) -> None:
        self.ctx, self.token, self.channel = ctx, token, channel
        self.main = Polling(ctx, cookies=cookies)
        self.packets: list[str] = []
        self.cond = threading.Condition()
        self.expect: str | None = None
        self.broken = False
        self.stop = False
        self.log: list[tuple[str, int, str]] = []  # (request, status, answer)
        self.nodes: set[str] = set()
        self.opened = False
        self.polling_off = False

    def _note(self, asked: str, answer: Answer) -> None:
        if is_unknown_session(answer.status, answer.body):
            self.broken = True
        self.log.append((asked, answer.status, answer.line("set-cookie")))

    def _seen(self, prefix: str) -> bool:
        return any(p.startswith(prefix) for p in self.packets)

    def _wanted(self) -> bool:
        return self.stop or self.broken or (self.expect is not None and not self._seen(self.expect))

    def _poller(self, poll: Polling) -> None:
        try:
            self._poll_loop(poll)
        finally:
            poll.close(goodbye=False)

    def _poll_loop(self, poll: Polling) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(self._wanted, timeout=self.ctx.limits.timeout_s)
                if self.stop or self.broken or not self._wanted():
                    return
            answer, packets = poll.poll()
            with self.cond:
                self._note(poll.describe("GET"), answer)
                self.packets += packets
                for p in packets:
                    self.nodes.update(_NODE.findall(p))
                if answer.status != 200:
                    self.broken = True
                self.cond.notify_all()

    def _exchange(self, packet: str, what: str, prefix: str) -> bool:
        """Post ``packet`` and wait for a packet starting with ``prefix`` on the poll."""
        with self.cond:
            self.expect = prefix
            self.cond.notify_all()
        answer = self.main.post(packet)
        with self.cond:
            self._note(self.main.describe("POST", what), answer)
            ok = self.cond.wait_for(
                lambda: self._seen(prefix) or self.broken, timeout=self.ctx.limits.timeout_s
            )
            self.expect = None
            return bool(ok) and not self.broken

    def run(self) -> None:
        codec = self.ctx.target.codec
        asked = self.main.describe("GET", " (handshake)", handshake=True)
        answer, opened = self.main.handshake()
        self._note(asked, answer)
        if opened is None:
            self.polling_off = answer.status == 400
            return
        self.opened = True
        poll = self.main.clone()
        poller = threading.Thread(target=self._poller, args=(poll,), daemon=True)
        poller.start()
        ns = "" if codec.namespace == "/" else f"{codec.namespace},"
        try:
            ok = self._exchange(connect_packet(codec.namespace, codec.auth(self.token)),
                                " (CONNECT)", "40")  # fmt: skip
            for i in range(1, EVENTS + 1):
                if not ok:
                    break
                packet = event_packet(codec.namespace, i, codec.event("join"),
                                      codec.encode("join", join_payload(self.channel)))  # fmt: skip
                ok = self._exchange(packet, f" (event {i})", f"43{ns}{i}")
        finally:
            with self.cond:
                self.stop = True
                self.cond.notify_all()
            if not self.broken:  # a broken session's poll may hang on its node: let it
                poller.join(self.ctx.limits.timeout_s + 1)
            self.main.close()


def _tally(runs: list[_Session]) -> Tally:
    tally = Tally()
    for r in runs:
        tally.polling_off = tally.polling_off or r.polling_off
        if not r.opened:
            tally.sample += [(req, ans) for req, _, ans in r.log[:1]]
            continue
        tally.sessions += 1
        tally.sessions_hit += r.broken
        tally.nodes |= r.nodes
        for request, status, answer in r.log[1:]:
            tally.requests += 1
            if status == 400 and any(w in answer.lower() for w in UNKNOWN_WORDS):
                tally.unknown += 1
                if tally.first_bad is None:
                    tally.first_bad = (request, answer)
        if len(tally.sample) < 4:
            tally.sample += [(req, ans) for req, _, ans in r.log[:2]]
    return tally


def _sessions(ctx: ProbeContext, cookies: bool, token: str, channel: str) -> Tally:
    runs = [_Session(ctx, cookies, token, channel) for _ in range(SESSIONS)]
    threads = [threading.Thread(target=r.run, daemon=True) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(ctx.limits.timeout_s * (EVENTS + 3))
    return _tally(runs)


def _judge(c: CheckRecorder, tally: Tally, severity: Severity, who: str) -> None:
    for request, answer in tally.sample:
        c.saw(request, answer)
    if tally.first_bad is not None:
        c.saw(*tally.first_bad)
    nodes = f"; nodes that answered: {', '.join(sorted(tally.nodes))}" if tally.nodes else ""
    if tally.polling_off and tally.sessions == 0:
        c.passed("polling is off (handshake refused): nothing needs to stick")
    elif tally.sessions == 0:
        c.unknown("no polling session could be opened")
    elif tally.unknown:
        c.finding(
            severity,
            f"{tally.unknown} of {tally.requests} polling requests ({tally.share():.0%}) "
            f"{who} reached a node that does not know their session (HTTP 400 'Session ID "
            f"unknown'); {tally.sessions_hit} of {tally.sessions} sessions broken{nodes}",
        )
    else:
        c.passed(
            f"{tally.requests} polling requests in {tally.sessions} sessions {who} all "
            f"reached their node{nodes}"
        )


def run(ctx: ProbeContext) -> None:
    token = ctx.token(0, 1)
    channel = ctx.channel("sticky")
    keep = _sessions(ctx, True, token, channel)
    drop = _sessions(ctx, False, token, channel)
    ctx.note("polling_nodes", sorted(keep.nodes | drop.nodes))
    with ctx.check("stickiness.polling") as c:
        _judge(c, keep, Severity.HIGH, "keeping cookies")
    with ctx.check("stickiness.cookieless") as c:
        if keep.unknown:
            for request, answer in drop.sample[:2]:
                c.saw(request, answer)
            c.unknown("polling is not sticky even with cookies (stickiness.polling)")
        else:
            _judge(c, drop, Severity.MEDIUM, "keeping no cookies")


FAMILY = register_family(
    Family("stickiness", "Stickiness", CHECKS, run, connections=2 * SESSIONS, order=30)
)

__all__ = ["FAMILY"]
