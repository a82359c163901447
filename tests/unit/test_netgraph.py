"""The topology's links (faults/netgraph.py): who dials whom, shapes, source addresses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pigeon_lab.faults.netgraph import Link, NetGraph
from pigeon_lab.report.html import render_html
from pigeon_lab.report.sample import sample_report

G = NetGraph(3, 1, 3, True, ("clients-slow",))


def test_the_links_of_a_topology() -> None:
    assert G.names[:3] == ["clients->haproxy", "clients-slow->haproxy", "haproxy->node-1"]
    assert "node-2->sentinel-3" in G.names and "node-2->redis-replica-1" in G.names
    assert {"redis-primary->redis-replica-1", "redis-replica-1->redis-primary"} <= set(G.names)
    assert "sentinel-1->sentinel-2" in G.names and "sentinel-1->sentinel-1" not in G.names
    without = NetGraph(2, 1, 0, False)
    assert "clients->node-2" in without.names and "node-1->redis-replica-1" not in without.names
    assert "redis-primary->redis-replica-1" not in without.names
    assert Link.parse("a->b") == Link("a", "b") and Link.parse("a-b") is None


def test_isolate_and_grudge_cut_both_directions() -> None:
    assert G.links_of("redis-replica-1") >= {
        "sentinel-1->redis-replica-1",
        "redis-replica-1->redis-primary",
        "redis-primary->redis-replica-1",
        "node-3->redis-replica-1",
    }
    cut = G.between(["redis-primary"], ["node-2", "redis-replica-1"])
    assert cut == {
        "node-2->redis-primary",
        "redis-primary->redis-replica-1",
        "redis-replica-1->redis-primary",
    }


@given(st.integers(4, 9))
def test_majorities_ring_leaves_each_member_a_majority_and_no_two_the_same(n: int) -> None:
    members = [f"sentinel-{i}" for i in range(1, n + 1)]  # Sentinels dial each other
    graph = NetGraph(1, 0, n, True)
    cut = graph.majorities_ring(members)
    sees = {m: {o for o in members if o == m or not graph.between([m], [o]) & cut} for m in members}
    assert all(len(v) > n // 2 for v in sees.values())
    assert len({frozenset(v) for v in sees.values()}) == n
    assert cut  # somebody is cut from somebody


def test_source_split_links_and_source_addresses() -> None:
    assert NetGraph.source_split(Link("sentinel-1", "redis-primary"))
    assert NetGraph.source_split(Link("redis-replica-1", "redis-primary"))
    assert not NetGraph.source_split(Link("node-1", "redis-primary"))
    ips = {p: G.source_ip(p) for p in [*G.redis_names, *G.sentinel_names]}
    assert len(set(ips.values())) == len(ips) and all(
        ip.startswith("127.0.") for ip in ips.values()
    )


def test_the_report_shows_each_windows_figures() -> None:
    html = render_html(sample_report())
    assert 'id="fault-figures"' in html and "acked writes lost" in html
