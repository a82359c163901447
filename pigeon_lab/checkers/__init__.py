"""Invariant checkers, one module each, registered by name (see base.py)."""

from pigeon_lab.checkers.base import (
    REGISTRY,
    CheckContext,
    Counterexample,
    FaultWindow,
    Outcome,
    Verdict,
    register,
    run_checker,
)

__all__ = [
    "REGISTRY",
    "CheckContext",
    "Counterexample",
    "FaultWindow",
    "Outcome",
    "Verdict",
    "register",
    "run_checker",
]
