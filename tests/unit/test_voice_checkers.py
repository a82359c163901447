"""The voice checkers on histories that must pass and histories that must fail.

Each test starts from ``correct_room()`` (a small correct run: every voice checker passes)
and breaks one thing the way a flawed server would; the checker of that invariant must fail
with a counterexample that names it, and say ``unknown`` when it cannot decide.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pigeon_lab.checkers import REGISTRY, WORKLOAD_OF, checker_names, run_checker
from pigeon_lab.checkers.base import FaultWindow, Outcome, Verdict
from pigeon_lab.checkers.voice_metrics import GhostMetrics, VoiceSloMetrics
from tests.voice_builder import NS, VoiceHistory, context, correct_room, empty_rooms

VOICE = checker_names(["voice"])


def verdict(name: str, h: VoiceHistory, **kw: object) -> Verdict:
    rb = kw.pop("readback", empty_rooms())
    assert rb is None or isinstance(rb, pd.DataFrame)
    return run_checker(name, h.frame(), context(readback=rb, **kw))  # type: ignore[arg-type]


def failed(v: Verdict, text: str) -> None:
    assert v.outcome is Outcome.FAIL, (v.name, v.summary)
    assert any(text in c.summary for c in v.counterexamples), [c.summary for c in v.counterexamples]
    assert all(c.rows for c in v.counterexamples if "mailbox number" not in c.summary)


def test_the_voice_checkers_are_registered_for_the_voice_workload() -> None:
    assert VOICE == (
        "voice_roster",
        "voice_ghosts",
        "voice_roster_order",
        "voice_signals",
        "voice_negotiation",
        "voice_floor",
        "voice_floor_fifo",
        "voice_floor_liveness",
        "voice_isolation",
        "voice_slo",
    )
    assert all(WORKLOAD_OF[n] == "voice" for n in VOICE)
    assert set(checker_names(["chat"])) & set(VOICE) == set()
    assert list(REGISTRY)[-len(VOICE) :] == list(VOICE)  # after chat's, in report order


@pytest.mark.parametrize("name", VOICE)
def test_a_correct_run_passes_every_voice_checker(name: str) -> None:
    v = verdict(name, correct_room())
    assert v.outcome is Outcome.PASS, (v.summary, [c.summary for c in v.counterexamples])


@pytest.mark.parametrize("name", VOICE)
def test_no_voice_activity_is_unknown(name: str) -> None:
    h = VoiceHistory()
    h.row("connect", "u0", None)  # a chat row: nothing voice to judge
    assert verdict(name, h).outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("name", [n for n in VOICE if n != "voice_slo"])
def test_a_history_cut_short_never_passes(name: str) -> None:
    """Like chat's, every voice invariant (not the figures of voice_slo) is at most unknown."""
    assert verdict(name, correct_room(), complete=False).outcome is not Outcome.PASS


# ----- 1. roster convergence -----
def test_divergent_views_fail() -> None:
    h = correct_room()
    h.final("b", 2, {"a": 1, "c": 1})  # a second member whose view still lists c
    failed(verdict("voice_roster", h), "different rosters")


def test_a_dead_member_listed_by_the_server_at_quiescence_fails() -> None:
    h = correct_room()
    h.rows = [r for r in h.rows if r["kind"] not in ("vview", "vsync_ok")]
    h.final("a", 1, {"a": 1, "c": 1})  # the server still lists c, dead for 10 s
    failed(verdict("voice_roster", h), "still listed")


def test_a_room_not_empty_after_the_end_fails_and_a_missing_readback_is_unknown() -> None:
    rb = empty_rooms()
    rb.loc[0, "members"] = "c:1"
    failed(verdict("voice_roster", correct_room(), readback=rb), "after everyone left")
    assert verdict("voice_roster", correct_room(), readback=None).outcome is Outcome.UNKNOWN


