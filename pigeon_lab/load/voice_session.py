"""A voice member's session in its room: join and resume, pushes, signals, peers, resync.

The member (``voice_member``) owns the sockets and the clock; this object owns what the
session knows (roster view, mailbox, outbox, one negotiation per peer session) and records
every step. See ``voice_member`` for the whole picture. Load process only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pigeon_lab.history.voice import VoiceKind as K
from pigeon_lab.load.voice_link import Link
from pigeon_lab.load.voice_negotiation import Negotiation
from pigeon_lab.load.voice_rows import floor_detail, record_push, record_signal
from pigeon_lab.load.voice_signals import Outbox
from pigeon_lab.load.voice_state import Applied, Mailbox, RosterView
from pigeon_lab.protocol import voice as vc

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.load.voice_member import VoiceMember

_mono = time.monotonic
GAP_S = 0.5  # a gap in the roster or the mailbox waits this long before a resync


class Session:
    """See the module docstring."""

    def __init__(self, member: VoiceMember) -> None:
        self.m = member
        self.me = member.plan.member
        self.view = RosterView()
        self.mailbox = Mailbox()
        self.outbox = Outbox()
        self.inc: int | None = None
        self.state = "out"  # out | joining | in | left
        self.peers: dict[str, tuple[int, Negotiation]] = {}
        self.rejoin_at: float | None = None
        self.sync_at: float | None = None
        self.resend_at: float | None = None
        self.syncing = False
        self.probed = False
        self.viewed = False
        self.lease_s: float | None = None

    @property
    def joined(self) -> bool:
        return self.state == "in"

    @property
    def link(self) -> Link | None:
        return self.m.link

    # ----- joining -----
    def join(self, link: Link, *, resume: bool, switched: bool = False) -> None:
        resume_at = (self.inc, self.mailbox.last) if resume and self.inc else None
        payload = vc.join_payload(self.m.plan.room, self.m.plan.role, resume_at)
        self.state = "joining"
        t0 = _mono()
        link.row(
            K.JOIN, d={"role": self.m.plan.role, "resume_inc": resume_at[0] if resume_at else None}
        )
        link.call(
            "vjoin",
            payload,
            lambda raw: self._joined(link, raw, t0, resume_at is not None, switched),
            lambda why: self._join_lost(link, why),
            self.m.timeout_s,
        )

    def _join_lost(self, link: Link, why: str) -> None:
        link.row(K.JOIN_FAIL, error=why, d={"resume_inc": self.inc})
        if why == "timeout" and link is self.link:
            self.state, self.rejoin_at = "out", _mono() + 0.5

    def _joined(self, link: Link, raw: Any, t0: float, resumed: bool, switched: bool) -> None:
        ack = vc.decode_join(raw)
        ms = (_mono() - t0) * 1000
        self.m.stat("vjoin", ms, None if ack.ok else (ack.error.code if ack.error else "?"))
        if not ack.ok:
            code = ack.error.code if ack.error else "unknown"
            link.row(K.JOIN_FAIL, error=code, latency_ms=ms, d={"resume_inc": self.inc})
            if resumed and code == "gone":
                self.end("gone")
                self.join(link, resume=False)
            else:
                self.state, self.rejoin_at = "out", _mono() + 1.0
            return
        now = _mono()
        if not ack.resumed:
            if switched and self.inc is not None:
                self.end("switched")
            self._new_session()
        link.inc, link.node = ack.inc, ack.node
        self.inc, self.state, self.lease_s = ack.inc, "in", ack.lease_s
        snap = ack.snapshot
        link.row(
            K.JOIN_OK,
            seq=snap.ver,
            latency_ms=ms,
            d={
                "resumed": ack.resumed or None,
                "role": ack.role,
                "members": [[x.member, x.inc] for x in snap.members],
                "floor": floor_detail(snap.floor),
                "lease_s": ack.lease_s,
                "reap_s": ack.reap_s,
                "max_talk_s": ack.max_talk_s,
                "mseq": ack.mseq,
            },
        )
        self._applied(link, self.view.snapshot(snap), now, newcomer=not ack.resumed)
        self._signals(link, ack.signals, "join")
        if ack.resumed:
            self.resend_all()
        if ack.more:
            self.sync_at = now

    def _new_session(self) -> None:
        for sig in self.outbox.clear():
            self._given_up(sig.sig_id, sig.to, sig.to_inc, sig.pc, sig.neg, sig.kind, "gone")
        self.view.reset()
        self.mailbox.reset()
        self.peers = {}

    def end(self, why: str) -> None:
        """The session is over for this client (``vend``)."""
        if self.link is not None and self.inc is not None:
            self.link.row(K.END, inc=self.inc, error=why)
        self.state = "out"
        self.m.floor.session_over()

    def connection_lost(self) -> None:
        if self.state in ("in", "joining"):
            self.state = "out"
        self.m.floor.session_over()

    # ----- leaving -----
    def leave_and_rejoin(self, now: float) -> None:
        link = self.link
        if link is None or not self.joined:
            return
        self.state = "leaving"
        t0 = now

        def acked(raw: Any) -> None:
            ack = vc.decode_floor(raw)
            ms = (_mono() - t0) * 1000
            if ack.ok:
                link.row(K.LEAVE_OK, seq=ack.ver, latency_ms=ms)
                self.end("left")
                self._new_session()
                self.state = "left"
            else:
                link.row(K.END, error=f"leave:{ack.error.code if ack.error else '?'}")
                self.state = "out"
            self.rejoin_at = _mono() + self.m.rng.uniform(0.3, 1.5)

        link.call("vleave", {"room": self.m.plan.room}, acked, lambda why: None, self.m.timeout_s)

    # ----- pushes -----
    def on_push(self, link: Link, event: str, raw: Any) -> None:
        p = record_push(link, event, raw)
        if p is None:
            return
        now = _mono()
        if isinstance(p, vc.RosterPush | vc.FloorPush):
            if p.room == self.m.plan.room and self.state in ("in", "joining"):
                self._applied(link, self.view.push(p), now, pushed=isinstance(p, vc.RosterPush))
        elif isinstance(p, vc.Signal):
            self.m.count("voice_signal_recv")
            if p.to_inc == self.inc and self.state == "in":
                for s in self.mailbox.take(p):
                    self._deliver(link, s, now)
        elif isinstance(p, vc.KickPush) and p.inc == self.inc and self.state == "in":
            self.end(f"kicked:{p.reason}")
            self.join(link, resume=False)
        self._need_sync(now)

    # ----- roster and peers -----
    def _applied(
        self,
        link: Link,
        changes: list[Applied],
        now: float,
        *,
        newcomer: bool = False,
        pushed: bool = False,
    ) -> None:
        for a in changes:
            if a.members is not None:
                link.row(
                    K.APPLY, seq=a.ver, d={"op": "snapshot", "members": sorted(a.members.items())}
                )
            elif isinstance(a.push, vc.RosterPush):
                r = a.push
                link.row(
                    K.APPLY, seq=a.ver, d={"op": r.op, "m": r.member.member, "minc": r.member.inc}
                )
                if r.member.member == self.me and r.member.inc == self.inc and r.op != "join":
                    self.end(f"removed:{r.op}")
                    self.join(link, resume=False)
                    return
            else:
                link.row(K.APPLY, seq=a.ver, d={"op": "floor"})
        if changes:
            self._reconcile(now, newcomer=newcomer, pushed=pushed)
            self.m.floor.on_floor(self.view.floor, now)

    def _reconcile(self, now: float, *, newcomer: bool, pushed: bool) -> None:
        want = {m: i for m, i in self.view.members.items() if m != self.me}
        for m, (inc, _) in list(self.peers.items()):
            if want.get(m) != inc:
                del self.peers[m]
                for sig in self.outbox.drop_peer(m, inc):
                    self._given_up(
                        sig.sig_id, sig.to, sig.to_inc, sig.pc, sig.neg, sig.kind, "peer_gone"
                    )
        for m, inc in want.items():
            if m in self.peers:
                continue
            neg = Negotiation(self.me, m, self.m.vs.candidates)
            self.peers[m] = (inc, neg)
            if newcomer or (pushed and self.m.rng.random() < self.m.vs.glare_ratio):
                self.m.send(neg, inc, neg.offer(now))

    def renegotiate_one(self, now: float) -> None:
        if self.peers:
            m = self.m.rng.choice(sorted(self.peers))
            inc, neg = self.peers[m]
            self.m.send(neg, inc, neg.offer(now))

    # ----- signals in -----
    def _signals(self, link: Link, signals: tuple[vc.Signal, ...], via: str) -> None:
        now = _mono()
        for s in signals:
            record_signal(link, K.SIG_RECV, s, via)
            for d in self.mailbox.take(s):
                self._deliver(link, d, now)

    def _deliver(self, link: Link, s: vc.Signal, now: float) -> None:
        record_signal(link, K.SIG_DELIVER, s, "mailbox")
        peer = self.peers.get(s.sender)
        if peer is None and self.view.members.get(s.sender, s.sender_inc) == s.sender_inc:
            peer = (s.sender_inc, Negotiation(self.me, s.sender, self.m.vs.candidates))
            self.peers[s.sender] = peer
        if peer is None or peer[0] != s.sender_inc:
            return  # a signal of a session this member no longer negotiates with
        inc, neg = peer
        outs = neg.receive(s.kind, s.neg, now)
        for step in neg.take_steps():
            link.row(
                K.PC_STATE,
                latency_ms=None if step.latency_s is None else step.latency_s * 1000,
                d={
                    "pc": s.pc,
                    "peer": s.sender,
                    "peer_inc": inc,
                    "state": step.state,
                    "neg": step.neg,
                },
            )
        self.m.send(neg, inc, outs)

    # ----- resync, timers -----
    def _need_sync(self, now: float) -> None:
        if (self.view.gap or self.mailbox.gap) and self.sync_at is None:
            self.sync_at = now + GAP_S

    def sync(self, *, final: bool = False) -> None:
        link = self.link
        if link is None or not self.joined or (self.syncing and not final):
            return
        self.syncing, self.sync_at, t0 = True, None, _mono()
        inc = self.inc

        def acked(raw: Any) -> None:
            self.syncing = False
            ack = vc.decode_sync(raw)
            if not ack.ok:
                link.row(
                    K.SYNC_OK,
                    error=ack.error.code if ack.error else "?",
                    d={"final": final or None},
                )
                return
            snap, now = ack.snapshot, _mono()
            link.row(
                K.SYNC_OK,
                seq=snap.ver,
                latency_ms=(now - t0) * 1000,
                d={
                    "members": [[x.member, x.inc] for x in snap.members],
                    "floor": floor_detail(snap.floor),
                    "signals": len(ack.signals),
                    "mseq": ack.mseq,
                    "final": final or None,
                },
            )
            if link is not self.link or self.inc != inc or not self.joined:
                return  # the answer of a session that is over (a switch, a new join)
            self._applied(link, self.view.snapshot(snap), now)
            self._signals(link, ack.signals, "sync")
            if not ack.more:
                self.mailbox.skip_to(ack.mseq)
            if ack.more or self.view.gap or self.mailbox.gap:
                self.sync_at = now + (0 if ack.more else GAP_S)

        def lost(why: str) -> None:
            self.syncing = False

        payload = {"room": self.m.plan.room, "after_mseq": self.mailbox.last}
        link.call("vsync", payload, acked, lost, self.m.timeout_s)

    def final_view(self) -> None:
        """At quiescence: this client's view, then the server's (``vsync`` final)."""
        self.viewed = True
        link = self.link
        if link is None or not self.joined:
            return
        f = self.view.floor
        link.row(
            K.VIEW,
            seq=self.view.ver,
            d={
                "members": sorted(self.view.members.items()),
                "holder": f.holder,
                "hinc": f.holder_inc,
                "token": f.token,
            },
        )
        self.sync(final=True)

    def resend_soon(self, delay_s: float = 0.2) -> None:
        """After an indefinite refusal: every pending signal again, in order, shortly."""
        if self.resend_at is None:
            self.resend_at = _mono() + delay_s

    def resend_all(self) -> None:
        self.resend_at = None
        link = self.link
        if link is None or not self.joined:
            return
        for sig in self.outbox.resend():
            self.m.emit_signal(link, sig)

    def _given_up(
        self, sig_id: str, to: str, to_inc: int, pc: str, neg: int, kind: str, why: str
    ) -> None:
        if self.link is not None:
            self.link.row(
                K.SIG_INFO,
                client_msg_id=sig_id,
                error=why,
                d={"to": to, "to_inc": to_inc, "pc": pc, "neg": neg, "k": kind},
            )

    def tick(self, now: float) -> None:
        for sig in self.outbox.overdue(now):
            self._given_up(sig.sig_id, sig.to, sig.to_inc, sig.pc, sig.neg, sig.kind, "deadline")
        if self.sync_at is not None and now >= self.sync_at and self.joined:
            self.sync()
        if self.resend_at is not None and now >= self.resend_at:
            self.resend_all()
        if self.rejoin_at is not None and now >= self.rejoin_at and self.state in ("out", "left"):
            link = self.link
            if link is not None and link.connected:
                self.rejoin_at = None
                self.join(link, resume=False)

    def next_deadline(self) -> float | None:
        times = [t for t in (self.sync_at, self.rejoin_at, self.resend_at) if t is not None]
        return min(times, default=None)


__all__ = ["Session"]
