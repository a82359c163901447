"""What a bench/backend.py run ran on, and the checks before it starts.

`versions()` and `backend_rev()` go into the markdown section, so that a result says which
libraries, tools and backend code it measured; `preflight()` exits early when one is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from _bench_procs import REPO


def versions(peer: Path) -> str:
    def meta(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    def npm(pkg: str) -> str:
        try:
            return str(
                json.loads((peer / "node_modules" / pkg / "package.json").read_text())["version"]
            )
        except OSError:
            return "?"

    def cmd(*argv: str) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
            return out.split("\n")[0].strip()
        except OSError:
            return "?"

    return (
        f"Python {sys.version.split()[0]}: python-socketio {meta('python-socketio')}, "
        f"python-engineio {meta('python-engineio')}, uvicorn {meta('uvicorn')}, redis-py "
        f"{meta('redis')}. Node {cmd('node', '--version')}: socket.io {npm('socket.io')}, "
        f"@socket.io/redis-adapter {npm('@socket.io/redis-adapter')}, socket.io-client "
        f"{npm('socket.io-client')}. {cmd('redis-server', '--version')[:40]}. "
        f"{cmd('haproxy', '-v')[:22]}. nproc {os.cpu_count()}."
    )


def backend_rev() -> str:
    """The repo commit plus a digest of reference_backend/ (it may be uncommitted)."""
    h = hashlib.sha256()
    for f in sorted((REPO / "reference_backend").glob("*.[pl]*")):
        if f.suffix in (".py", ".lua"):
            h.update(f.name.encode() + f.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        head = "?"
    return f"repo HEAD {head or '?'}, reference_backend/*.py,*.lua sha256 {h.hexdigest()[:12]}"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def preflight(a: argparse.Namespace) -> None:
    """Fail early (exit 2) when a tool or the peer or the python backend is missing."""
    missing = [t for t in ("node", "redis-server", "haproxy") if not shutil.which(t)]
    if missing:
        sys.exit(f"missing tools: {', '.join(missing)}")
    if "node" in a.backends and not (a.peer_dir / "node_modules" / "socket.io").exists():
        sys.exit(
            f"the Node peer is not installed in {a.peer_dir}: cp -r "
            f"/work/shared/peers/node-socketio {a.peer_dir} && cd {a.peer_dir} && npm ci"
        )
    if not (a.peer_dir / "driver.js").exists():
        sys.exit(f"no driver.js in {a.peer_dir} (--peer-dir)")
    if "python" in a.backends:
        r = subprocess.run(
            [sys.executable, "-m", "reference_backend", "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if r.returncode != 0:
            sys.exit(f"python -m reference_backend --help failed:\n{r.stderr[-1500:]}")
