"""The figures some invariant checkers report beside their verdict, as types.

They are reported, not judged (a gate threshold may judge them:
``gaps.live_gaps_repaired``). Each type is declared for its checker here, on import;
the checker builds the same keys (tests/unit/test_checker_metrics.py holds the two
together). A checker module may instead declare its own with
``register(NAME, metrics=T)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pigeon_lab.checkers.base import declare_metrics
from pigeon_lab.checkers.metrics import Metrics


@dataclass(frozen=True)
class DurabilityMetrics(Metrics):
    """Acknowledged messages no client ever read (recv, sync_ok or deliver): Jepsen's
    "never read"."""

    acked_never_read: int = 0


@dataclass(frozen=True)
class GapsMetrics(Metrics):
    """Live-push gaps the clients repaired by resync (not a failure)."""

    live_gaps_repaired: int = 0


@dataclass(frozen=True)
class DeliveryMetrics(Metrics):
    """Live pushes of an already delivered seq (dropped by the client), live-push gaps, and
    the skips ahead a client recorded as retention truncations (and those the final log
    refutes: a skipped seq it still holds)."""

    wire_duplicates: int = 0
    live_gaps: int = 0
    recorded_truncations: int = 0
    refuted_truncations: int = 0


declare_metrics("durability", DurabilityMetrics)
declare_metrics("gaps", GapsMetrics)
declare_metrics("delivery", DeliveryMetrics)