# ----- 2. ghosts and early leaves -----
def test_a_dead_member_never_removed_is_a_ghost() -> None:
    h = correct_room()
    h.rows = [
        r for r in h.rows if not (r["kind"] in ("vroster", "vapply") and '"expire"' in r["detail"])
    ]
    failed(verdict("voice_ghosts", h), "removed it never")


def test_a_removal_after_the_lease_bound_is_a_ghost() -> None:
    h = correct_room()
    for r in h.rows:
        if r["kind"] in ("vroster", "vapply") and '"expire"' in r["detail"]:
            r["t"] += int(3.0 * NS)  # at 9 s: 5 s after the death, bound 4.5 s
    h.rows.sort(key=lambda r: r["t"])
    v = verdict("voice_ghosts", h)
    failed(v, "after 5.0 s")
    assert GhostMetrics.from_verdict(v).worst_s == pytest.approx(5.0, abs=0.05)


def test_the_death_is_counted_from_the_kill_of_its_node() -> None:
    kill = FaultWindow("kill", "node-2", int(1.0 * NS), None)
    failed(verdict("voice_ghosts", correct_room(), faults=(kill,)), "removed it after 5.0 s")


def test_a_live_member_dropped_without_a_fault_fails_and_with_one_is_a_flap() -> None:
    h = correct_room()
    h.at(9.0)
    h.row("vend", "a", 1, error="removed:expire")
    failed(verdict("voice_ghosts", h), "while connected")
    pause = FaultWindow("pause", "node-1", int(8.0 * NS), int(9.5 * NS))
    v = verdict("voice_ghosts", h, faults=(pause,))
    assert v.outcome is Outcome.PASS and v.counts["flaps"] == 1


# ----- 3. one roster order -----
def test_an_unversioned_push_fails() -> None:
    h = correct_room()
    h.roster("a", 1, None, "join", "z", 1, apply=False)
    failed(verdict("voice_roster_order", h), "no version")


def test_one_version_naming_two_changes_fails() -> None:
    h = correct_room()
    h.roster("b", 1, 3, "join", "z", 1, apply=False)  # ver 3 was c's join for a
    failed(verdict("voice_roster_order", h), "ver 3 names 2 different changes")


def test_a_client_applying_an_older_version_fails() -> None:
    h = correct_room()
    h.row("vapply", "a", 1, seq=2, d={"op": "join", "m": "b", "minc": 1})
    failed(verdict("voice_roster_order", h), "applied ver 2 after ver 9")


# ----- 4. signals exactly once, to the addressee only -----
def test_a_signal_relayed_to_another_session_fails() -> None:
    h = correct_room()
    h.signal("b", 1, "a", 1, "s9", "candidate", 1, "a.1~b.1", 3, got_by=("a", 2))
    failed(verdict("voice_signals", h), "reached a@2")


def test_a_signal_delivered_twice_fails_and_a_wire_duplicate_is_counted() -> None:
    h = correct_room()
    dup = next(r for r in h.rows if r["kind"] == "sig_deliver")
    h.rows.append({**dup, "t": dup["t"] + 1})
    failed(verdict("voice_signals", h), "delivered 2 times")
    h = correct_room()
    recv = next(r for r in h.rows if r["kind"] == "sig_recv")
    h.rows.append({**recv, "t": recv["t"] + 1})
    v = verdict("voice_signals", h)
    assert v.outcome is Outcome.PASS and v.metrics["wire_duplicates"] == 1


def test_an_acked_signal_lost_for_a_live_addressee_fails_unless_it_left() -> None:
    h = correct_room()
    h.at(3.0)
    h.signal("b", 1, "a", 1, "s7", "candidate", 1, "a.1~b.1", 3, deliver=False)
    h.rows = [r for r in h.rows if not (r["kind"] == "sig_recv" and r["client_msg_id"] == "s7")]
    failed(verdict("voice_signals", h), "never delivered")
    h = correct_room()
    h.at(7.9)
    h.signal("a", 1, "b", 1, "s8", "candidate", 1, "a.1~b.1", 3, deliver=False)
    assert verdict("voice_signals", h).outcome is Outcome.PASS  # b left 0.1 s later


