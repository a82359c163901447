"""Scenarios: the typed model, loading and validation, and the catalogue."""

from pigeon_lab.scenario.checks import DEFAULT_INVARIANTS, INVARIANTS, SLO_METRICS, Checks
from pigeon_lab.scenario.loading import (
    CATALOGUE_DIR,
    CatalogueEntry,
    catalogue,
    dump_scenario,
    load_scenario,
    parse_overrides,
    resolve_path,
    scenario_data,
    scenario_from_dict,
    scenario_from_text,
    scenario_json,
)
from pigeon_lab.scenario.model import (
    FLAWS,
    Backend,
    FaultSpec,
    Redis,
    Scenario,
    Topology,
    Workload,
)
from pigeon_lab.scenario.target import Target, TokenSource

__all__ = [
    "CATALOGUE_DIR",
    "DEFAULT_INVARIANTS",
    "FLAWS",
    "INVARIANTS",
    "SLO_METRICS",
    "Backend",
    "CatalogueEntry",
    "Checks",
    "FaultSpec",
    "Redis",
    "Scenario",
    "Target",
    "TokenSource",
    "Topology",
    "Workload",
    "catalogue",
    "dump_scenario",
    "load_scenario",
    "parse_overrides",
    "resolve_path",
    "scenario_data",
    "scenario_from_dict",
    "scenario_from_text",
    "scenario_json",
]
