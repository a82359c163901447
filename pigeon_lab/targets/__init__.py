"""The system under test: the bundled cluster or an external deployment (see base.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pigeon_lab.events import RunEvents
from pigeon_lab.scenario.model import Scenario
from pigeon_lab.targets.base import Target, TargetKind
from pigeon_lab.targets.bundled import bundled_target, cluster_spec
from pigeon_lab.targets.external import external_target, issuer_of


@contextmanager
def open_target(scenario: Scenario, run_dir: Path, events: RunEvents) -> Iterator[Target]:
    """The scenario's target for the length of the block (a bundled cluster is torn down
    on leaving it, whatever happens)."""
    if scenario.target.kind == "bundled":
        with bundled_target(scenario, run_dir, events) as target:
            yield target
    else:
        with external_target(scenario, events) as target:
            yield target


__all__ = [
    "Target",
    "TargetKind",
    "bundled_target",
    "cluster_spec",
    "external_target",
    "issuer_of",
    "open_target",
]
