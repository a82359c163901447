"""The seams: a fault kind and a workload added from a test module through the registries
alone validate in a scenario, are listed by `scenario kinds`, and reach the load config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pigeon_lab.cli import app
from pigeon_lab.errors import ConfigError
from pigeon_lab.faults import FAULT_KINDS
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.scenario import load_scenario, scenario_from_text
from pigeon_lab.workloads import WORKLOADS

TOY = """
plugins: [tests.toy_plugin]
workload:
  users: 4
  toy: {users: 2, greeting: hi}
faults:
  - {kind: toy-pause, target: node-1, at_s: 1, duration_s: 1, params: {note: zz}}
"""


def test_a_plugin_registers_a_fault_kind_and_a_workload_used_by_a_scenario() -> None:
    s = scenario_from_text(TOY)
    assert "toy-pause" in FAULT_KINDS and "toy" in WORKLOADS
    assert s.workload.enabled_workloads() == ["chat", "toy"]
    assert s.workload.total_users() == 6
    toy = s.workload.section("toy")
    assert toy is not None and toy.model_dump() == {"users": 2, "greeting": "hi"}
    planned = s.faults[0].planned()
    assert planned.params == {"note": "zz"}
    assert FAULT_KINDS["toy-pause"].label(planned) == "toy-pause node-1 (zz)"
    config = LoadConfig.from_scenario(s, urls=["http://x"], out_dir=Path("."), jwt_secret="k")
    assert config.workload_modules == ["tests.toy_plugin"]
    again = LoadConfig.from_json(config.model_dump_json())
    assert again.workload.section("toy") == toy


def test_a_plugin_workload_section_is_validated_by_its_own_model() -> None:
    with pytest.raises(ConfigError) as err:
        scenario_from_text(TOY.replace("users: 2, greeting: hi", "users: 0"))
    assert err.value.field == "workload.toy.users"
    with pytest.raises(ConfigError) as err:
        scenario_from_text(TOY.replace("params: {note: zz}", "params: {nope: 1}"))
    assert err.value.field == "faults[0].params" and "unknown param 'nope'" in str(err.value)


def test_an_unknown_workload_section_and_a_missing_plugin_are_refused() -> None:
    with pytest.raises(ConfigError) as err:
        scenario_from_text("workload: {voicex: {users: 1}}")
    assert err.value.field == "workload.voicex" and "unknown field 'voicex'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        scenario_from_text("plugins: [tests.no_such_plugin]")
    assert err.value.field == "plugins[0]" and "cannot import plugin" in str(err.value)


def test_scenario_kinds_lists_every_registry_with_help() -> None:
    load_scenario("smoke")  # the built-in registries
    result = CliRunner().invoke(app, ["scenario", "kinds", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    faults = {f["name"]: f for f in data["faults"]}
    assert {"kill", "pause", "restart", "drain", "redis-failover", "partition"} <= set(faults)
    assert faults["latency"]["params"][0]["name"] == "latency_ms"
    assert faults["partition"]["available"] is True  # issue 7: through the fault proxy
    assert {w["name"] for w in data["workloads"]} >= {"chat"}
    names = [c["name"] for c in data["checkers"]]
    assert names[:7] == [
        "durability",
        "order",
        "gaps",
        "delivery",
        "idempotence",
        "isolation",
        "slo",
    ]
    assert all(row["help"] for rows in data.values() for row in rows)
    table = CliRunner().invoke(app, ["scenario", "kinds"])
    assert table.exit_code == 0 and "redis-failover" in table.output
