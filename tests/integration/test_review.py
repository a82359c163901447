"""`pigeon-lab review`: a design file alone (the reference passes every rule), a design
with a saved probe of a live deployment, and `--prove` on a lossy design (durability
fast): the bundled cluster configured like it loses acknowledged writes in a failover,
and the review attaches that failing run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pigeon_lab.cluster import Cluster
from tests.integration.backend_harness import SECRET

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("pigeon-lab")
REFERENCE = yaml.safe_load((ROOT / "designs" / "reference.yaml").read_text())


def pigeon_lab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "200"})  # fmt: skip


def design_file(tmp_path: Path, **sections: dict[str, Any]) -> Path:
    data = {**REFERENCE, "name": "lossy"}
    for name, fields in sections.items():
        data[name] = {**data.get(name, {}), **fields}
    path = tmp_path / "lossy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_reference_design_passes_every_rule(tmp_path: Path) -> None:
    done = pigeon_lab("review", "reference", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "review.json").read_text())
    assert data["counts"] == {"pass": len(data["rules"]), "fail": 0, "unknown": 0}
    assert len(data["rules"]) >= 20
    page = (tmp_path / "review.html").read_text()
    assert 'id="review-verdict">PASS' in page and "replicated-acks" in page
    assert "rules: " in done.stdout and "passed" in done.stdout


def test_one_mistake_fails_its_rule_and_exit_1(tmp_path: Path) -> None:
    path = design_file(tmp_path, redis={"durability": "fast"})
    done = pigeon_lab("review", str(path), "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    failed = [r["id"] for r in data["rules"] if r["outcome"] == "fail"]
    assert failed == ["replicated-acks"]
    assert pigeon_lab("review", str(path), "--out", str(tmp_path / "o2"),
                      "--fail-on", "critical").returncode == 0  # a high rule  # fmt: skip


def test_a_design_with_a_live_probe_then_with_the_saved_one(
    cluster: Cluster, tmp_path: Path
) -> None:
    live = pigeon_lab("review", "reference", "--url", cluster.info.lb_url, "--secret", SECRET,
                      "--out", str(tmp_path / "live"), "--json")  # fmt: skip
    data = json.loads(live.stdout)
    assert data["probe"]["url"] == cluster.info.lb_url
    assert (tmp_path / "live" / "probe.html").is_file()
    rooms = next(r for r in data["rules"] if r["id"] == "tenant-scoped-rooms")
    sources = {e["source"]: e["outcome"] for e in rooms["evidence"]}
    assert sources == {"design": "pass", "probe": "pass"}
    failed = {r["id"] for r in data["rules"] if r["outcome"] == "fail"}
    assert live.returncode == (1 if failed else 0)
    by_id = {r["id"]: r for r in data["rules"]}
    for rule in failed:  # only where the live cluster contradicts the design (this tree's gaps)
        evidence = by_id[rule]["evidence"]
        assert any(e["source"] == "probe" and e["outcome"] == "fail" for e in evidence)
    saved = pigeon_lab("review", "reference", "--probe-json", str(tmp_path / "live" / "probe.json"),
                       "--out", str(tmp_path / "saved"), "--json")  # fmt: skip
    again = json.loads(saved.stdout)
    assert [(r["id"], r["outcome"]) for r in again["rules"]] == [
        (r["id"], r["outcome"]) for r in data["rules"]
    ]


def test_the_catalogue_lists_every_rule() -> None:
    done = pigeon_lab("review", "--list")
    assert done.returncode == 0, done.stderr
    from pigeon_lab.advisor.rules import RULES

    for rule_id in RULES:
        assert rule_id in done.stdout


def test_prove_attaches_a_failing_failover_run_to_a_lossy_design(tmp_path: Path) -> None:
    path = design_file(tmp_path, redis={"durability": "fast"})
    done = pigeon_lab("review", str(path), "--prove", "--rule", "replicated-acks",
                      "--proof", "redis-failover", "--out", str(tmp_path / "out"), "--json",
                      timeout=240)  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    data = json.loads(done.stdout)
    (rule,) = data["rules"]
    assert rule["id"] == "replicated-acks" and rule["outcome"] == "fail"
    (proof,) = data["proofs"]
    assert proof["key"] == "scenario:redis-failover"
    assert proof["outcome"] == "fail", proof
    assert "durability fast" in proof["configured"]
    run_dir = Path(proof["run_dir"])
    report = json.loads((run_dir / "report.json").read_text())
    assert report["run"]["topology"]["durability"] == "fast"
    verdicts = {v["name"]: v["outcome"] for v in report["verdicts"]}
    assert "fail" in (verdicts["durability"], verdicts["order"]), verdicts
    assert any(e["source"] == "proof" and e["outcome"] == "fail" for e in rule["evidence"])
    page = (tmp_path / "out" / "review.html").read_text()
    assert "Proofs on the bundled cluster" in page and str(run_dir) in page


def test_prove_with_a_probe_on_the_bundled_cluster_without_stickiness(tmp_path: Path) -> None:
    path = design_file(tmp_path, load_balancer={"stickiness": []})
    done = pigeon_lab("review", str(path), "--prove", "--rule", "sticky-polling", "--proof",
                      "probe:stickiness.polling", "--out", str(tmp_path / "out"), "--json",
                      timeout=180)  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    data = json.loads(done.stdout)
    (proof,) = data["proofs"]
    assert proof["outcome"] == "fail" and "Session ID unknown" in proof["summary"]
    assert "no stickiness" in proof["configured"]
    assert (Path(proof["run_dir"]) / "probe.html").is_file()
