"""The simulated voice member: one session in one room, over a lean Socket.IO client.

It joins with its role, keeps its roster view in version order (``voice_state``), delivers
its signals in mailbox order exactly once, negotiates with every peer (``voice_negotiation``:
perfect negotiation, glare, trickle), takes turns on the floor (``voice_floor``), leaves and
rejoins, switches devices (a second socket supersedes the first), reconnects and resumes.
Everything it sends and receives is a history row (``pigeon_lab.history.voice``). At the end
of the load it stops acting, waits ``settle_s`` and records its view (``vview``) and the
server's (``vsync_ok`` with ``final``). Imports Locust and gevent: load process only.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from gevent.event import Event
from locust import User, task

from pigeon_lab.history.recorder import body_hash
from pigeon_lab.history.voice import VoiceKind as K
from pigeon_lab.load.context import ContextSlot
from pigeon_lab.load.voice_floor import FloorClient
from pigeon_lab.load.voice_link import Link, Who
from pigeon_lab.load.voice_negotiation import Negotiation, Out, pc_name
from pigeon_lab.load.voice_plan import plan_member
from pigeon_lab.load.voice_probes import run_probes
from pigeon_lab.load.voice_rows import record_push
from pigeon_lab.load.voice_session import Session
from pigeon_lab.load.voice_signals import DEFINITE, OutSignal
from pigeon_lab.protocol import voice as vc
from pigeon_lab.workloads.voice import VoiceSettings

_mono = time.monotonic
LINGER_S = 1.0  # how long a superseded socket stays open
END_LINGER_S = 1.5  # after the final view: the others record theirs before anyone leaves


class VoiceMember(User):
    """One voice member (see the module docstring)."""

    abstract = True
    slot: ContextSlot

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        ctx = self.slot.get()
        self.ctx, self.rec = ctx, ctx.recorder
        settings = ctx.config.workload.section("voice")
        assert isinstance(settings, VoiceSettings)
        self.vs = settings
        self.plan = plan_member(settings, ctx.config.urls, ctx.config.seed, ctx.next_index("voice"))
        self.rng = self.plan.rng()
        self.who = Who(self.plan.member, self.plan.workspace, self.plan.room)
        self.s = Session(self)
        self.floor = FloorClient(self)
        self.wake = Event()
        self.finished = False
        self.links = 0
        self.link: Link | None = None
        self.lingering: list[tuple[float, Link]] = []
        self.reconnect_at: float | None = None
        self.failures = 0
        self.vanished = False
        self._fire = environment.events.request.fire
        ctx.users.append(self)

    # ----- helpers the session, floor and probes use -----
    def stat(self, name: str, ms: float, error: str | None = None) -> None:
        self._fire(
            request_type="VOICE",
            name=name,
            response_time=ms,
            response_length=0,
            exception=RuntimeError(error) if error else None,
            context={},
        )

    def count(self, name: str) -> None:
        self.ctx.counters[name] += 1

    def every(self, rate: float) -> float:
        """Seconds to the next event of a Poisson process of ``rate`` per second."""
        return self.rng.expovariate(rate) if rate > 0 else float("inf")

    @property
    def timeout_s(self) -> float:
        return self.vs.ack_timeout_ms / 1000

    # ----- the main loop -----
    @task
    def voice(self) -> None:
        now = _mono()
        timers = {
            "leave": now + self.every(self.vs.leave_rate),
            "switch": now + self.every(self.vs.switch_rate),
            "reneg": now + self.every(self.vs.renegotiate_rate),
        }
        self._connect(fresh=True)
        stop_at: float | None = None
        viewed = False
        while not self.vanished:
            now = _mono()
            if self.ctx.stopping and stop_at is None:
                stop_at = now
                self.floor.stop(now)
            if stop_at is not None:
                if not viewed and now >= stop_at + self.vs.settle_s:
                    viewed = True
                    self.s.final_view()
                if viewed and now >= stop_at + self.vs.settle_s + END_LINGER_S:
                    break
            elif self.s.joined:
                if now >= timers["leave"]:
                    timers["leave"] = now + self.every(self.vs.leave_rate)
                    self.s.leave_and_rejoin(now)
                if now >= timers["switch"]:
                    timers["switch"] = now + self.every(self.vs.switch_rate)
                    self._switch_device()
                if now >= timers["reneg"]:
                    timers["reneg"] = now + self.every(self.vs.renegotiate_rate)
                    self.s.renegotiate_one(now)
                self.floor.tick(now)
                if self.plan.probes and not self.s.probed:
                    self.s.probed = True
                    run_probes(self)
            self._tick(now)
            waits = [now + 1.0, *(t for t in timers.values() if stop_at is None)]
            waits += [t for t in (self.s.next_deadline(), self.floor.next_deadline()) if t]
            if self.reconnect_at is not None:
                waits.append(self.reconnect_at)
            if stop_at is not None:
                waits.append(stop_at + self.vs.settle_s)
            self.wake.clear()
            self.wake.wait(timeout=max(0.0, min(waits) - _mono()))
        self._close_all()
        self.finished = True
        while True:
            gevent.sleep(3600)

    def _tick(self, now: float) -> None:
        for link in [self.link, *(lk for _, lk in self.lingering)]:
            if link is not None:
                link.expire(now)
        for until, link in list(self.lingering):
            if now >= until:
                self.lingering.remove((until, link))
                link.close()
        if self.reconnect_at is not None and now >= self.reconnect_at:
            self.reconnect_at = None
            self._connect(fresh=False)
        self.s.tick(now)

    def stop_now(self) -> None:
        self.wake.set()

    def abandon(self) -> None:
        if not self.finished:
            self._close_all()
            self.finished = True

    def _close_all(self) -> None:
        for _, link in self.lingering:
            link.close()
        self.lingering = []
        if self.link is not None:
            self.link.close()

    # ----- connections -----
    def _new_link(self) -> Link:
        self.links += 1
        link = Link(self.who, self.rec, self.links)
        link.sio.on("vroster", lambda d: self._on(link, "vroster", d))
        link.sio.on("vfloor", lambda d: self._on(link, "vfloor", d))
        link.sio.on("vsignal", lambda d: self._on(link, "vsignal", d))
        link.sio.on("vspeaking", lambda d: self._on(link, "vspeaking", d))
        link.sio.on("vkicked", lambda d: self._on(link, "vkicked", d))
        link.sio.on("disconnect", lambda reason=None: self._on_disconnect(link, reason))
        return link

    def _connect(self, *, fresh: bool) -> None:
        link = self._new_link()
        token = self.ctx.token(self.plan.workspace, self.plan.member)
        err = link.connect(self.plan.url, {"token": token}, self.ctx.config.connect_timeout_s)
        if err is not None:
            self._backoff()
            return
        self.failures = 0
        self.link = link
        self.count("voice_joins")
        self.s.join(link, resume=not fresh)

    def _backoff(self) -> None:
        self.failures += 1
        delay = self.rng.random() * min(5.0, 0.5 * 2**self.failures)
        self.reconnect_at = _mono() + max(0.05, delay)

    def _on_disconnect(self, link: Link, reason: Any) -> None:
        link.row(K.DISCONNECT, error=str(reason) if reason else None)
        link.lost()
        if link is not self.link or link.closed:
            return
        self.s.connection_lost()
        if self.ctx.stopping and self.s.viewed:
            return
        if self.vs.vanish_ratio and self.rng.random() < self.vs.vanish_ratio:
            self.vanished = True
            self.s.end("vanished")
        else:
            self._backoff()
        self.wake.set()

    def _switch_device(self) -> None:
        """A second socket joins afresh: the server supersedes (kicks) the first."""
        old = self.link
        link = self._new_link()
        token = self.ctx.token(self.plan.workspace, self.plan.member)
        if link.connect(self.plan.url, {"token": token}, self.ctx.config.connect_timeout_s):
            return
        if old is not None:
            old.lingering = True
            self.lingering.append((_mono() + LINGER_S, old))
        self.link = link
        self.s.join(link, resume=False, switched=True)

    # ----- pushes -----
    def _on(self, link: Link, event: str, raw: Any) -> None:
        if link is not self.link or link.lingering:
            self._record_stray(link, event, raw)
            return
        self.s.on_push(link, event, raw)
        self.wake.set()

    def _record_stray(self, link: Link, event: str, raw: Any) -> None:
        """A push on a socket whose session is over (superseded): recorded, not acted on."""
        record_push(link, event, raw)

    # ----- signalling (called by the session) -----
    def emit_signal(self, link: Link, sig: OutSignal) -> None:
        sig.attempt += 1
        sig.in_flight = True
        link.row(
            K.SIG_INVOKE,
            client_msg_id=sig.sig_id,
            attempt=sig.attempt,
            body_hash=body_hash(sig.payload),
            d={"to": sig.to, "to_inc": sig.to_inc, "pc": sig.pc, "neg": sig.neg, "k": sig.kind},
        )
        self.count("voice_signals")
        sent = link.call(
            "vsignal",
            sig.wire(),
            lambda raw: self._signal_acked(link, sig, raw),
            lambda why: self._signal_lost(sig, why),
            self.timeout_s,
        )
        if not sent:
            sig.in_flight = False

    def _signal_acked(self, link: Link, sig: OutSignal, raw: Any) -> None:
        sig.in_flight = False
        ack = vc.decode_signal_ack(raw)
        ms = (_mono() - sig.first) * 1000
        fields = {"to": sig.to, "to_inc": sig.to_inc, "pc": sig.pc, "neg": sig.neg, "k": sig.kind}
        if ack.ok:
            self.s.outbox.acked(sig.sig_id)
            self.count("voice_signal_acks")
            link.row(
                K.SIG_OK,
                client_msg_id=sig.sig_id,
                seq=ack.mseq,
                attempt=sig.attempt,
                latency_ms=ms,
                d={**fields, "dup": ack.duplicate or None},
            )
            self.stat("vsignal", ms)
            return
        code = ack.error.code if ack.error else "unknown"
        if code in DEFINITE:
            self.s.outbox.acked(sig.sig_id)
            kind = K.SIG_FAIL
        else:
            self.s.resend_soon()  # indefinite: resent with the others, in order, shortly
            return
        self.count("voice_errors")
        link.row(
            kind, client_msg_id=sig.sig_id, attempt=sig.attempt, latency_ms=ms, error=code, d=fields
        )
        self.stat("vsignal", ms, code)

    def _signal_lost(self, sig: OutSignal, why: str) -> None:
        sig.in_flight = False
        if why == "timeout":
            self.s.resend_all()

    def send(self, neg: Negotiation, peer_inc: int, outs: list[Out]) -> None:
        """Signals a negotiation produced, to its peer's session, in order."""
        link, inc = self.link, self.s.inc
        if link is None or inc is None or not outs or not self.s.joined or link.inc != inc:
            return  # no session on this socket yet (joining, switching): renegotiated after
        pc = pc_name(self.plan.member, inc, neg.peer, peer_inc)
        now = _mono()
        for out in outs:
            sig = self.s.outbox.new(
                self.plan.room, neg.peer, peer_inc, pc, out.neg, out.kind, out.payload, now
            )
            self.emit_signal(link, sig)


__all__ = ["VoiceMember"]
