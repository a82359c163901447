"""Network faults in scenario files (issue 7): each bad one refused before anything starts,
with the file, the field and the reason (one test per message); the seeded mix expands to a
schedule that the written scenario reproduces; the links a run proxies."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigeon_lab.errors import ConfigError
from pigeon_lab.faults.netgraph import NetGraph
from pigeon_lab.scenario import dump_scenario, load_scenario, scenario_from_text
from pigeon_lab.scenario.topology import assign_groups


def error_of(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert "bad.yaml" in str(info.value)
    return info.value


def fault(body: str) -> str:
    return f"faults:\n  - {{at_s: 1, duration_s: 3, {body}}}\n"


def test_an_unknown_link_is_named_with_the_links_there_are(tmp_path: Path) -> None:
    err = error_of(
        tmp_path, fault("kind: latency, target: node-1->haproxy, params: {latency_ms: 9}")
    )
    assert err.field == "faults[0].target"
    assert "no link 'node-1->haproxy' in this topology; this topology has: node-1->redis" in str(
        err
    )


def test_a_partition_that_names_no_process_of_the_topology(tmp_path: Path) -> None:
    text = fault("kind: partition, target: grudge, params: {side_a: [redis-primary, node-7]}")
    err = error_of(tmp_path, text)
    assert err.field == "faults[0].params.side_a[1]"
    assert "no process 'node-7' in this topology; it has: clients, haproxy, node-1" in str(err)


def test_params_of_the_wrong_kind(tmp_path: Path) -> None:
    err = error_of(tmp_path, fault("kind: bandwidth, target: node-2, params: {rate_kbps: slow}"))
    assert err.field == "faults[0].params"
    assert "param 'rate_kbps': expected an integer, got 'slow'" in str(err)
    err = error_of(tmp_path, fault("kind: partition, target: node-2, params: {mode: cut}"))
    assert "param 'mode': expected one of drop, reject, got 'cut'" in str(err)
    err = error_of(tmp_path, fault("kind: partition, target: grudge, params: {side_a: node-1}"))
    assert "param 'side_a': expected a list of names, got 'node-1'" in str(err)


def test_overlapping_windows_on_one_link(tmp_path: Path) -> None:
    text = (
        "faults:\n"
        "  - {at_s: 2, duration_s: 6, kind: partition, target: node-2}\n"
        "  - {at_s: 5, duration_s: 2, kind: latency, target: haproxy->node-2,"
        " params: {latency_ms: 50}}\n"
    )
    err = error_of(tmp_path, text)
    assert err.field == "faults[1]"
    assert "overlaps faults[0] (partition node-2 @2s for 6s) on link haproxy->node-2" in str(err)


def test_a_grudge_needs_a_side_and_sides_may_not_share(tmp_path: Path) -> None:
    err = error_of(tmp_path, fault("kind: partition, target: grudge"))
    assert err.field == "faults[0].params.side_a" and "a grudge needs side_a" in str(err)
    text = fault("kind: partition, target: grudge, params: {side_a: [node-1], side_b: [node-1]}")
    assert "node-1 on both sides" in str(error_of(tmp_path, text))
    text = fault("kind: partition, target: node-1, params: {side_a: [node-2]}")
    assert "side_a: is only for target: grudge" in str(error_of(tmp_path, text))


def test_a_majorities_ring_needs_four_members(tmp_path: Path) -> None:
    text = fault("kind: partition, target: majorities-ring, params: {members: [node-1, node-2]}")
    err = error_of(tmp_path, text)
    assert err.field == "faults[0].params.members" and "needs 4 or more" in str(err)


def test_a_shape_is_only_for_partitions(tmp_path: Path) -> None:
    err = error_of(tmp_path, fault("kind: latency, target: grudge, params: {latency_ms: 5}"))
    assert err.field == "faults[0].target" and "no 'grudge' in this topology" in str(err)


def test_without_per_source_proxies_a_fault_that_would_spill_over(tmp_path: Path) -> None:
    text = "topology: {fault_proxy: 'http://127.0.0.1:8474'}\n" + fault(
        "kind: partition, target: sentinel-1->redis-primary"
    )
    err = error_of(tmp_path, text)
    assert err.field == "faults[0].target"
    assert "would also cut redis-replica-1->redis-primary, sentinel-2->redis-primary" in str(err)
    fine = "topology: {fault_proxy: 'http://127.0.0.1:8474'}\n" + fault(
        "kind: partition, target: node-2"
    )
    assert scenario_from_text(fine).faults[0].target == "node-2"


def test_bad_client_groups(tmp_path: Path) -> None:
    err = error_of(tmp_path, "topology: {client_groups: [{name: slow, share: 0.2}]}\n")
    assert err.field == "topology.client_groups[0].name"
    groups = "[{name: clients-a, share: 0.6}, {name: clients-b, share: 0.5}]"
    text = f"topology: {{client_groups: {groups}}}\n"
    assert "the shares add up to 1 or more" in str(error_of(tmp_path, text))


def test_bad_random_mixes(tmp_path: Path) -> None:
    err = error_of(tmp_path, "faults: {random: {kinds: [latency]}}\n")
    assert err.field == "faults.random.kinds[0]" and "missing param 'latency_ms'" in str(err)
    err = error_of(tmp_path, "faults: {random: {kinds: [nap]}}\n")
    assert "unknown fault kind 'nap'" in str(err)
    err = error_of(tmp_path, "faults: {random: {kinds: [reset], duration_s: [5, 2]}}\n")
    assert err.field == "faults.random.duration_s"
    err = error_of(tmp_path, "faults: {random: {kinds: [reset], targets: [node-9]}}\n")
    assert err.field == "faults.random.targets[0]"
    assert "a mapping here must be" in str(error_of(tmp_path, "faults: {kill: node-1}\n"))


MIX = (
    "seed: 4\nworkload: {duration_s: 30}\n"
    "faults:\n  random:\n    kinds: [partition, reset, {latency: {latency_ms: 80}}, slicer]\n"
    "    interval_s: 2\n    duration_s: [1, 4]\n"
)


def test_the_mix_expands_to_a_seeded_schedule_the_run_folder_reproduces() -> None:
    first, again = scenario_from_text(MIX), scenario_from_text(MIX)
    assert first.faults == again.faults and len(first.faults) >= 4
    assert scenario_from_text(MIX.replace("seed: 4", "seed: 5")).faults != first.faults
    for a, b in zip(first.faults, first.faults[1:], strict=False):
        assert a.end_s is not None and b.at_s >= a.end_s + 2 - 1e-9  # one at a time
    assert all(f.end_s is not None and f.end_s <= 30 for f in first.faults)
    written = scenario_from_text(dump_scenario(first))  # what scenario.yaml holds
    assert written.faults == first.faults
    graph = NetGraph(3, 1, 3, True)
    assert all(f.target in graph.names for f in first.faults)  # targets: links by default


def test_proxied_links_are_the_faults_links_or_all() -> None:
    s = scenario_from_text(fault("kind: partition, target: haproxy->node-2"))
    assert s.proxied_links() == ("haproxy->node-2",)
    s = scenario_from_text("topology: {proxied_links: all}\n")
    assert s.proxied_links() == tuple(NetGraph(3, 1, 3, True).names)


def test_client_groups_take_their_share_of_users_by_seed() -> None:
    groups = assign_groups(20, (("clients-slow", 0.25),), 1)
    assert groups.count("clients-slow") == 5 and groups.count("clients") == 15
    assert assign_groups(20, (("clients-slow", 0.25),), 1) == groups
    assert assign_groups(20, (("clients-slow", 0.25),), 2) != groups
