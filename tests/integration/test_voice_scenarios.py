"""Every catalogue voice scenario in a short form, on the bundled cluster, with its verdicts.

voice-baseline, voice-failover, voice-pause and voice-mixed run here, shortened; the short
form of voice-node-kill is the selftest case ``correct-voice-node-kill`` (the same scenario
with the floor holder's node killed at 3 s), run by tests/integration/test_selftest.py.
A correct backend must pass every checker the scenario runs, and the run must have done what
the scenario is about (a fault that ran, members that died and were judged, and so on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pigeon_lab.cluster.procfs import processes_under
from pigeon_lab.run import run_scenario
from pigeon_lab.selftest import CASES
from tests.conftest import require_cluster_binaries

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

SHORT: dict[str, dict[str, Any]] = {
    "voice-baseline": {"workload.duration_s": 8, "workload.voice.settle_s": 3},
    "voice-failover": {
        "workload.duration_s": 10,
        "workload.voice.settle_s": 3,
        "faults": [{"kind": "redis-failover", "target": "redis-primary", "at_s": 4}],
    },
    "voice-pause": {
        "workload.duration_s": 12,
        "workload.voice.settle_s": 3,
        "faults": [{"kind": "pause", "target": "node-1", "at_s": 3, "duration_s": 5}],
    },
    "voice-mixed": {"workload.duration_s": 8, "workload.voice.settle_s": 3},
}
"""Each scenario's short form (its faults moved to fit)."""

MUST: dict[str, dict[str, int]] = {
    "voice-baseline": {"voice_signals.acked": 50, "voice_floor.grants": 2},
    "voice-failover": {"voice_floor.grants": 3, "voice_signals.acked": 20},
    "voice-pause": {"voice_ghosts.deaths_judged": 1},
    "voice-mixed": {"durability.acked": 5, "voice_signals.acked": 10},
}


@pytest.mark.parametrize("name", list(SHORT))
def test_catalogue_voice_scenario_short_form(name: str, tmp_path: Path) -> None:
    require_cluster_binaries()
    result = run_scenario(name, out=tmp_path, overrides=SHORT[name])
    verdicts = {v.name: v for v in result.report.verdicts}
    outcomes = {n: str(v.outcome) for n, v in verdicts.items()}
    assert outcomes == dict.fromkeys(outcomes, "pass"), {
        n: verdicts[n].summary for n, o in outcomes.items() if o != "pass"
    }
    assert {n for n in outcomes if n.startswith("voice_")} == {
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
    }
    if name == "voice-mixed":
        assert {"durability", "order", "isolation", "slo"} <= set(outcomes)
    else:
        assert not {"durability", "slo"} & set(outcomes)  # a voice-only run: voice's checkers
    for key, need in MUST[name].items():
        checker, count = key.split(".")
        assert verdicts[checker].counts.get(count, 0) >= need, (key, verdicts[checker].counts)
    assert all(f.error is None for f in result.report.faults)
    assert len(result.report.faults) == len(SHORT[name].get("faults", []))
    assert (result.run_dir / "voice_rooms.parquet").exists()
    assert "chart-voice-latency" in (result.run_dir / "report.html").read_text()
    assert result.exit_code == 0
    assert processes_under(result.run_dir) == []


def test_the_node_kill_short_form_is_a_selftest_case() -> None:
    case = next(c for c in CASES if c.name == "correct-voice-node-kill")
    assert case.base == "voice-node-kill" and not case.expect_fail and case.flaw is None
    assert [f["kind"] for f in case.scenario_overrides()["faults"]] == ["kill-floor-holder"]
