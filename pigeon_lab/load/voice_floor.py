"""A voice member's turn-taking: ask for the floor, speak with the token, release it.

Level-triggered from the room's floor as the server last said (the roster view's floor and
the acks): a speaker that wants the floor and neither holds it nor is queued asks; a grant
(in an ack or a push) starts speaking with its token; after the talk time it says it stopped
and releases. Some releases are followed by one ``speaking`` with the old token (a probe:
the server must refuse it, ``stale_token``). Chairs now and then grant the floor to the last
in the queue or revoke the current grant. Listeners never ask. Load process only.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from pigeon_lab.history.voice import VoiceKind as K
from pigeon_lab.protocol import voice as vc
from pigeon_lab.protocol.codec import AckError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.load.voice_member import VoiceMember

_mono = time.monotonic
CANCEL_AFTER_S = 3.0  # a queued request this old may be cancelled
CANCEL_RATIO = 0.3


class FloorClient:
    """See the module docstring."""

    def __init__(self, member: VoiceMember) -> None:
        self.m = member
        now = _mono()
        self.want_at = now + member.every(member.vs.floor_rate)
        self.chair_at = now + member.every(member.vs.chair_rate)
        self.asking = False
        self.req_id: str | None = None
        self.queued_since: float | None = None
        self.token: int | None = None  # the grant this member holds
        self.speak_until: float | None = None
        self.stopping = False

    @property
    def active(self) -> bool:
        return self.m.plan.role != "listener" and self.m.s.joined

    # ----- what the server says -----
    def on_floor(self, f: vc.FloorState, now: float) -> None:
        s = self.m.s
        mine = f.state == "taken" and f.holder == self.m.plan.member and f.holder_inc == s.inc
        if mine and f.token is not None and f.token != self.token:
            self._start(f.token, now)
        elif not mine and self.token is not None and f.token != self.token:
            self.token = self.speak_until = None  # revoked, expired or handed on
        queued = self.m.plan.member in f.queue
        if queued and self.queued_since is None:
            self.queued_since = now
        elif not queued:
            self.queued_since = None

    def session_over(self) -> None:
        self.token = self.speak_until = self.queued_since = None
        self.asking = False

    # ----- the member's loop -----
    def tick(self, now: float) -> None:
        if not self.active or self.stopping:
            return
        if self.m.plan.role == "chair" and now >= self.chair_at:
            self.chair_at = now + self.m.every(self.m.vs.chair_rate)
            self._chair_act()
        if self.speak_until is not None and now >= self.speak_until:
            self._finish()
        f = self.m.s.view.floor
        if (
            self.token is None
            and not self.asking
            and self.queued_since is None
            and now >= self.want_at
        ):
            self.want_at = now + self.m.every(self.m.vs.floor_rate)
            self._ask()
        elif (
            self.queued_since is not None
            and now - self.queued_since > CANCEL_AFTER_S
            and f.holder != self.m.plan.member
        ):
            self.queued_since = now
            if self.m.rng.random() < CANCEL_RATIO:
                self._cancel()

    def next_deadline(self) -> float | None:
        if not self.active or self.stopping:
            return None
        times = [self.want_at, self.speak_until] if self.token is None else [self.speak_until]
        if self.m.plan.role == "chair":
            times.append(self.chair_at)
        return min((t for t in times if t is not None), default=None)

    def stop(self, now: float) -> None:
        """The load is ending: finish speaking and leave the queue."""
        if self.token is not None:
            self._finish()
        elif self.queued_since is not None:
            self._cancel()
        self.stopping = True

    # ----- operations -----
    def _call(self, event: str, payload: dict[str, Any], done: Any) -> None:
        link = self.m.link
        if link is None:
            return
        t0 = _mono()
        link.call(
            event,
            payload,
            lambda raw: done(link, vc.decode_floor(raw), (_mono() - t0) * 1000),
            lambda why: done(link, vc.FloorAck(False, AckError(why)), (_mono() - t0) * 1000),
            self.m.timeout_s,
        )

    def _ask(self) -> None:
        self.asking, req = True, uuid.uuid4().hex[:12]
        self.req_id = req

        def done(link: Any, ack: vc.FloorAck, ms: float) -> None:
            self.asking = False
            code = ack.error.code if ack.error else None
            kind = K.FLOOR_REQ_OK if ack.ok else K.FLOOR_REQ_FAIL
            link.row(
                kind,
                seq=ack.token,
                latency_ms=ms,
                error=code,
                d={"req": req, "status": ack.status, "pos": ack.pos},
            )
            self.m.stat("floor_req", ms, code)
            if ack.ok and ack.status == "granted" and ack.token is not None:
                self.m.count("voice_grants")
                if ack.token != self.token:
                    self._start(ack.token, _mono())
            elif ack.ok and ack.status == "queued" and self.queued_since is None:
                self.queued_since = _mono()

        self._call("floor_req", {"room": self.m.plan.room, "req_id": req}, done)

    def _start(self, token: int, now: float) -> None:
        self.token = token
        low, high = self.m.vs.talk_s
        self.speak_until = now + self.m.rng.uniform(low, high)
        self.queued_since = None
        self._speak(token, True)

    def _speak(self, token: int, on: bool, probe: bool = False) -> None:
        def done(link: Any, ack: vc.FloorAck, ms: float) -> None:
            code = ack.error.code if ack.error else None
            link.row(
                K.SPEAK_OK if ack.ok else K.SPEAK_FAIL,
                seq=token,
                latency_ms=ms,
                error=code,
                d={"on": on, "probe": probe or None},
            )

        self._call("speaking", {"room": self.m.plan.room, "token": token, "on": on}, done)

    def _finish(self) -> None:
        token = self.token
        self.speak_until = None
        if token is None:
            return
        self._speak(token, False)

        def done(link: Any, ack: vc.FloorAck, ms: float) -> None:
            code = ack.error.code if ack.error else None
            link.row(
                K.FLOOR_REL_OK if ack.ok else K.FLOOR_REL_FAIL, seq=token, latency_ms=ms, error=code
            )
            if self.token == token:
                self.token = None
            if ack.ok and self.m.rng.random() < self.m.vs.stale_probe_ratio:
                self._speak(token, True, probe=True)

        self._call("floor_rel", {"room": self.m.plan.room, "token": token}, done)

    def _cancel(self) -> None:
        req = self.req_id
        if req is None:
            return

        def done(link: Any, ack: vc.FloorAck, ms: float) -> None:
            if ack.ok:
                link.row(K.FLOOR_CANCEL_OK, latency_ms=ms, d={"req": req, "cancelled": ack.done})

        self._call("floor_cancel", {"room": self.m.plan.room, "req_id": req}, done)

    def _chair_act(self) -> None:
        f = self.m.s.view.floor
        me = self.m.plan.member
        if f.state != "taken" or f.holder == me:
            return
        others = [q for q in f.queue if q != me]
        op, payload = (
            ("grant", {"room": self.m.plan.room, "member": others[-1]})
            if others
            else ("revoke", {"room": self.m.plan.room})
        )
        target = others[-1] if others else f.holder

        def done(link: Any, ack: vc.FloorAck, ms: float) -> None:
            code = ack.error.code if ack.error else None
            link.row(
                K.FLOOR_CHAIR_OK if ack.ok else K.FLOOR_CHAIR_FAIL,
                seq=ack.token,
                latency_ms=ms,
                error=code,
                d={"op": op, "target": target},
            )

        self._call(f"floor_{op}", payload, done)


__all__ = ["FloorClient"]
