"""Re-exports of ``pigeon_lab.config_model`` (the scenario models' shared pieces)."""

from pigeon_lab.config_model import FieldProblem, Frozen, Loc, did_you_mean, format_loc, unknown

__all__ = ["FieldProblem", "Frozen", "Loc", "did_you_mean", "format_loc", "unknown"]
