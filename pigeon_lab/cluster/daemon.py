"""The detached supervisor: `python -m pigeon_lab.cluster.daemon --state-file F`, spec on stdin.

It owns the cluster's processes, writes the state file when the cluster is
ready, prints one JSON line on stdout (`{"ok": true, "info": ...}` or
`{"ok": false, "error": ...}`), then points stdout at its log and serves until
SIGTERM/SIGINT, when it tears down and removes the state file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from pigeon_lab.cluster.spec import ClusterSpec
from pigeon_lab.cluster.state import remove_state, write_state
from pigeon_lab.cluster.supervisor import Cluster
from pigeon_lab.errors import PigeonLabError


def serve(
    spec: ClusterSpec,
    state_file: Path,
    on_ready: Callable[[Cluster], None],
    stop: threading.Event | None = None,
) -> None:
    """Run until `stop` is set, SIGTERM or Ctrl-C; the state file lives as long as the cluster."""
    stop = stop or threading.Event()
    with Cluster.start(spec) as cluster:
        write_state(state_file, cluster.info)
        try:
            on_ready(cluster)
            while not stop.wait(1.0):
                pass
        finally:
            remove_state(state_file, owner_pid=os.getpid())


def _report(payload: dict[str, object]) -> None:
    """Print the one status line, then move stdout to stderr (the supervisor log)."""
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pigeon_lab.cluster.daemon")
    parser.add_argument("--state-file", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = ClusterSpec.from_dict(json.loads(sys.stdin.read()))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    ready = False

    def on_ready(cluster: Cluster) -> None:
        nonlocal ready
        ready = True
        _report({"ok": True, "info": cluster.info.to_dict()})

    try:
        serve(spec, args.state_file, on_ready)
    except PigeonLabError as exc:
        if not ready:
            _report({"ok": False, "error": str(exc), "type": type(exc).__name__})
        print(f"pigeon-lab supervisor: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, SystemExit):
        print("pigeon-lab supervisor: stopped, cluster torn down", file=sys.stderr)
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
