"""The state file of a cluster run by another process (`cluster up`, `up --detach`).

Location: `$PIGEON_LAB_STATE_FILE` when set, else `~/.pigeon-lab/cluster.json`
(per user, independent of the working directory, so `cluster status`,
`cluster down` and `token` find it from anywhere). Every command also takes
`--state-file`. The file holds the ClusterInfo (with the JWT secret, hence
mode 0600), including `supervisor_pid`; it is written once the cluster is
ready and removed by the supervisor when it tears down.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from pigeon_lab.cluster.info import ClusterInfo
from pigeon_lab.cluster.procfs import cmdline, pid_belongs_to, pid_state
from pigeon_lab.errors import ClusterError

STATE_ENV = "PIGEON_LAB_STATE_FILE"


def default_state_file() -> Path:
    env = os.environ.get(STATE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".pigeon-lab" / "cluster.json"


def write_state(path: Path, info: ClusterInfo) -> None:
    """Write atomically (rename), readable only by the user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(info.to_json())
    tmp.replace(path)


def read_state(path: Path) -> ClusterInfo:
    """The recorded ClusterInfo; ClusterError when there is none or it is unreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ClusterError(
            f"no running cluster is recorded in {path}; "
            "start one with `pigeon-lab cluster up --detach`"
        ) from None
    except OSError as exc:
        raise ClusterError(f"cannot read cluster state file {path}: {exc}") from exc
    try:
        return ClusterInfo.from_json(text)
    except (ValueError, TypeError, KeyError) as exc:
        raise ClusterError(f"cluster state file {path} is not valid: {exc}") from exc


def remove_state(path: Path, *, owner_pid: int | None = None) -> None:
    """Remove the file (only if it was written by `owner_pid`, when given)."""
    if owner_pid is not None:
        try:
            if read_state(path).supervisor_pid != owner_pid:
                return
        except ClusterError:
            return
    path.unlink(missing_ok=True)


def supervisor_alive(info: ClusterInfo) -> bool:
    """The recorded supervisor still runs (and is a pigeon-lab process, not a reused pid)."""
    pid = info.supervisor_pid
    if not pid or pid_state(pid) == "dead":
        return False
    return "pigeon" in (cmdline(pid) or "")


def stop_recorded(info: ClusterInfo, timeout_s: float = 20.0) -> list[str]:
    """SIGTERM the supervisor and wait; then SIGKILL any recorded child still alive.

    Returns the names of the processes that had to be killed directly (there
    should be none: the supervisor tears down, and its children die with it).
    """
    pid = info.supervisor_pid
    if pid and supervisor_alive(info):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while pid_state(pid) != "dead" and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_state(pid) != "dead":
            os.kill(pid, signal.SIGKILL)
    run_dir = Path(info.run_dir)
    killed = []
    for proc in info.processes:
        if proc.pid and pid_belongs_to(proc.pid, run_dir):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(proc.name)
    return killed


def read_json_line(text: str) -> dict[str, object]:
    """Parse the one-line status the detached supervisor prints when it is up or has failed."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError(f"supervisor status line is not a JSON object: {text[:200]!r}")
    return data
