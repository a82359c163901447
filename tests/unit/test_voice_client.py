"""The voice member's pure parts: roster view in version order, mailbox in mseq order,
perfect negotiation (glare included), the voice codec on malformed input, the plan, and the
scenario's voice settings and default checks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers import checker_names
from pigeon_lab.errors import ConfigError
from pigeon_lab.load.voice_negotiation import Negotiation, Out, pc_name
from pigeon_lab.load.voice_plan import members_of_workspace, plan_member
from pigeon_lab.load.voice_state import Mailbox, RosterView
from pigeon_lab.protocol import voice as vc
from pigeon_lab.scenario import load_scenario
from pigeon_lab.scenario.checks import DEFAULT_INVARIANTS
from pigeon_lab.workloads.voice import VoiceSettings


def roster(ver: int | None, op: str, m: str, inc: int = 1) -> vc.RosterPush:
    return vc.RosterPush("r", ver, op, vc.Member(m, inc))


def history_of(n: int) -> list[vc.RosterPush]:
    """n changes: members join and some leave again."""
    out, live = [], []
    for v in range(1, n + 1):
        if live and v % 3 == 0:
            out.append(roster(v, "leave", live.pop(0)))
        else:
            live.append(f"m{v}")
            out.append(roster(v, "join", f"m{v}"))
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(0, 10_000), st.integers(0, 30))
def test_any_order_and_duplicates_of_pushes_give_the_same_roster(
    n: int, seed: int, at: int
) -> None:
    pushes = history_of(n)
    expected = RosterView()
    expected.snapshot(vc.Snapshot(0))
    for p in pushes:
        expected.push(p)
    rng = random.Random(seed)
    mixed = pushes + rng.sample(pushes, k=min(len(pushes), 5))
    rng.shuffle(mixed)
    view = RosterView()
    before, after = mixed[: at % (len(mixed) + 1)], mixed[at % (len(mixed) + 1) :]
    for p in before:  # pushes that come while the join is in flight
        view.push(p)
    view.snapshot(vc.Snapshot(0))
    for p in after:
        view.push(p)
    assert view.members == expected.members and view.ver == n and not view.gap


def test_a_snapshot_skips_what_it_already_holds_and_a_gap_waits() -> None:
    view = RosterView()
    view.push(roster(3, "join", "c"))  # before the snapshot: kept
    view.snapshot(vc.Snapshot(2, (vc.Member("a", 1), vc.Member("b", 1))))
    assert view.members == {"a": 1, "b": 1, "c": 1} and view.ver == 3
    assert view.push(roster(2, "leave", "b")) == [] and view.stale == 1
    assert view.push(roster(5, "leave", "a")) == [] and view.gap
    view.push(roster(4, "leave", "b"))
    assert view.members == {"c": 1} and not view.gap
    assert view.push(roster(6, "leave", "c", inc=2)) and view.members == {"c": 1}  # other inc


def test_an_unversioned_push_is_applied_as_it_comes() -> None:
    view = RosterView()
    view.snapshot(vc.Snapshot(None, (vc.Member("a", 1),)))
    view.push(roster(None, "join", "b"))
    assert view.members == {"a": 1, "b": 1}


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(1, 13))), st.integers(0, 100))
def test_the_mailbox_delivers_each_mseq_once_in_order(order: list[int], dup: int) -> None:
    box = Mailbox()
    got = []
    for m in order + order[: dup % 5]:
        s = vc.Signal("r", "a", 1, "b", 1, f"s{m}", "p", 0, "candidate", "", m)
        got += [x.mseq for x in box.take(s)]
    assert got == list(range(1, 13)) and box.last == 12 and not box.gap


def _exchange(a: Negotiation, b: Negotiation, a_out: list[Out], b_out: list[Out]) -> None:
    """Deliver every signal in order until both sides are quiet."""
    queue: list[tuple[Negotiation, Out]] = [(b, o) for o in a_out] + [(a, o) for o in b_out]
    while queue:
        to, out = queue.pop(0)
        other = a if to is b else b
        for reply in to.receive(out.kind, out.neg, 1.0):
            queue.append((other, reply))


def test_a_negotiation_connects_both_sides() -> None:
    a, b = Negotiation("a", "b"), Negotiation("b", "a")
    _exchange(a, b, a.offer(0.0), [])
    assert a.connected_neg == b.connected_neg == 0
    states = [s.state for s in a.take_steps()]
    assert states[:2] == ["offer_sent", "answered"] and "connected" in states


def test_glare_the_polite_side_rolls_back_and_both_connect_on_the_impolite_offer() -> None:
    a, b = Negotiation("a", "b"), Negotiation("b", "a")  # a is polite (smaller id)
    _exchange(a, b, a.offer(0.0), b.offer(0.0))
    assert a.connected_neg == b.connected_neg == 1  # b's offer (odd: the impolite side's)
    assert "glare_rollback" in [s.state for s in a.take_steps()]
    assert {"glare_ignored", "ignored_candidate"} <= {s.state for s in b.take_steps()}
    assert pc_name("b", 2, "a", 1) == pc_name("a", 1, "b", 2) == "a.1~b.2"


def test_the_voice_codec_never_raises_on_malformed_input() -> None:
    for bad in (None, 3, "x", [], {"ok": True}, {"ok": True, "inc": "1"}):
        assert not vc.decode_join(bad).ok
    assert vc.decode_join({"ok": False, "error": {"code": "gone"}}).error == vc.AckError("gone", "")
    for dec in (vc.decode_roster, vc.decode_floor_push, vc.decode_speaking, vc.decode_kick):
        assert dec("nope") is None and dec({}) is None
    assert vc.signal_of({"room": "r"}) is None and not vc.decode_signal_ack({"ok": True}).ok
    ack = vc.decode_join(
        {
            "ok": True,
            "inc": 2,
            "ver": 5,
            "members": [{"member": "a", "inc": 2}, 7],
            "floor": {"state": "taken", "holder": "a", "token": 9, "queue": ["b", 3]},
            "lease_s": 3,
        }
    )
    assert ack.ok and ack.snapshot.members == (vc.Member("a", 2),) and ack.lease_s == 3.0
    assert ack.snapshot.floor.queue == ("b",) and ack.snapshot.floor.token == 9


def test_the_plan_places_roles_rooms_and_workspaces() -> None:
    s = VoiceSettings(
        workspaces=2,
        rooms_per_workspace=2,
        members_per_room=4,
        chairs_per_room=1,
        listeners_per_room=1,
    )
    plans = [plan_member(s, ["u"], 1, i) for i in range(s.members)]
    assert [p.role for p in plans[:4]] == ["chair", "speaker", "speaker", "listener"]
    assert [(p.workspace, p.room) for p in plans[::4]] == [
        ("ws0", "vr0"),
        ("ws0", "vr1"),
        ("ws1", "vr0"),
        ("ws1", "vr1"),
    ]
    assert sum(p.probes for p in plans) == 4 and members_of_workspace(s, "ws1")[0] == "v8"


def test_voice_settings_and_the_default_checks_of_a_scenario() -> None:
    with pytest.raises(ConfigError, match=r"workload\.voice\.chairs_per_room"):
        load_scenario("voice-baseline", overrides={"workload.voice.chairs_per_room": 9})
    with pytest.raises(ConfigError, match=r"topology\.backend\.voice\.refresh_s"):
        load_scenario("voice-baseline", overrides={"topology.backend.voice.refresh_s": 5})
    voice = load_scenario("voice-baseline")
    assert voice.checks.invariants == checker_names(["voice"])
    assert voice.workload.enabled_workloads() == ["voice"]
    mixed = load_scenario("voice-mixed")
    assert mixed.checks.invariants == checker_names(["chat", "voice"])
    assert load_scenario("smoke").checks.invariants == DEFAULT_INVARIANTS == checker_names(["chat"])
    named = load_scenario("voice-baseline", overrides={"checks.invariants": ["voice_floor"]})
    assert named.checks.invariants == ("voice_floor",)
    env = voice.topology.backend.voice.env()
    assert env["PIGEON_BACKEND_VOICE_LEASE_S"] == "3" and len(env) == 4