# ----- 5. order per pair, answers match offers -----
def test_signals_delivered_out_of_sending_order_fail_unless_resent() -> None:
    for attempt, expect in ((1, Outcome.FAIL), (2, Outcome.PASS)):
        h = correct_room()
        h.at(3.0)
        h.signal("b", 1, "a", 1, "s20", "candidate", 1, "a.1~b.1", 4, attempt=attempt)
        h.signal("b", 1, "a", 1, "s21", "eoc", 1, "a.1~b.1", 3)
        v = verdict("voice_negotiation", h)
        assert v.outcome is expect, v.summary


def test_out_of_order_is_a_counterexample() -> None:
    h = correct_room()
    h.at(3.0)
    h.signal("b", 1, "a", 1, "s20", "candidate", 1, "a.1~b.1", 4)
    h.signal("b", 1, "a", 1, "s21", "eoc", 1, "a.1~b.1", 3)
    failed(verdict("voice_negotiation", h), "delivered after it")


def test_an_answer_to_no_offer_fails() -> None:
    h = correct_room()
    h.signal("a", 1, "b", 1, "s30", "answer", 7, "a.1~b.1", 3)
    failed(verdict("voice_negotiation", h), "to no offer")


def test_a_candidate_of_an_older_negotiation_after_a_newer_offer_fails() -> None:
    h = correct_room()
    h.signal("b", 1, "a", 1, "s40", "offer", 3, "a.1~b.1", 3)
    h.signal("b", 1, "a", 1, "s41", "candidate", 1, "a.1~b.1", 4)
    failed(verdict("voice_negotiation", h), "after a newer description")


# ----- 6. floor exclusivity -----
def test_one_token_granted_to_two_members_fails() -> None:
    h = correct_room()
    h.at(3.5)
    h.floor("c", 1, 10, "taken", "c", 1, 1000, reason="granted")
    failed(verdict("voice_floor", h), "token 1000 granted to a@1, c@1")


def test_a_grant_over_a_current_one_without_ending_it_fails() -> None:
    h = correct_room()
    h.at(3.2)
    h.floor("a", 1, 10, "taken", "a", 1, 2000)
    h.floor("a", 1, 11, "taken", "c", 1, 2001)  # no prev: a still holds 2000
    failed(verdict("voice_floor", h), "with no end of it")


def test_falling_tokens_fail() -> None:
    h = correct_room()
    h.at(3.2)
    h.floor("a", 1, 10, "taken", "c", 1, 900)
    failed(verdict("voice_floor", h), "granted after token")


def test_speaking_with_a_released_token_fails() -> None:
    h = correct_room()
    for r in h.rows:
        if r["kind"] == "speak_fail":
            r["kind"], r["error"] = "speak_ok", None  # the server took the stale probe
    failed(verdict("voice_floor", h), "its own release was acked")


# ----- 7. FIFO grants -----
def test_a_grant_past_the_head_of_the_queue_fails() -> None:
    h = correct_room()
    h.at(3.2)
    h.floor("a", 1, 10, "taken", "a", 1, 3000)
    h.floor("a", 1, 11, "taken", "a", 1, 3000, queue=["b"], reason="queued")
    h.floor("a", 1, 12, "taken", "a", 1, 3000, queue=["b", "c"], reason="queued")
    h.floor(
        "a",
        1,
        13,
        "taken",
        "c",
        1,
        3001,
        queue=["b"],
        reason="granted",
        prev={"holder": "a", "hinc": 1, "token": 3000, "why": "released"},
    )
    failed(verdict("voice_floor_fifo", h), "head of the queue was b")


