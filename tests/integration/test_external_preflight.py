"""An external target that is misconfigured stops the run before any load, with one line
naming the problem and exit code 2 (chat-lite is the target: a real Socket.IO app)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apps.harness import App, chat_lite

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LITE = yaml.safe_load((ROOT / "profiles" / "chat-lite.yaml").read_text())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with chat_lite(tmp_path_factory.mktemp("chat-lite")) as running:
        yield running


def run(
    app: App, tmp_path: Path, profile: dict[str, Any], **token: str
) -> subprocess.CompletedProcess[str]:
    scenario = {
        "description": "chat-lite, misconfigured on purpose",
        "target": {"kind": "external", "url": app.url, "profile": profile,
                   "token": token or {"secret": app.secret}},
        "workload": {"users": 2, "workspaces": 1, "duration_s": 3, "ramp_s": 1,
                     "ack_timeout_ms": 1500},
    }  # fmt: skip
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(scenario))
    exe = Path(sys.executable).with_name("pigeon-lab")
    return subprocess.run(
        [str(exe), "scenario", "run", str(path), "--out", str(tmp_path / "runs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
    )


def refused(result: subprocess.CompletedProcess[str], tmp_path: Path, text: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert text in " ".join(result.stderr.split()), result.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["complete"] is False and not (run_dir / "history.parquet").exists()


def test_the_right_profile_passes_the_preflight(app: App, tmp_path: Path) -> None:
    import jwt

    from pigeon_lab.preflight import check_operations, check_target
    from pigeon_lab.protocol.profile import Profile
    from pigeon_lab.protocol.profile_codec import ProfileCodec
    from pigeon_lab.tokens import mint_token

    profile = Profile.model_validate(LITE)
    token = jwt.encode({"uid": "u0", "tenant": "ws0", "exp": 2_000_000_000}, app.secret, "HS256")
    codec = ProfileCodec(profile)
    check_target(app.url, codec=codec, token=token)
    check_operations(app.url, codec, token, profile.capabilities)
    assert mint_token  # the pigeon claims would be refused by chat-lite: see the next tests


def test_a_wrong_path(app: App, tmp_path: Path) -> None:
    result = run(app, tmp_path, {**LITE, "path": "socket.io"})
    refused(result, tmp_path, "no Socket.IO endpoint at /socket.io/")


def test_a_wrong_namespace(app: App, tmp_path: Path) -> None:
    result = run(app, tmp_path, {**LITE, "namespace": "/nope"})
    refused(result, tmp_path, "refused a connection to the namespace '/nope'")


def test_every_token_refused(app: App, tmp_path: Path) -> None:
    result = run(app, tmp_path, LITE, secret="not-the-apps-secret-" + "z" * 12)
    refused(result, tmp_path, "refused a token from its issuer (unauthorized")


def test_an_event_never_acknowledged(app: App, tmp_path: Path) -> None:
    result = run(app, tmp_path, {**LITE, "events": {**LITE["events"], "join": "enter-typo"}})
    refused(result, tmp_path, "never acknowledged 'join' (its event 'enter-typo')")


def test_an_ack_path_that_matches_nothing(app: App, tmp_path: Path) -> None:
    acks = {**LITE["acks"], "send": {**LITE["acks"]["send"], "id": "data.msg_id"}}
    result = run(app, tmp_path, {**LITE, "acks": acks})
    refused(result, tmp_path, "the 'send' ack has no 'id' at 'data.msg_id'")
