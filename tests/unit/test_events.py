"""Run events: listeners get every event in order, a broken listener breaks nothing, and
the journal writes run.json once, whatever happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pigeon_lab.events import (
    Event,
    FaultFailed,
    LoadFinished,
    LoadProgress,
    LoadStarted,
    Note,
    Phase,
    PhaseEnded,
    PhaseStarted,
    RunComplete,
    RunEvents,
    RunStarted,
    TargetReady,
    describe,
)
from pigeon_lab.journal import RunJournal


def test_listeners_get_events_in_order_and_a_broken_one_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    events = RunEvents(broken, got.append)
    events.note("hello")
    with events.phase(Phase.LOAD, "6 users"):
        pass
    assert [type(e) for e in got] == [Note, PhaseStarted, PhaseEnded]
    ended = got[-1]
    assert isinstance(ended, PhaseEnded) and ended.ok and ended.phase is Phase.LOAD
    assert "listener bug" in capsys.readouterr().err


def test_a_failed_phase_carries_its_error_and_reraises() -> None:
    got: list[Event] = []
    events = RunEvents(got.append)
    with pytest.raises(ValueError), events.phase(Phase.PREFLIGHT):
        raise ValueError("target refused")
    ended = got[-1]
    assert isinstance(ended, PhaseEnded) and ended.error == "ValueError: target refused"
    assert describe(ended) is not None and "target refused" in str(describe(ended))


def test_the_journal_writes_run_json_from_the_events(tmp_path: Path) -> None:
    with RunJournal(tmp_path) as journal:
        events = RunEvents(journal)
        events.fire(RunStarted("r1", "smoke", 7, "2026-12-01T00:00:00+00:00"))
        events.fire(TargetReady("http://127.0.0.1:1", "bundled", {"lb_url": "x"}))
        events.fire(LoadStarted(6))
        events.fire(LoadProgress.from_line({"elapsed_s": 1, "users": 6, "unknown": "ignored"}))
        events.fire(LoadFinished({"acks": 3}))
        events.fire(RunComplete())
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["id"] == "r1" and meta["seed"] == 7 and meta["complete"] is True
    assert meta["target"] == "http://127.0.0.1:1" and meta["cluster"] == {"lb_url": "x"}
    assert meta["load_end_t"] >= meta["load_start_t"] and meta["load_summary"] == {"acks": 3}
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [x["event"] for x in lines][:3] == ["RunStarted", "TargetReady", "LoadStarted"]


def test_the_journal_records_an_error_and_stays_incomplete(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), RunJournal(tmp_path) as journal:
        events = RunEvents(journal)
        events.fire(LoadStarted(1))
        events.fire(FaultFailed(0, "kill", "node-1", "kill node-1", "inject", "no such process"))
        raise KeyboardInterrupt
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["complete"] is False and meta["error"].startswith("KeyboardInterrupt")
    assert meta["load_end_t"] >= meta["load_start_t"]
