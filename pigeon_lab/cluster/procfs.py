"""Reading /proc: the state of a pid, and which processes belong to a run folder.

A process belongs to a run folder when its working directory or its command
line lies under it. Every supervised process runs with its cwd inside the run
folder (Redis and Sentinel chdir to their `dir`, also inside it), which stays
true even when a process rewrites its title, so this works from any process:
`cluster status`/`cluster down` in another shell, or a test looking for orphans.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


def pid_state(pid: int | None) -> str:
    """'alive', 'paused' (stopped by a signal) or 'dead' (gone or a zombie)."""
    if not pid:
        return "dead"
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return "dead"
    # The state letter follows the command name, which is in parentheses and may hold spaces.
    letter = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
    if letter in ("Z", "X", "x", ""):
        return "dead"
    if letter in ("T", "t"):
        return "paused"
    return "alive"


@dataclass(frozen=True)
class ProcEntry:
    """One process found under a run folder."""

    pid: int
    cmdline: str
    cwd: str


def cmdline(pid: int) -> str | None:
    """The command line of `pid`, arguments joined by spaces; None when it cannot be read."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _read_entry(pid: int) -> ProcEntry | None:
    line = cmdline(pid)
    try:
        cwd = os.readlink(PROC / str(pid) / "cwd")
    except OSError:
        return None
    return None if line is None else ProcEntry(pid, line, cwd)


def _live_entry_under(pid: int, root: str) -> ProcEntry | None:
    """`pid`'s entry when it is alive (not a zombie) and its cwd or command line is under `root`."""
    entry = _read_entry(pid)
    if entry is None or pid_state(pid) == "dead":
        return None
    if entry.cwd == root or entry.cwd.startswith(root + "/") or root in entry.cmdline:
        return entry
    return None


def processes_under(run_dir: Path, *, exclude: set[int] | None = None) -> list[ProcEntry]:
    """Live (non-zombie) processes whose cwd or command line is under `run_dir`."""
    root = str(Path(run_dir).resolve())
    skip = {os.getpid()} | (exclude or set())
    found: list[ProcEntry] = []
    for proc in PROC.iterdir():
        if not proc.name.isdigit() or int(proc.name) in skip:
            continue
        entry = _live_entry_under(int(proc.name), root)
        if entry is not None:
            found.append(entry)
    return found


def pid_belongs_to(pid: int, run_dir: Path) -> bool:
    """True when `pid` is alive and belongs to `run_dir` (guards against pid reuse)."""
    if pid == os.getpid():
        return False
    return _live_entry_under(pid, str(Path(run_dir).resolve())) is not None
