"""The import layers and the one source of checker names (issue 6, A).

checkers import neither scenario nor report; the scenario layer imports no report
module; checker names come from the checker registry alone, in report order.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from pigeon_lab.checkers import REGISTRY, CheckContext, Outcome, Verdict, checker_names, register
from pigeon_lab.checkers.suite import CHECKER_ORDER
from pigeon_lab.errors import ConfigError
from pigeon_lab.scenario import INVARIANTS, scenario_from_text

REPORT_ORDER = ("durability", "order", "gaps", "delivery", "idempotence", "isolation", "slo")
"""docs/interfaces.md, "Checkers": registry names in report order (chat's)."""
VOICE_ORDER = (
    "voice_roster",
    "voice_ghosts",
    "voice_roster_order",
    "voice_signals",
    "voice_negotiation",
    "voice_floor",
    "voice_floor_fifo",
    "voice_floor_liveness",
    "voice_isolation",
    "voice_slo",
)
"""... and the voice workload's, after chat's."""


def loaded_after(module: str) -> set[str]:
    """The pigeon_lab modules a fresh interpreter has loaded after importing ``module``."""
    code = (
        f"import sys, {module}\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('pigeon_lab')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("pigeon_lab.checkers.suite", ("pigeon_lab.scenario", "pigeon_lab.report")),
        ("pigeon_lab.gate_policy", ("pigeon_lab.scenario", "pigeon_lab.report")),
        ("pigeon_lab.scenario", ("pigeon_lab.report",)),
    ],
)
def test_no_import_goes_up_a_layer(module: str, forbidden: tuple[str, ...]) -> None:
    bad = sorted(m for m in loaded_after(module) if m.startswith(forbidden))
    assert not bad, f"{module} imports {bad}"


def test_the_registry_is_in_report_order_and_every_list_derives_from_it() -> None:
    assert tuple(REGISTRY) == REPORT_ORDER + VOICE_ORDER
    assert checker_names() == CHECKER_ORDER == INVARIANTS == REPORT_ORDER + VOICE_ORDER
    assert checker_names(["chat"]) == REPORT_ORDER and checker_names(["voice"]) == VOICE_ORDER


def test_a_registered_checker_is_a_name_the_scenario_accepts() -> None:
    text = "checks:\n  invariants: [durability, extra]\n"
    with pytest.raises(ConfigError, match="unknown checker 'extra'"):
        scenario_from_text(text)

    @register("extra")
    def extra(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
        return Verdict("extra", Outcome.PASS, "fine")

    try:
        assert scenario_from_text(text).checks.invariants == ("durability", "extra")
    finally:
        del REGISTRY["extra"]


def test_the_policy_model_is_one_class_under_both_names() -> None:
    from pigeon_lab.gate_policy import GatePolicy
    from pigeon_lab.report.policy import GatePolicy as ReportsGatePolicy
    from pigeon_lab.scenario.checks import Checks

    assert ReportsGatePolicy is GatePolicy
    assert Checks.model_fields["gate"].annotation is GatePolicy
