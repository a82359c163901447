"""`pigeon-lab scenario list|show` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pigeon_lab.cli import app
from pigeon_lab.scenario import load_scenario, scenario_from_text

runner = CliRunner()


def test_list_shows_catalogue() -> None:
    result = runner.invoke(app, ["scenario", "list"])
    assert result.exit_code == 0, result.output
    for name in ("smoke", "baseline", "node-kill", "redis-failover"):
        assert name in result.stdout
    assert "kill node-2" in result.stdout


def test_show_smoke_yaml_has_defaults() -> None:
    result = runner.invoke(app, ["scenario", "show", "smoke"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["name"] == "smoke"
    assert data["topology"]["backend"]["retention"] == 10000
    assert scenario_from_text(result.stdout) == load_scenario("smoke")


def test_show_json_with_seed_and_set() -> None:
    result = runner.invoke(
        app, ["scenario", "show", "smoke", "--json", "--seed", "7", "--set", "workload.users=9"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["seed"] == 7 and data["workload"]["users"] == 9


def test_show_invalid_file_exits_2_with_message(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("workload:\n  users: abc\n")
    result = runner.invoke(app, ["scenario", "show", str(path)])
    assert result.exit_code == 2
    assert "broken.yaml: workload.users: expected an integer, got 'abc'" in result.stderr


def test_show_unknown_name_exits_2() -> None:
    result = runner.invoke(app, ["scenario", "show", "smok"])
    assert result.exit_code == 2
    assert "no scenario named 'smok'" in result.stderr
    assert "did you mean 'smoke'?" in result.stderr
