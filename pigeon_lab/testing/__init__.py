"""Test helpers (public API): histories that read like what clients saw.

- ``HistoryBuilder`` (``builder.py``): append events row by row, as a client records them;
  ``build()`` gives (history, CheckContext) with a final log and read-back.
- ``correct_history`` (``sim.py``): a seeded model of a correct run, the real
  ``ClientAlgorithm`` against a simulated correct server (``server.py``) under a fault model
  (``faults.py``).
- ``empty``, ``with_duplicates``, ``indefinite`` (``fixtures.py``): small literal histories.
"""

from __future__ import annotations

from pigeon_lab.testing.builder import HistoryBuilder
from pigeon_lab.testing.faults import FaultModel
from pigeon_lab.testing.fixtures import empty, indefinite, with_duplicates
from pigeon_lab.testing.sim import Simulation, correct_history

__all__ = [
    "FaultModel",
    "HistoryBuilder",
    "Simulation",
    "correct_history",
    "empty",
    "indefinite",
    "with_duplicates",
]
