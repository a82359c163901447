"""Invariant checkers, one module each, registered by name (see base.py).

Importing this package imports every checker module, in report order: each
registers itself on import, so ``REGISTRY``'s order is the report order and
``checker_names()`` the names a scenario's ``checks.invariants`` accepts. A new
checker is one new module, imported below where it belongs in the report.
Nothing here imports the scenario or report layers (they import this).
"""

from pigeon_lab.checkers.base import (
    METRICS,
    REGISTRY,
    WORKLOAD_OF,
    CheckContext,
    Counterexample,
    Description,
    FaultWindow,
    Outcome,
    Verdict,
    checker_names,
    declare_description,
    declare_metrics,
    describe,
    register,
    run_checker,
)

# isort: off
# Report order (the registry keeps the order of registration).
from pigeon_lab.checkers import durability  # noqa: F401
from pigeon_lab.checkers import order  # noqa: F401
from pigeon_lab.checkers import gaps  # noqa: F401
from pigeon_lab.checkers import delivery  # noqa: F401
from pigeon_lab.checkers import idempotence  # noqa: F401
from pigeon_lab.checkers import isolation  # noqa: F401
from pigeon_lab.checkers import slo  # noqa: F401
from pigeon_lab.checkers import invariant_metrics  # noqa: F401  (declares their figures)

# Voice rooms (workload "voice"), after chat's: the report lists them in this order.
from pigeon_lab.checkers import voice_roster  # noqa: F401
from pigeon_lab.checkers import voice_ghosts  # noqa: F401
from pigeon_lab.checkers import voice_order  # noqa: F401
from pigeon_lab.checkers import voice_signals  # noqa: F401
from pigeon_lab.checkers import voice_negotiation  # noqa: F401
from pigeon_lab.checkers import voice_floor  # noqa: F401
from pigeon_lab.checkers import voice_fifo  # noqa: F401
from pigeon_lab.checkers import voice_liveness  # noqa: F401
from pigeon_lab.checkers import voice_isolation  # noqa: F401
from pigeon_lab.checkers import voice_slo  # noqa: F401
# isort: on

__all__ = [
    "METRICS",
    "REGISTRY",
    "WORKLOAD_OF",
    "CheckContext",
    "Counterexample",
    "Description",
    "FaultWindow",
    "Outcome",
    "Verdict",
    "checker_names",
    "declare_description",
    "declare_metrics",
    "describe",
    "register",
    "run_checker",
]
