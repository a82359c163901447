"""The gate policy, re-exported: it lives in ``pigeon_lab.gate_policy`` (shared with the
scenario model, which must not import the report layer)."""

from pigeon_lab.gate_policy import CONDITION_RE, GatePolicy

__all__ = ["CONDITION_RE", "GatePolicy"]
