"""Faults: the registry of kinds a scenario may schedule (see registry.py)."""

from pigeon_lab.faults.registry import (
    FAULT_KINDS,
    FaultKind,
    ParamSpec,
    link_targets,
    process_targets,
    register_fault_kind,
)

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "ParamSpec",
    "link_targets",
    "process_targets",
    "register_fault_kind",
]
