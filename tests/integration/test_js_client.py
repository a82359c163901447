"""The official JavaScript client (socket.io-client 4.8 in Node) through HAProxy, with its
default options: long-polling only, websocket only, and its default (polling, then the
upgrade). socket.io-client in Node keeps no cookies unless `withCredentials` is set, so
its long-polling requests reach the node of their session only by the `sid` routing.

The client is installed on first use with `npm ci` from tests/integration/jsclient's
lockfile into `.cache/jsclient/<lock digest>/` (ignored by git), under a file lock so that
concurrent test runs share it; the test skips only when node or npm is missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from pigeon_lab.cluster import Cluster
from pigeon_lab.tokens import mint_token

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HERE = Path(__file__).resolve().parent / "jsclient"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "jsclient"
FILES = ("package.json", "package-lock.json", "client.js")


def install_js_client() -> Path:
    """The folder with client.js and its node_modules (npm ci once per lockfile)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the JavaScript client test (apt install npm)")
    digest = hashlib.sha256(b"".join((HERE / f).read_bytes() for f in FILES)).hexdigest()[:16]
    target = CACHE / digest
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "node_modules" / "socket.io-client").is_dir():
            return target
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=CACHE))
        for f in FILES:
            shutil.copy2(HERE / f, staging / f)
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=90,
        )
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise AssertionError(f"npm ci failed ({done.returncode}):\n{done.stderr[-2000:]}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return target


def test_the_official_js_client_works_through_haproxy_with_its_defaults(cluster: Cluster) -> None:
    client_dir = install_js_client()
    info = cluster.info
    cases = []
    for name, transports in (
        ("polling", ["polling"]),
        ("websocket", ["websocket"]),
        ("default", None),  # polling first, then the upgrade
    ):
        cases.append(
            {
                "name": name,
                "token": mint_token(info.jwt_secret, "js", f"js-{name}"),
                "transports": transports,
                "channel": f"js-{name}-{uuid.uuid4().hex[:8]}",
                "sends": 15,
                "interval_ms": 100,  # a POST, and a poll answered, each time
            }
        )
    done = subprocess.run(
        ["node", str(client_dir / "client.js"), json.dumps({"url": info.lb_url, "cases": cases})],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name, expected_transport in (
        ("polling", "polling"),
        ("websocket", "websocket"),
        ("default", "websocket"),
    ):
        r = results[name]
        assert r["connected"] and r["errors"] == [], (name, r)
        assert r["acks"] == list(range(1, 16)), (name, r)
        assert sorted(r["pushes"]) == list(range(1, 16)), (name, r)
        assert r["transport"] == expected_transport, (name, r)
        assert r["sid"].split(".")[0] in info.node_urls, (name, r)  # the node-tagged sid
