"""The voice workload's rows in the history: kinds, columns, and the ``detail`` they carry.

Voice rows use the history's columns where they fit (docs/interfaces.md, "Voice rows"):
``client``/``user`` = the member (token ``sub``), ``workspace``, ``node`` (of the session, from
the ``vjoin`` ack), ``channel`` = the room, ``client_msg_id`` = a signal's ``sig_id``,
``seq`` = the room version (roster/floor rows), the mailbox ``mseq`` (signal rows) or the
fencing token (floor and speaking rows), ``sender`` = a signal's server-stamped ``from``,
``body_hash`` = a signal payload's hash, ``sent_wall`` = the server's ``ts`` of a push,
``latency_ms``, ``attempt``, ``error``. The rest is ``detail``: a small JSON object whose
keys are listed per kind below; ``inc`` (the recording session's incarnation) is in every
one. No column was added: old run folders read as they are.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson


class VoiceKind(StrEnum):
    """History ``kind`` values of the voice workload (``detail`` keys after the colon)."""

    CONNECT = "vconnect"  # a voice member's socket connected
    DISCONNECT = "vdisconnect"  # ... was lost (error: reason); the session may resume
    JOIN = "vjoin"  # sent: role, resume_inc (pushes of the room may come before its ack)
    JOIN_OK = (
        "vjoin_ok"  # seq=ver: inc, resumed, role, members [[m, inc]], floor, lease_s, max_talk_s
    )
    JOIN_FAIL = "vjoin_fail"  # error: resume_inc
    LEAVE_OK = "vleave_ok"  # seq=ver: inc
    END = "vend"  # a session is over for its client; error: left|kicked:<why>|gone|vanished
    KICKED = "vkicked"  # the server said the session is over: inc, reason
    ROSTER = "vroster"  # a roster push: op, m, minc, role, node[, replaced]
    FLOOR = "vfloor"  # a floor push: state, holder, hinc, token, queue, reason[, prev]
    # the client applied a change: seq=ver; op (join|leave|expire|snapshot), m, minc | members
    APPLY = "vapply"
    VIEW = "vview"  # the client's roster at quiescence: seq=ver; members, holder, hinc, token
    SYNC_OK = "vsync_ok"  # a vsync answer: seq=ver; members, floor, signals, final
    SIG_INVOKE = "sig_invoke"  # one attempt: to, to_inc, pc, neg, k
    SIG_OK = "sig_ok"  # seq=mseq: to, to_inc, pc, neg, k, dup
    SIG_FAIL = "sig_fail"  # definitely not relayed (error)
    SIG_INFO = "sig_info"  # outcome unknown
    SIG_RECV = (
        "sig_recv"  # received (push or ack); sender=from: to, to_inc, from_inc, pc, neg, k, via
    )
    SIG_DELIVER = "sig_deliver"  # handed on in mseq order: as sig_recv
    FLOOR_REQ_OK = "floor_req_ok"  # seq=token when granted: req, status, pos
    FLOOR_REQ_FAIL = "floor_req_fail"  # req
    FLOOR_REL_OK = "floor_rel_ok"  # seq=token
    FLOOR_REL_FAIL = "floor_rel_fail"  # seq=token
    FLOOR_CANCEL_OK = "floor_cancel_ok"  # req, cancelled
    FLOOR_CHAIR_OK = "floor_chair_ok"  # seq=token (grant): op (grant|revoke), target
    FLOOR_CHAIR_FAIL = "floor_chair_fail"  # op, target
    SPEAK_OK = "speak_ok"  # seq=token: on, probe (a deliberately stale token)
    SPEAK_FAIL = "speak_fail"  # seq=token: on, probe
    SPEAKING = "vspeaking"  # a speaking push; sender=member, seq=token: minc, on
    PC_STATE = "pc_state"  # a negotiation step: pc, peer, peer_inc, state, neg
    ADVERSARIAL = "vadversarial"  # a voice attack; detail: attack; error: refusal code|accepted


VOICE_KINDS: tuple[str, ...] = tuple(k.value for k in VoiceKind)

SIGNAL_ROWS = frozenset({VoiceKind.SIG_RECV.value, VoiceKind.SIG_DELIVER.value})
PUSH_ROWS = frozenset(
    {
        VoiceKind.ROSTER.value,
        VoiceKind.FLOOR.value,
        VoiceKind.SPEAKING.value,
        VoiceKind.SIG_RECV.value,
        VoiceKind.KICKED.value,
    }
)
"""Rows of something the server sent a client (isolation judges them)."""


def detail(**fields: Any) -> str:
    """The ``detail`` of a voice row: compact JSON, keys in the order given, None left out."""
    return orjson.dumps({k: v for k, v in fields.items() if v is not None}).decode()


def parse_detail(text: Any) -> dict[str, Any]:
    """A voice row's ``detail`` back as a dict ({} when absent or not JSON)."""
    if not isinstance(text, str) or not text.startswith("{"):
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["PUSH_ROWS", "SIGNAL_ROWS", "VOICE_KINDS", "VoiceKind", "detail", "parse_detail"]
