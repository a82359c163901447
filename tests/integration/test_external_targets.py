"""pigeon-lab pointed at someone else's backend: the Node.js peer (the official socket.io 4
server on its own Redis, three nodes) as an external target with its profile."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pigeon_lab.run import run_scenario
from tests.node_peer import NodePeer, node_peer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodePeer]:
    with node_peer(tmp_path_factory.mktemp("node-peer"), nodes=3) as running:
        yield running


def external(peer: NodePeer, token: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": {
            "kind": "external",
            "url": peer.urls[0],
            "urls": peer.urls[1:],
            "profile": "node-socketio",
            "token": token,
        }
    }


def outcomes(result: Any) -> dict[str, str]:
    return {v.name: str(v.outcome) for v in result.report.verdicts}


def test_smoke_on_the_node_peer_passes_every_invariant(peer: NodePeer, tmp_path: Path) -> None:
    result = run_scenario(
        "smoke",
        out=tmp_path,
        overrides={**external(peer, {"secret": peer.secret}), "workload.duration_s": 6},
    )
    got = outcomes(result)
    assert got == dict.fromkeys(got, "pass"), got
    assert result.exit_code == 0
    assert result.report.counts.deliveries > 0


def test_the_baseline_workload_on_the_node_peer(peer: NodePeer, tmp_path: Path) -> None:
    """The baseline workload in a short form (200 users over 4 workspaces, 10 s)."""
    result = run_scenario(
        "baseline",
        out=tmp_path,
        overrides={
            **external(peer, {"secret": peer.secret}),
            "workload.duration_s": 10,
            "workload.ramp_s": 3,
        },
    )
    got = {n: o for n, o in outcomes(result).items() if n != "slo"}
    assert got == dict.fromkeys(got, "pass"), got


def test_tokens_from_a_command(
    peer: NodePeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEER_SECRET", peer.secret)
    command = f"{sys.executable} {ROOT / 'tests' / 'mint_token.py'} {{workspace}} {{user}}"
    result = run_scenario(
        "smoke",
        out=tmp_path,
        overrides={**external(peer, {"command": command}), "workload.duration_s": 4},
    )
    got = outcomes(result)
    assert got == dict.fromkeys(got, "pass"), got
