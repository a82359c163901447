"""One test per scenario error message: each names the file, the field path and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigeon_lab.errors import ConfigError
from pigeon_lab.scenario import load_scenario


def error_of(tmp_path: Path, text: str, name: str = "bad.yaml") -> ConfigError:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    return info.value


def test_unknown_top_level_field(tmp_path: Path) -> None:
    err = error_of(tmp_path, "topologyy:\n  nodes: 2\n")
    assert "bad.yaml" in str(err)
    assert err.field == "topologyy"
    assert "unknown field 'topologyy'; did you mean 'topology'?" in str(err)
    assert "(line 1)" in str(err)


def test_unknown_nested_field(tmp_path: Path) -> None:
    err = error_of(tmp_path, "workload:\n  usres: 5\n")
    assert str(err).startswith(f"{tmp_path / 'bad.yaml'}: workload.usres: unknown field 'usres'")
    assert "did you mean 'users'?" in str(err)
    assert "(line 2)" in str(err)


def test_wrong_type(tmp_path: Path) -> None:
    err = error_of(tmp_path, "workload:\n  users: abc\n")
    assert err.field == "workload.users"
    assert "workload.users: expected an integer, got 'abc'" in str(err)


def test_out_of_range(tmp_path: Path) -> None:
    err = error_of(tmp_path, "topology:\n  nodes: 17\n")
    assert "topology.nodes: must be <= 16, got 17" in str(err)


def test_not_one_of_choices(tmp_path: Path) -> None:
    err = error_of(tmp_path, "topology:\n  redis:\n    sentinels: 2\n")
    assert "topology.redis.sentinels: expected one of 0, 3 or 5, got 2" in str(err)


def test_unknown_fault_kind(tmp_path: Path) -> None:
    err = error_of(tmp_path, "faults:\n  - {at_s: 1, kind: explode, target: node-1}\n")
    assert err.field == "faults[0].kind"
    assert "unknown fault kind 'explode'; known: kill, pause, restart, drain" in str(err)


def test_fault_target_not_in_topology(tmp_path: Path) -> None:
    text = (
        "faults:\n"
        "  - {at_s: 1, kind: restart, target: node-1}\n"
        "  - {at_s: 2, kind: kill, target: node-5}\n"
    )
    err = error_of(tmp_path, text)
    assert err.field == "faults[1].target"
    assert "no 'node-5' in this topology; this topology has: node-1, node-2, node-3" in str(err)
    assert "(line 3)" in str(err)


def test_fault_kind_cannot_take_target(tmp_path: Path) -> None:
    err = error_of(tmp_path, "faults:\n  - {at_s: 1, kind: drain, target: redis-primary}\n")
    assert "faults[0].target: drain cannot target 'redis-primary'; it takes: node" in str(err)


def test_fault_starts_after_the_end(tmp_path: Path) -> None:
    text = "workload: {duration_s: 20}\nfaults:\n  - {at_s: 25, kind: restart, target: node-1}\n"
    err = error_of(tmp_path, text)
    assert "faults[0].at_s: fault at 25 s starts after the load ends" in str(err)
    assert "workload.duration_s = 20" in str(err)


def test_fault_ends_after_the_end(tmp_path: Path) -> None:
    text = (
        "workload: {duration_s: 20}\n"
        "faults:\n  - {at_s: 15, duration_s: 10, kind: pause, target: node-1}\n"
    )
    err = error_of(tmp_path, text)
    assert "faults[0].duration_s: fault ends at 25 s, after the load ends" in str(err)


def test_window_fault_without_duration(tmp_path: Path) -> None:
    err = error_of(tmp_path, "faults:\n  - {at_s: 1, kind: pause, target: node-1}\n")
    assert "faults[0].duration_s: pause is a window and needs duration_s" in str(err)


def test_instantaneous_fault_with_duration(tmp_path: Path) -> None:
    err = error_of(tmp_path, "faults:\n  - {at_s: 1, duration_s: 2, kind: redis-failover}\n")
    assert "faults[0].duration_s: redis-failover is instantaneous; drop duration_s" in str(err)


def test_fault_param_missing(tmp_path: Path) -> None:
    text = (
        "topology: {proxied_links: [haproxy->node-1]}\n"
        "faults:\n  - {at_s: 1, duration_s: 2, kind: latency, target: haproxy->node-1}\n"
    )
    err = error_of(tmp_path, text)
    assert "faults[0].params: missing param 'latency_ms' for latency" in str(err)


def test_fault_param_unknown(tmp_path: Path) -> None:
    text = "faults:\n  - {at_s: 1, kind: kill, target: node-1, params: {signal: 9}}\n"
    err = error_of(tmp_path, text)
    assert "faults[0].params: unknown param 'signal' for kill; known: none" in str(err)


def test_a_link_fault_needs_a_link_of_the_topology(tmp_path: Path) -> None:
    # issue 7: a run proxies the links its faults name, so naming one is enough; it must exist
    text = "faults:\n  - {at_s: 1, duration_s: 2, kind: partition, target: haproxy->node-9}\n"
    err = error_of(tmp_path, text)
    assert "faults[0].target: no link 'haproxy->node-9' in this topology" in str(err)


def test_overlapping_faults_on_one_process(tmp_path: Path) -> None:
    text = (
        "faults:\n"
        "  - {at_s: 5, kind: kill, target: node-2}\n"
        "  - {at_s: 10, kind: restart, target: node-2}\n"
    )
    err = error_of(tmp_path, text)
    assert "faults[1]: overlaps faults[0] (kill node-2 @5s)" in str(err)


def test_redis_failover_needs_sentinels(tmp_path: Path) -> None:
    text = "topology: {redis: {sentinels: 0}}\nfaults:\n  - {at_s: 1, kind: redis-failover}\n"
    err = error_of(tmp_path, text)
    assert "faults[0].kind: redis-failover needs topology.redis.sentinels > 0" in str(err)


def test_missing_target_url(tmp_path: Path) -> None:
    err = error_of(tmp_path, "target:\n  kind: external\n  token: {secret: s3cret}\n")
    assert err.field == "target.url"
    assert "target.url: missing target url" in str(err)


def test_external_target_needs_token(tmp_path: Path) -> None:
    err = error_of(tmp_path, "target: {kind: external, url: 'http://chat.example:80'}\n")
    assert "target.token: missing target token" in str(err)


def test_unknown_checker_name(tmp_path: Path) -> None:
    err = error_of(tmp_path, "checks:\n  invariants: [durability, ordr]\n")
    assert err.field == "checks.invariants[1]"
    assert "unknown checker 'ordr'; known: durability, order" in str(err)
    assert "did you mean 'order'?" in str(err)


def test_bad_gate_condition(tmp_path: Path) -> None:
    err = error_of(tmp_path, "checks:\n  gate:\n    thresholds: {ack_latency_ms.p99: fast}\n")
    assert err.field == "checks.gate.thresholds"
    assert "condition 'fast' is not '<op> <number>'" in str(err)


def test_unknown_gate_metric(tmp_path: Path) -> None:
    err = error_of(tmp_path, "checks:\n  gate:\n    thresholds: {ack_p99: '< 5'}\n")
    assert "checks.gate.thresholds.ack_p99: unknown metric 'ack_p99'" in str(err)


def test_bad_yaml_syntax(tmp_path: Path) -> None:
    err = error_of(tmp_path, "workload:\n  users: [1, 2\nseed: 3\n")
    assert "bad.yaml: invalid YAML at line 3, column" in str(err)


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    err = error_of(tmp_path, "- 1\n- 2\n")
    assert "expected a mapping of fields at the top level, got list" in str(err)


def test_missing_file_lists_catalogue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "nope.yaml")
    assert "nope.yaml: file not found; the catalogue has: " in str(info.value)
    assert "smoke" in str(info.value)


def test_unknown_name_suggests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario("smoek")
    assert "no scenario named 'smoek'; the catalogue has:" in str(info.value)
    assert "did you mean 'smoke'?" in str(info.value)


def test_unknown_flaw(tmp_path: Path) -> None:
    err = error_of(tmp_path, "topology:\n  backend:\n    flaws: [local-seq, lose-everything]\n")
    assert err.field == "topology.backend.flaws[1]"
    assert "unknown flaw 'lose-everything'; known: ack-before-persist" in str(err)


def test_cross_field_workload(tmp_path: Path) -> None:
    err = error_of(tmp_path, "workload: {channels_per_workspace: 2, channels_per_user: 3}\n")
    assert "workload.channels_per_user: 3 is more than channels_per_workspace (2)" in str(err)
    err = error_of(tmp_path, "workload: {workspaces: 4, users: 3}\n")
    assert "workload.users: 3 users cannot fill 4 workspaces" in str(err)


def test_body_over_backend_max(tmp_path: Path) -> None:
    err = error_of(tmp_path, "workload: {body_bytes: [100, 5000]}\n")
    assert "workload.body_bytes: 5000 bytes is over topology.backend.max_body (4096)" in str(err)


def test_body_too_small_for_the_send_time(tmp_path: Path) -> None:
    err = error_of(tmp_path, "workload: {body_bytes: [10, 200]}\n")
    assert "workload.body_bytes: [min, max] needs 24 <= min <= max" in str(err)


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    err = error_of(tmp_path, "workload: {users: x, workspaces: y}\n")
    assert "workload.workspaces: expected an integer, got 'y'" in str(err)
    assert "workload.users: expected an integer, got 'x'" in str(err)
