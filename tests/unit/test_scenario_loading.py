"""Loading, defaults, overrides, dump round trip, catalogue and the fault registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pigeon_lab.errors import ConfigError
from pigeon_lab.faults.registry import FAULT_KINDS
from pigeon_lab.report.policy import GatePolicy
from pigeon_lab.scenario import (
    CATALOGUE_DIR,
    DEFAULT_INVARIANTS,
    Scenario,
    catalogue,
    dump_scenario,
    load_scenario,
    parse_overrides,
    scenario_from_text,
)


def test_smoke_loads_small_and_fast() -> None:
    s = load_scenario("smoke")
    assert s.name == "smoke"
    assert s.topology.nodes == 2 and s.topology.redis.replicas == 1
    assert s.topology.redis.sentinels == 3
    assert s.workload.duration_s <= 10 and s.workload.users <= 10
    assert s.faults == ()
    assert s.checks.gate.thresholds


def test_baseline_loads_with_slo_gate() -> None:
    s = load_scenario("baseline")
    assert s.topology.nodes == 3 and s.workload.workspaces == 4
    assert 100 <= s.workload.users <= 500
    assert s.workload.duration_s == 60 and s.faults == ()
    assert s.checks.gate == GatePolicy(
        invariant_failures_max=0,
        allow_unknown=False,
        thresholds={
            "ack_latency_ms.p99": "< 250",
            "delivery_latency_ms.p99": "< 500",
            "availability": ">= 0.999",
        },
    )


def test_fault_examples_use_available_kinds() -> None:
    kill = load_scenario("node-kill")
    assert [(f.kind, f.target, f.at_s, f.end_s) for f in kill.faults] == [
        ("kill", "node-2", 10, 20)
    ]
    failover = load_scenario("redis-failover")
    assert [(f.kind, f.target, f.at_s) for f in failover.faults] == [
        ("redis-failover", "redis-primary", 10)
    ]
    assert kill.unavailable_faults() == [] and failover.unavailable_faults() == []


def test_defaults_filled_in() -> None:
    s = scenario_from_text("description: minimal\n", default_name="mini")
    assert s.name == "mini" and s.seed == 1
    assert s.topology.nodes == 3 and s.topology.load_balancer == "haproxy"
    assert s.topology.backend.retention == 10000 and s.topology.backend.flaws == ()
    assert s.workload.users == 20 and s.workload.transport == "websocket"
    assert s.checks.invariants == DEFAULT_INVARIANTS and s.checks.bucket_s == 1.0
    assert s.target.kind == "bundled"


def test_empty_file_is_all_defaults() -> None:
    assert scenario_from_text("") == Scenario()


@pytest.mark.parametrize("name", [e.name for e in catalogue()])
def test_dump_load_round_trip(name: str) -> None:
    s = load_scenario(name)
    text = dump_scenario(s)
    assert text.startswith("#")
    assert scenario_from_text(text) == s
    assert "20.0" not in text  # whole floats are written as ints


def test_dump_redacts_token_secret() -> None:
    text = "target: {kind: external, url: 'https://chat.example', token: {secret: hunter2}}\n"
    s = scenario_from_text(text)
    assert "hunter2" not in dump_scenario(s)
    assert "hunter2" in dump_scenario(s, redact=False)


def test_seed_and_overrides() -> None:
    s = load_scenario("smoke", seed=42, overrides={"workload.users": 8, "topology": {"nodes": 1}})
    assert s.seed == 42 and s.workload.users == 8 and s.topology.nodes == 1
    assert s.topology.redis.replicas == 1  # merged, not replaced
    assert load_scenario("smoke").seed == 1


def test_parse_overrides_reads_yaml_values() -> None:
    assert parse_overrides(["workload.users=10", "workload.body_bytes=[1, 5]", "name=x"]) == {
        "workload": {"users": 10, "body_bytes": [1, 5]},
        "name": "x",
    }
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["users"])


def test_override_error_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"workload\.users: expected an integer, got 'lots'"):
        load_scenario("smoke", overrides={"workload.users": "lots"})


def test_path_and_name_resolve_the_same() -> None:
    assert load_scenario("smoke") == load_scenario(CATALOGUE_DIR / "smoke.yaml")
    assert load_scenario("smoke") == load_scenario(str(CATALOGUE_DIR / "smoke.yaml"))


def test_catalogue_lists_shipped_scenarios() -> None:
    entries = {e.name: e for e in catalogue()}
    assert {"smoke", "baseline", "node-kill", "redis-failover"} <= set(entries)
    for entry in entries.values():
        assert entry.path.is_file() and entry.summary
        first = entry.path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#"), entry.path
        assert "description" in yaml.safe_load(entry.path.read_text(encoding="utf-8"))


def test_cwd_scenarios_dir_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "mine.yaml").write_text("description: mine\nseed: 9\n")
    monkeypatch.chdir(tmp_path)
    assert load_scenario("mine").seed == 9
    assert "mine" in [e.name for e in catalogue()]


def test_external_target_with_profile() -> None:
    text = (
        "target:\n  kind: external\n  url: wss://chat.example\n"
        "  token: {command: 'mint --ws {workspace} --user {user}'}\n"
        "  profile: {send: post_message, message: new_message}\n"
    )
    s = scenario_from_text(text)
    assert s.target.profile == {"send": "post_message", "message": "new_message"}


def test_fault_registry_availability() -> None:
    # the built-in kinds (a test's plugin may have registered more in this process);
    # issue 7: the link kinds run through the fault proxy
    available = {
        name
        for name, kind in FAULT_KINDS.items()
        if kind.inject is not None and kind.inject.__module__.startswith("pigeon_lab.")
    }
    link_kinds = {"partition", "latency", "bandwidth", "slicer", "reset", "slow-close"}
    assert available == {
        "kill",
        "pause",
        "restart",
        "drain",
        "redis-failover",
        "limit-data",
        "kill-floor-holder",
    } | (link_kinds)
    for name in link_kinds:
        assert FAULT_KINDS[name].available and FAULT_KINDS[name].takes_duration
        assert FAULT_KINDS[name].needs_duration == (name != "partition")  # until the load ends
    assert all(kind.help for kind in FAULT_KINDS.values())


def test_link_fault_validates_and_its_links_are_proxied() -> None:
    text = (
        "faults:\n  - {at_s: 1, duration_s: 2, kind: latency, target: node-1->redis-primary,"
        " params: {latency_ms: 200}}\n"
    )
    s = scenario_from_text(text)
    assert s.faults[0].params == {"latency_ms": 200, "jitter_ms": 0, "stream": "both"}
    assert s.unavailable_faults() == []
    assert s.proxied_links() == ("node-1->redis-primary",)


def test_scenario_is_frozen() -> None:
    s = load_scenario("smoke")
    with pytest.raises(ValueError):
        s.seed = 3