def test_a_request_not_queued_at_the_end_fails_and_a_chair_grant_is_listed() -> None:
    h = correct_room()
    h.at(3.2)
    h.floor("a", 1, 10, "taken", "a", 1, 3000)
    h.floor("a", 1, 11, "taken", "a", 1, 3000, queue=["b"], reason="queued")
    h.floor("a", 1, 12, "taken", "a", 1, 3000, queue=["c", "b"], reason="queued")
    failed(verdict("voice_floor_fifo", h), "goes to the end")
    h = correct_room()
    h.at(3.2)
    h.floor("a", 1, 10, "taken", "a", 1, 3000)
    h.floor("a", 1, 11, "taken", "a", 1, 3000, queue=["b"], reason="queued")
    h.floor("a", 1, 12, "taken", "a", 1, 3000, queue=["b", "c"], reason="queued")
    h.floor(
        "a",
        1,
        13,
        "taken",
        "c",
        1,
        3001,
        queue=["b"],
        reason="chair",
        prev={"holder": "a", "hinc": 1, "token": 3000, "why": "revoked"},
    )
    v = verdict("voice_floor_fifo", h)
    assert v.outcome is Outcome.PASS and v.counts["chair_grants"] == 1


# ----- 8. floor liveness -----
def test_a_floor_held_by_a_dead_member_fails() -> None:
    h = correct_room()
    h.at(3.5)
    for who in ("a", "c"):
        h.floor(who, 1, 10, "taken", "c", 1, 5000)  # c takes the floor, then dies at 4 s
    failed(verdict("voice_floor_liveness", h), "the floor was freed never")


def test_a_grant_past_the_talk_time_fails_and_a_holder_after_the_end_fails() -> None:
    h = correct_room()
    for r in h.rows:  # the second grant ends 6 s after it began (talk time 4 s)
        if (r["kind"] == "vfloor" and '"idle"' in r["detail"]) or (
            r["kind"] == "floor_rel_ok" and r["seq"] == 1001
        ):
            r["t"] += int(5.0 * NS)
    h.rows.sort(key=lambda r: r["t"])
    failed(verdict("voice_floor_liveness", h), "over the 4 s talk time")
    rb = empty_rooms()
    rb.loc[0, "holder"] = "c"
    failed(verdict("voice_floor_liveness", correct_room(), readback=rb), "still holds the floor")


# ----- 9. isolation -----
def test_a_push_after_leaving_fails() -> None:
    h = correct_room()
    h.at(8.5)
    h.roster("b", 1, 10, "join", "d", 1, apply=False)
    failed(verdict("voice_isolation", h), "did not hold")


def test_a_member_of_another_workspace_in_a_push_fails() -> None:
    h = correct_room()
    h.join("x", 1, {"x": 1}, ws="ws1")
    h.roster("a", 1, 10, "join", "x", 1, apply=False)
    failed(verdict("voice_isolation", h), "another workspace")


def test_a_forged_sender_fails_and_an_accepted_probe_fails() -> None:
    h = correct_room()
    for r in h.rows:
        if r["kind"] == "sig_recv" and r["client_msg_id"] == "s1":
            r["sender"] = "v-spoofed"
    failed(verdict("voice_isolation", h), "sender is not the member")
    h = correct_room()
    h.row("vadversarial", "a", 1, error="accepted", d={"attack": "cross_tenant_signal"})
    failed(verdict("voice_isolation", h), "was accepted")


# ----- figures -----
def test_voice_slo_figures() -> None:
    v = verdict("voice_slo", correct_room())
    m = VoiceSloMetrics.from_verdict(v)
    assert v.outcome is Outcome.PASS
    assert m.join_ms.n == 3 and m.relay_ms.n == 4 and m.grants == 2
    assert m.handover_ms.n == 1 and m.lease_s == 3.0 and m.bound_s == pytest.approx(4.5)
    assert m.timeline and sum(b.joins for b in m.timeline) == 3
