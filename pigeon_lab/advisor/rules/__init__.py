"""The design rules (``base.py``: the registry); one module per topic registers its rules."""

from pigeon_lab.advisor.rules import delivery, durability, edge  # noqa: F401  (registration)
from pigeon_lab.advisor.rules.base import RULES, Judgement, Proof, Rule

__all__ = ["RULES", "Judgement", "Proof", "Rule"]
