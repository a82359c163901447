"""Adversarial voice probes, run once by one member of each room (``vadversarial`` rows).

Each probe is something a correct server refuses with a code, and the row says which code
came back (``accepted`` when the server went along: a violation), or ``ignored`` where the
right answer is to ignore a field (a spoofed ``from``: the addressee's row then shows the
server-stamped sender, which the isolation checker compares with the real one).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from pigeon_lab.history.voice import VoiceKind as K
from pigeon_lab.load.voice_negotiation import pc_name
from pigeon_lab.load.voice_plan import members_of_workspace
from pigeon_lab.protocol import voice as vc

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.load.voice_member import VoiceMember

_mono = time.monotonic
STRANGER = "nobody-here"
SPOOFED = "v-spoofed"


def _probe(member: VoiceMember, attack: str, event: str, payload: Any, *, expect_ok: bool) -> None:
    link = member.link
    if link is None:
        return
    t0 = _mono()

    def acked(raw: Any) -> None:
        ok = isinstance(raw, dict) and bool(raw.get("ok"))
        code = vc.decode_floor(raw).error
        outcome = ("ignored" if expect_ok else "accepted") if ok else (code.code if code else "?")
        link.row(
            K.ADVERSARIAL, latency_ms=(_mono() - t0) * 1000, error=outcome, d={"attack": attack}
        )

    def lost(why: str) -> None:
        link.row(K.ADVERSARIAL, error="unknown", d={"attack": attack, "lost": why})

    link.call(event, payload, acked, lost, member.timeout_s)


def run_probes(member: VoiceMember) -> None:
    """The probes of one member (after its first join)."""
    s, plan = member.s, member.plan
    room = plan.room
    others = [w for w in member.vs.workspace_names() if w != plan.workspace]
    foreign = members_of_workspace(member.vs, others[0])[0] if others else STRANGER

    def sig(to: str, kind: str) -> dict[str, Any]:
        return vc.signal_payload(room, to, 1, uuid.uuid4().hex[:16], f"probe~{to}", 0, kind, "x")

    _probe(member, "cross_tenant_signal", "vsignal", sig(foreign, "offer"), expect_ok=False)
    _probe(member, "bad_room", "vjoin", {"room": "Not A Room!", "role": "speaker"}, expect_ok=False)
    _probe(
        member,
        "malformed_signal",
        "vsignal",
        {**sig(foreign, "offer"), "kind": "nonsense"},
        expect_ok=False,
    )
    _probe(member, "malformed_payload", "vsignal", ["not", "an", "object"], expect_ok=False)
    _probe(member, "past_token_release", "floor_rel", {"room": room, "token": 1}, expect_ok=False)
    _probe(
        member,
        "past_token_speaking",
        "speaking",
        {"room": room, "token": 1, "on": True},
        expect_ok=False,
    )
    _probe(
        member, "chair_without_role", "floor_revoke", {"room": room}, expect_ok=plan.role == "chair"
    )
    peer = next((m for m in sorted(s.view.members) if m != plan.member), None)
    link = member.link
    if peer is not None and link is not None and s.inc is not None:
        # a real signal with a forged `from`: the addressee must see this member as its sender
        peer_inc = s.view.members[peer]
        pc = f"probe~{pc_name(plan.member, s.inc, peer, peer_inc)}"  # not a real negotiation
        out = s.outbox.new(room, peer, peer_inc, pc, 0, "candidate", "spoof", _mono())
        out.extra = {"from": SPOOFED}
        member.emit_signal(link, out)
        link.row(K.ADVERSARIAL, error="sent", d={"attack": "spoofed_from", "sig_id": out.sig_id})


__all__ = ["run_probes"]
