"""Parent-side API of the load generator: spawn the load process, follow its progress.

Imports neither Locust nor gevent: the load runs in its own process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pigeon_lab.errors import LoadError
from pigeon_lab.load.config import LoadConfig, LoadSummary

ProgressCallback = Callable[[dict[str, Any]], None]


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load_command(config_path: Path) -> list[str]:
    """The argv of the load process for a config file."""
    return [sys.executable, "-m", "pigeon_lab.load", "--config", str(config_path)]


def run_load(config: LoadConfig, on_progress: ProgressCallback | None = None) -> LoadSummary:
    """Run the load described by ``config``; call ``on_progress`` with each progress line.

    Writes ``config.out_dir/load.json`` (the config as run) and ``history.parquet``.
    Raises LoadError with the tail of the load process's stderr if it fails.
    On KeyboardInterrupt the whole process group is killed and the interrupt re-raised.
    """
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "load.json"
    cfg_path.write_text(config.model_dump_json(indent=2))
    summary: dict[str, Any] | None = None
    with tempfile.TemporaryFile(mode="w+", prefix="pigeon-load-", suffix=".log") as stderr:
        proc = subprocess.Popen(
            load_command(cfg_path),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
            env={**os.environ, **config.environ()},
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue  # not ours (a library printing to stdout)
                if not isinstance(obj, dict):
                    continue
                if obj.get("done"):
                    summary = obj
                elif on_progress is not None:
                    on_progress(obj)
            rc = proc.wait()
        except BaseException:
            _kill_group(proc)
            raise
        if rc != 0 or summary is None:
            stderr.seek(0)
            tail = "".join(stderr.readlines()[-30:])
            raise LoadError(
                f"load process exited with {rc} "
                f"{'without a summary ' if summary is None else ''}"
                f"(stderr tail):\n{tail}"
            )
    return LoadSummary.model_validate(summary)
