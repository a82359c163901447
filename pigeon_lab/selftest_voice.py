"""The voice cases of ``pigeon-lab selftest``: the correct backend under a node kill, and one
case per voice flaw (``reference_backend/flaws.py``), each with the voice checker it must fail.

Plain data (``SelftestCase`` fields), so that this module imports nothing of ``selftest``.
Voice cases start from a voice catalogue scenario (``base``) and must have had voice
sessions and relayed signals (``base_requires``), not chat sends.
"""

from __future__ import annotations

from typing import Any

VOICE_REQUIRES: dict[str, int] = {"voice_slo.sessions": 4, "voice_signals.acked": 1}
"""Every voice case must have had members and relayed signals."""

VOICE_SHORT: dict[str, Any] = {"workload.duration_s": 8, "workload.voice.settle_s": 3}
"""Voice cases run 8 s of load (members join, negotiate, take turns), then settle."""

VOICE_KILL: list[dict[str, Any]] = [
    {"kind": "kill-floor-holder", "target": "node-2", "at_s": 3, "duration_s": 3}
]
"""Kill the node of a floor holder at 3 s, start it again at 6 s."""


def _case(
    name: str,
    flaw: str | None,
    base: str,
    extra: dict[str, Any],
    expect: set[str],
    why: str,
    requires: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "flaw": flaw,
        "overrides": {**VOICE_SHORT, **extra},
        "expect_fail": frozenset(expect),
        "why": why,
        "requires": requires or {},
        "base": base,
        "base_requires": VOICE_REQUIRES,
    }


def voice_cases() -> list[dict[str, Any]]:
    """The voice cases, in run order (``SelftestCase`` keyword arguments)."""
    return [
        _case(
            "correct-voice-node-kill",
            None,
            "voice-node-kill",
            {"faults": VOICE_KILL, "workload.voice.vanish_ratio": 0.8},
            set(),
            "correct backend, the floor holder's node killed: ghosts reaped, floor freed",
            {"voice_ghosts.deaths_judged": 1},
        ),
        _case(
            "voice-leave-on-disconnect",
            "voice-leave-on-disconnect",
            "voice-node-kill",
            {"faults": VOICE_KILL, "workload.voice.vanish_ratio": 0.8},
            {"voice_ghosts"},
            "no lease reaping: members that died with their node stay listed for ever",
            {"voice_ghosts.deaths_judged": 1},
        ),
        _case(
            "voice-node-floor",
            "voice-node-floor",
            "voice-baseline",
            {"workload.voice.floor_rate": 0.6, "workload.voice.talk_s": [0.5, 1.5]},
            {"voice_floor"},
            "floor state per node: two nodes each grant the floor (two holders)",
        ),
        _case(
            "voice-no-fencing",
            "voice-no-fencing",
            "voice-baseline",
            {
                "topology.nodes": 2,
                "workload.voice.stale_probe_ratio": 1.0,
                "workload.voice.floor_rate": 0.5,
            },
            {"voice_floor"},
            "speaking accepted with any token: a released token still speaks",
            {"voice_floor.speaking_accepted": 1},
        ),
        _case(
            "voice-no-session-check",
            "voice-no-session-check",
            "voice-baseline",
            {
                "topology.nodes": 2,
                "workload.voice.switch_rate": 0.15,
                "workload.voice.renegotiate_rate": 0.2,
            },
            {"voice_signals"},
            "signals relayed to every socket of a member: the superseded socket gets them too",
        ),
        _case(
            "voice-unversioned-roster",
            "voice-unversioned-roster",
            "voice-baseline",
            {"topology.nodes": 2},
            {"voice_roster_order"},
            "roster pushes without versions: no client can order them (rosters may diverge)",
        ),
    ]


__all__ = ["VOICE_KILL", "VOICE_REQUIRES", "VOICE_SHORT", "voice_cases"]
