"""Resident memory of a cluster's processes, sampled beside the load (``resources.json``).

The slow-consumer claim ("each node's memory stays bounded") needs the nodes' memory over
the run: a thread reads each live process's RSS from ``/proc/<pid>/statm`` every
``interval_s`` and the run writes the samples as ``resources.json``:
``[{"t": ns (history clock), "process": name, "rss_bytes": int}]``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    t: int
    process: str
    rss_bytes: int


def rss_bytes(pid: int) -> int | None:
    """The resident set of ``pid`` in bytes, None when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return None


class ResourceSampler:
    """Samples ``pids()`` ({name: pid or None}) until the block ends, then writes ``path``."""

    def __init__(
        self, pids: Callable[[], Mapping[str, int | None]], path: Path, interval_s: float = 1.0
    ) -> None:
        self.pids = pids
        self.path = path
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.path.write_text(json.dumps([asdict(s) for s in self.samples]))

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic_ns()
            for name, pid in dict(self.pids()).items():
                rss = rss_bytes(pid) if pid else None
                if rss is not None:
                    self.samples.append(Sample(now, name, rss))
            self._stop.wait(self.interval_s)


__all__ = ["ResourceSampler", "Sample", "rss_bytes"]
