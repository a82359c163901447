"""The fault scheduler injects on time, heals windows, and heals everything on stop."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pigeon_lab.faults.schedule import FaultScheduler, PlannedFault, write_faults


class RecordingCluster:
    """Stands in for the supervisor's process control; records the calls in order."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def _call(self, verb: str, name: str) -> None:
        if verb == self.fail_on:
            raise RuntimeError(f"{verb} {name} broke")
        self.calls.append((verb, name))

    def kill(self, name: str) -> None:
        self._call("kill", name)

    def pause(self, name: str) -> None:
        self._call("pause", name)

    def resume(self, name: str) -> None:
        self._call("resume", name)

    def restart(self, name: str) -> None:
        self._call("restart", name)

    def drain(self, name: str) -> None:
        self._call("drain", name)

    def failover(self) -> str:
        self._call("failover", "redis-primary")
        return "redis-replica-1"


def test_window_fault_is_healed_after_its_duration() -> None:
    cluster = RecordingCluster()
    scheduler = FaultScheduler(cluster, [PlannedFault("pause", "node-2", 0.05, 0.1)])
    scheduler.begin()
    time.sleep(0.4)
    records = scheduler.stop()
    assert cluster.calls == [("pause", "node-2"), ("resume", "node-2")]
    assert len(records) == 1 and records[0].end_t is not None
    assert (records[0].end_t - records[0].start_t) / 1e9 >= 0.09


def test_kill_without_duration_stays_down_until_stop() -> None:
    cluster = RecordingCluster()
    scheduler = FaultScheduler(cluster, [PlannedFault("kill", "node-1", 0.0, None)])
    scheduler.begin()
    time.sleep(0.2)
    assert cluster.calls == [("kill", "node-1")]
    records = scheduler.stop()
    assert cluster.calls == [("kill", "node-1"), ("restart", "node-1")]
    assert records[0].end_t is not None


def test_instant_faults_need_no_heal() -> None:
    cluster = RecordingCluster()
    plan = [
        PlannedFault("restart", "node-1", 0.0, None),
        PlannedFault("redis-failover", "redis-primary", 0.0, None),
    ]
    scheduler = FaultScheduler(cluster, plan)
    scheduler.begin()
    time.sleep(0.2)
    scheduler.stop()
    assert sorted(cluster.calls) == [("failover", "redis-primary"), ("restart", "node-1")]


def test_a_fault_not_yet_due_at_stop_is_never_injected() -> None:
    cluster = RecordingCluster()
    scheduler = FaultScheduler(cluster, [PlannedFault("kill", "node-1", 30.0, 1.0)])
    scheduler.begin()
    assert scheduler.stop() == []
    assert cluster.calls == []


def test_a_failed_injection_is_recorded_not_raised(tmp_path: Path) -> None:
    cluster = RecordingCluster(fail_on="kill")
    scheduler = FaultScheduler(cluster, [PlannedFault("kill", "node-1", 0.0, 0.1)])
    scheduler.begin()
    time.sleep(0.2)
    records = scheduler.stop()
    assert records[0].error is not None and "kill node-1 broke" in records[0].error
    write_faults(tmp_path / "faults.json", records)
    saved = json.loads((tmp_path / "faults.json").read_text())
    assert saved[0]["kind"] == "kill" and saved[0]["error"].startswith("inject failed")
