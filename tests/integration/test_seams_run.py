"""A toy fault kind and a toy workload, registered by a test module alone, run in a real
scenario on the bundled cluster: the seams need no edit elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pigeon_lab.cluster.procfs import processes_under
from pigeon_lab.events import Event, FaultHealed, FaultInjected, Phase, PhaseStarted
from pigeon_lab.history.io import read_history
from pigeon_lab.run import run_scenario
from tests.conftest import require_cluster_binaries


@pytest.mark.integration
@pytest.mark.slow
def test_a_plugin_fault_and_workload_run_in_a_scenario(tmp_path: Path) -> None:
    require_cluster_binaries()
    seen: list[Event] = []
    result = run_scenario(
        "smoke",
        out=tmp_path,
        overrides={
            "plugins": ["tests.toy_plugin"],
            "workload.duration_s": 5,
            "workload.toy": {"users": 2, "greeting": "hi"},
            "faults": [
                {
                    "kind": "toy-pause",
                    "target": "node-2",
                    "at_s": 1,
                    "duration_s": 1,
                    "params": {"note": "zz"},
                },
            ],
        },
        listeners=[seen.append],
    )
    history = read_history(result.run_dir / "history.parquet")
    toy = history[history["kind"].astype(str) == "toy_hello"]
    assert len(toy) == 2 and set(toy["detail"]) == {"hi"}
    faults = json.loads((result.run_dir / "faults.json").read_text())
    assert [(f["kind"], f["params"], f["label"], f["error"]) for f in faults] == [
        ("toy-pause", {"note": "zz"}, "toy-pause node-2 (zz)", None)
    ]
    assert [type(e) for e in seen if isinstance(e, FaultInjected | FaultHealed)] == [
        FaultInjected,
        FaultHealed,
    ]
    phases = [e.phase for e in seen if isinstance(e, PhaseStarted)]
    assert phases[:3] == [Phase.CLUSTER, Phase.PREFLIGHT, Phase.LOAD]
    assert Phase.TEARDOWN in phases and phases[-2:] == [Phase.CHECK, Phase.REPORT]
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert meta["complete"] is True and "error" not in meta
    assert [p["phase"] for p in meta["phases"]][:3] == ["cluster", "preflight", "load"]
    events = (result.run_dir / "events.jsonl").read_text().splitlines()
    assert any(json.loads(line)["event"] == "FaultInjected" for line in events)
    outcomes = {v.name: str(v.outcome) for v in result.report.verdicts}
    assert outcomes == dict.fromkeys(outcomes, "pass"), outcomes
    assert processes_under(result.run_dir) == []


@pytest.mark.integration
def test_no_file_of_a_run_folder_holds_the_token_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The secret reaches the load process through its environment, never a file (load.json,
    scenario.yaml, run.json, logs)."""
    require_cluster_binaries()
    secret = "a-secret-that-must-stay-out-of-files-" + "x" * 8
    monkeypatch.setenv("PIGEON_LAB_TOKEN_SECRET", secret)
    result = run_scenario("smoke", out=tmp_path, overrides={"workload.duration_s": 3})
    assert result.report.counts.acks > 0  # the cluster and the load used the secret
    holders = [
        p.relative_to(result.run_dir)
        for p in result.run_dir.rglob("*")
        if p.is_file() and secret.encode() in p.read_bytes()
    ]
    assert holders == []
    load = json.loads((result.run_dir / "load.json").read_text())
    assert "jwt_secret" not in load and load["issuer"]["secret_env"] == "PIGEON_LAB_TOKEN_SECRET"
