"""The network-fault catalogue (issue 7) on the bundled cluster, each in a short form with its
expected verdicts and the figures its claim rests on; and no proxy process or connection is
left behind, after a run that passes, one that fails on purpose and one interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest

from pigeon_lab.checkers.slo_metrics import FaultFigures, SloMetrics
from pigeon_lab.cluster.ports import port_is_free
from pigeon_lab.cluster.procfs import processes_under
from pigeon_lab.report.model import Report
from pigeon_lab.run import run_scenario
from pigeon_lab.scenario import load_scenario
from tests.conftest import require_cluster_binaries

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
ALL = {"durability", "order", "gaps", "delivery", "idempotence", "isolation", "slo"}


@dataclass(frozen=True)
class Case:
    """A catalogue scenario's short form, what must hold, and a look at its figures."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Report, SloMetrics, Path], None] = lambda r, m, d: None


def fault(m: SloMetrics, i: int = 0) -> FaultFigures:
    return m.faults[i]


def _node_redis(r: Report, m: SloMetrics, run_dir: Path) -> None:
    f = fault(m)
    assert f.affected_clients >= 1 and f.recovered_clients == f.affected_clients, f
    assert f.acked_lost == 0
    history = pd.read_parquet(run_dir / "history.parquet")
    start = history["t"].min() + int(f.start_s * 1e9)
    joins = history[history["kind"] == "join_ok"]
    moved = joins[(joins["t"] > start) & (joins["node"] == "node-1")]["client"]
    before = joins[(joins["t"] <= start) & (joins["node"] == "node-2")]["client"]
    assert set(before) & set(moved), "node-2's clients did not resume on node-1"
    assert "cut off from Redis" in (run_dir / "logs" / "node-2.log").read_text()


def _lb_node(r: Report, m: SloMetrics, run_dir: Path) -> None:
    f = fault(m)
    assert f.reconnects >= 1 and f.reconnect_p99_ms is not None and f.acked_lost == 0
    assert f.recovered_clients == f.affected_clients


def _split_brain(r: Report, m: SloMetrics, run_dir: Path) -> None:
    logs = "".join((run_dir / "logs" / f"sentinel-{i}.log").read_text() for i in (1, 2, 3))
    assert "+switch-master" in logs, "the Sentinels did not fail over: no split brain"
    assert fault(m).acked_lost == 0


def _slow(r: Report, m: SloMetrics, run_dir: Path) -> None:
    fast, slow = m.per_group["clients"], m.per_group["clients-slow"]
    assert slow.users >= 1 and fast.delivery_p99 is not None and slow.delivery_p99 is not None
    assert slow.delivery_p99 > fast.delivery_p99  # the slow link is slow, its neighbours not
    assert m.node_rss_max_mb is not None and m.node_rss_growth_mb is not None


def _flaky(r: Report, m: SloMetrics, run_dir: Path) -> None:
    assert len(r.faults) >= 3 and not [f for f in r.faults if f.error]
    written = load_scenario(str(run_dir / "scenario.yaml"))
    assert [f.target for f in written.faults] == [f.target for f in r.faults]  # reproducible


def _storm(r: Report, m: SloMetrics, run_dir: Path) -> None:
    f = fault(m)
    assert f.affected_clients >= 10 and f.recovered_clients == f.affected_clients
    assert 1 <= f.max_connect_attempts_per_s <= 40  # 2 per client a second at most
    assert sum(b.reconnects for b in m.timeline) >= f.affected_clients


CASES = (
    Case("partition-node-redis", {"workload.duration_s": 12}, _node_redis),
    Case("partition-lb-node", {"workload.duration_s": 12}, _lb_node),
    Case("split-brain", {"workload.duration_s": 14}, _split_brain),
    Case("slow-consumers", {"workload.duration_s": 12, "faults.0.duration_s": 9}, _slow),
    Case("flaky-network", {"workload.duration_s": 12}, _flaky),
    Case("reset-storm", {"faults.0.duration_s": 4}, _storm),
)


def _no_trace(run_dir: Path) -> None:
    """Nothing of the run is alive: no process under its folder, no proxy port held."""
    assert not processes_under(run_dir), "the run left processes behind"
    run = json.loads((run_dir / "run.json").read_text())
    cluster = run.get("cluster") or {}
    urls = [u for group in (cluster.get("client_urls") or {}).values() for u in group]
    urls.append(cluster.get("fault_proxy_url") or "")
    for url in filter(None, urls):
        port = urlsplit(url).port
        assert port is not None and port_is_free(port), f"{url} is still held"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_catalogue_scenario_keeps_its_claim(case: Case, tmp_path: Path) -> None:
    require_cluster_binaries()
    overrides = dict(case.overrides)
    if "faults.0.duration_s" in overrides:  # a shorter window in the short form
        base = load_scenario(case.name)
        (first, *rest) = [f.model_dump(exclude_none=True) for f in base.faults]
        first["duration_s"] = overrides.pop("faults.0.duration_s")
        overrides["faults"] = [first, *rest]
    started = time.monotonic()
    result = run_scenario(case.name, out=tmp_path, overrides=overrides)
    elapsed = time.monotonic() - started
    outcomes = {v.name: v.outcome.value for v in result.report.verdicts}
    assert outcomes == dict.fromkeys(ALL, "pass"), [
        (v.name, v.summary) for v in result.report.verdicts if v.outcome.value != "pass"
    ]
    assert result.exit_code == 0, [c.message for c in result.report.gate.checks if not c.passed]
    assert result.report.faults and not [f for f in result.report.faults if f.error]
    metrics = SloMetrics.from_verdict(result.report.verdict("slo"))
    case.check(result.report, metrics, result.run_dir)
    _no_trace(result.run_dir)
    assert elapsed < 60, f"{case.name} took {elapsed:.0f} s"


def test_a_run_that_fails_on_purpose_leaves_no_proxy_behind(tmp_path: Path) -> None:
    require_cluster_binaries()
    overrides = {"workload.duration_s": 12, "checks.gate.thresholds": {"availability": "> 1.5"}}
    result = run_scenario("partition-lb-node", out=tmp_path, overrides=overrides)
    assert result.exit_code == 1
    _no_trace(result.run_dir)


def test_an_interrupted_run_leaves_no_proxy_behind(tmp_path: Path) -> None:
    require_cluster_binaries()
    exe = Path(sys.executable).with_name("pigeon-lab")
    proc = subprocess.Popen(
        [str(exe), "scenario", "run", "partition-lb-node", "--out", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # interrupt while the partition is on
        seen.append(line)
        if "fault injected" in line:
            break
    else:
        pytest.fail("the fault never started:\n" + "".join(seen))
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=90)
    assert proc.returncode != 0, rest
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    _no_trace(run_dir)
