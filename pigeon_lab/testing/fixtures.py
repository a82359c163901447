"""Small literal histories shared by tests: empty, one wire duplicate, one unknown outcome."""

from __future__ import annotations

import pandas as pd

from pigeon_lab.checkers.base import CheckContext
from pigeon_lab.testing.builder import HistoryBuilder

__all__ = ["empty", "indefinite", "with_duplicates"]


def empty() -> tuple[pd.DataFrame, CheckContext]:
    """No events at all, an empty final log."""
    return HistoryBuilder().build()


def with_duplicates() -> tuple[pd.DataFrame, CheckContext]:
    """Two clients; the live push of seq 1 arrives twice at c2 (a wire duplicate, dropped)."""
    b = HistoryBuilder()
    b.connect("c1", "alice", "acme").connect("c2", "bob", "acme")
    b.join("c1", "general").join("c2", "general")
    b.send("c1", "general", "m1", seq=1)
    for c in ("c1", "c2"):
        b.recv(c, "general", 1).deliver(c, "general", 1)
    b.recv("c2", "general", 1)
    return b.build()


def indefinite() -> tuple[pd.DataFrame, CheckContext]:
    """A send whose outcome is unknown (``send_info``), and which never landed."""
    b = HistoryBuilder()
    b.connect("c1", "alice", "acme").join("c1", "general")
    b.send("c1", "general", "m1", ok=None)
    return b.build()
