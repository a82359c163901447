"""The adversary's oversized body is one byte over the target's own limit, so a backend
with a larger ``max_body`` refuses it (``too_large``) and isolation passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigeon_lab.history.io import read_history
from pigeon_lab.run import run_scenario
from tests.conftest import require_cluster_binaries


@pytest.mark.integration
@pytest.mark.slow
def test_a_larger_max_body_is_no_false_isolation_alarm(tmp_path: Path) -> None:
    require_cluster_binaries()
    result = run_scenario(
        "smoke",
        out=tmp_path,
        overrides={
            "workload.duration_s": 4,
            "workload.adversarial_users": 1,
            "topology.backend.max_body": 8192,
        },
    )
    h = read_history(result.run_dir / "history.parquet")
    adv = h[h["kind"].astype(str) == "adversarial"].set_index("detail")["error"].to_dict()
    assert adv["oversized_body"] == "too_large"
    isolation = result.report.verdict("isolation")
    assert isolation is not None and str(isolation.outcome) == "pass", isolation
