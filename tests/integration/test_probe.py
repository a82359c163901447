"""`pigeon-lab probe` against real deployments: the bundled cluster (clean), the bundled
cluster with its deliberate flaws, HAProxy without stickiness, the Node.js peer (which
resumes through join with after_seq: no at-most-once finding) and chat-lite (which does
not resume: the at-most-once finding, because it is true); an unreachable URL."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pigeon_lab.advisor.findings import ProbeLimits, ProbeResult, Severity
from pigeon_lab.advisor.probe import CHECKS, ProbeTarget, run_probe
from pigeon_lab.advisor.probe.target import TokenOptions, build_target
from pigeon_lab.cluster import Cluster, ClusterSpec
from pigeon_lab.cluster.ports import free_port
from pigeon_lab.issuers import SecretIssuer
from pigeon_lab.protocol.codec import PIGEON
from pigeon_lab.protocol.profile import Profile
from tests.apps.csr import csr_app
from tests.apps.harness import chat_lite
from tests.conftest import require_cluster_binaries
from tests.integration.backend_harness import SECRET
from tests.node_peer import node_peer

pytestmark = pytest.mark.integration
EXE = Path(sys.executable).with_name("pigeon-lab")
FLAWS = ("ack-before-persist", "local-seq", "unprefixed-rooms", "no-dedupe", "sender-from-payload")
FLAW_FINDINGS = {
    "delivery.acked-readable": "ack-before-persist",
    "delivery.seq-unique": "local-seq",
    "isolation.rooms": "unprefixed-rooms",
    "acks.retry-dedupe": "no-dedupe",
    "isolation.sender": "sender-from-payload",
}
"""The finding each deliberate flaw must produce."""


def bundled(url: str, secret: str = SECRET) -> ProbeTarget:
    return ProbeTarget((url,), PIGEON, Profile(), SecretIssuer(secret), secret)


def above_info(result: ProbeResult) -> dict[str, str]:
    return {r.check: r.summary for r in result.findings(Severity.LOW)}


def known_gaps(cluster: Cluster) -> set[str]:
    """Findings the bundled cluster of this tree is known to deserve: cookie-only
    stickiness (until HAProxy routes by the sid) and sockets outliving their token
    (until the backend enforces expiry on live sockets). When the tree has the feature
    the finding must be gone; when it lacks it the probe must see the gap."""
    gaps = set()
    cfg = (Path(cluster.info.run_dir) / "haproxy" / "haproxy.cfg").read_text()
    if "url_param(sid)" not in cfg:
        gaps.add("stickiness.cookieless")
    if importlib.util.find_spec("reference_backend.sessions") is None:
        gaps.add("auth.expiry-live")
    return gaps


def test_the_bundled_cluster_is_clean(cluster: Cluster) -> None:
    result = run_probe(bundled(cluster.info.lb_url))
    assert [r.check for r in result.results] == list(CHECKS)
    assert [r.check for r in result.results if r.status == "unknown"] == []
    assert set(above_info(result)) == known_gaps(cluster), above_info(result)
    assert result.elapsed_s < 60
    assert result.connections <= 60 and result.requests <= 400
    checks = result.by_check()
    assert "application resume" in checks["delivery.resume"].summary
    assert "rate_limited" in checks["acks.rate-limit"].summary
    assert checks["delivery.fanout"].status == "pass"
    assert len(result.observed.get("fanout_nodes", [])) == 2  # two members on two nodes
    for r in result.results:
        assert r.evidence, f"{r.check} cites no evidence"
        assert r.rule and r.fix


def test_the_cli_prints_a_table_json_and_an_html_page(cluster: Cluster, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    html = tmp_path / "probe.html"
    base = [str(EXE), "probe", cluster.info.lb_url, "--secret", SECRET, "--family", "handshake",
            "--family", "isolation"]  # fmt: skip
    done = subprocess.run([*base, "--json", "--html", str(html)], capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip
    data = json.loads(done.stdout)
    result = ProbeResult.from_dict(data)
    assert {r.family for r in result.results} == {"handshake", "isolation"}
    assert done.returncode == result.exit_code(Severity.LOW) == 0, done.stderr
    page = html.read_text()
    assert "isolation.rooms" in page and "Limits the probe kept" in page
    assert "--pass:" in page  # the run report's stylesheet
    shown = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "handshake.heartbeat" in shown.stdout and "isolation.sender" in shown.stdout
    assert "5 checks:" in shown.stdout
    assert "handshake.heartbeat" in shown.stdout  # FAST_PINGS: a tight timeout is info


@pytest.fixture(scope="module")
def flawed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_cluster_binaries()
    spec = ClusterSpec(run_dir=tmp_path_factory.mktemp("flawed"), nodes=2, replicas=0,
                       sentinels=0, jwt_secret=SECRET, flaws=FLAWS)  # fmt: skip
    with Cluster.start(spec) as running:
        yield running


def test_every_deliberate_flaw_is_a_finding(flawed: Cluster) -> None:
    result = run_probe(bundled(flawed.info.lb_url))
    checks = result.by_check()
    for check, flaw in FLAW_FINDINGS.items():
        r = checks[check]
        assert r.status == "finding", f"{flaw}: {check} {r.status}: {r.summary}"
        assert r.severity is not None and r.severity.at_least(Severity.HIGH), (check, r.severity)
    assert checks["stickiness.polling"].status == "pass"  # the flaws leave HAProxy alone
    assert "stored again" in checks["acks.retry-dedupe"].summary
    assert "spoofed" in checks["isolation.sender"].summary
    assert result.exit_code(Severity.HIGH) == 1


def test_haproxy_without_stickiness_is_a_finding(tmp_path: Path) -> None:
    require_cluster_binaries()
    spec = ClusterSpec(run_dir=tmp_path, nodes=2, replicas=0, sentinels=0, jwt_secret=SECRET,
                       lb_sticky=False)  # fmt: skip
    with Cluster.start(spec) as running:
        result = run_probe(bundled(running.info.lb_url), families=["stickiness", "delivery"])
    checks = result.by_check()
    sticky = checks["stickiness.polling"]
    assert sticky.status == "finding" and sticky.severity is Severity.HIGH
    assert "Session ID unknown" in sticky.summary
    assert any("400" in e.answer for e in sticky.evidence)
    for check in FLAW_FINDINGS:  # no flaw: only the load balancer is wrong (round robin may
        if check in checks:  # put both fan-out members on one node: unknown, never a finding)
            assert checks[check].status in ("pass", "unknown"), checks[check].summary
            assert checks[check].status == "pass" or "one node" in checks[check].summary


@pytest.fixture(scope="module")
def peer_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProbeTarget]:
    with node_peer(tmp_path_factory.mktemp("node-peer"), nodes=2) as peer:
        yield build_target(peer.urls, "node-socketio", TokenOptions(secret=peer.secret))


def test_the_node_peer_resumes_so_no_at_most_once_finding(peer_target: ProbeTarget) -> None:
    result = run_probe(peer_target, ProbeLimits(burst=300))
    checks = result.by_check()
    resume = checks["delivery.resume"]
    assert resume.status == "pass", resume.summary
    assert "join with after_seq" in resume.summary
    assert checks["delivery.fanout"].status == "pass"  # two entry points, one Redis adapter
    assert checks["delivery.seq-unique"].status == "pass"
    assert checks["isolation.rooms"].status == "pass"
    assert checks["auth.alg-none"].status == "pass"
    limit = checks["acks.rate-limit"]  # the peer has none: true, so reported
    assert limit.status == "finding" and "no rate limit" in limit.summary


def test_chat_lite_delivers_at_most_once_and_the_probe_says_so(tmp_path: Path) -> None:
    with chat_lite(tmp_path) as app:
        target = build_target([app.url], "chat-lite", TokenOptions(secret=app.secret))
        result = run_probe(target, families=["delivery", "isolation"])
    checks = result.by_check()
    resume = checks["delivery.resume"]
    assert resume.status == "finding" and resume.severity is Severity.HIGH
    assert "at most once" in resume.summary
    assert any("no pid" in e.answer for e in resume.evidence)  # no connection state recovery
    assert checks["delivery.seq-unique"].status == "unknown"  # no seqs: cannot tell
    assert checks["isolation.rooms"].status == "pass"


def test_an_unreachable_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [str(EXE), "probe", url, "--secret", "x" * 32],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and f"the target at {url} is not reachable" in lines[-1]
    assert len(lines) == 2  # "probing ..." and the error


def test_connection_state_recovery_counts_as_resume(tmp_path: Path) -> None:
    """A server without history but with Socket.IO connection state recovery replays what
    a dropped transport missed: the probe credits it (no at-most-once finding)."""
    profile = {"name": "csr-app", "capabilities": {"seqs": False, "history": False}}
    path = tmp_path / "csr-app.yaml"
    path.write_text(json.dumps(profile))
    with csr_app(tmp_path) as app:
        target = build_target([app.url], str(path), TokenOptions(secret=app.secret))
        result = run_probe(target, families=["delivery"])
    resume = result.by_check()["delivery.resume"]
    assert resume.status == "pass", (resume.summary, resume.evidence)
    assert "connection state recovery" in resume.summary
    assert any("2 of 2 missed" in e.answer for e in resume.evidence)
