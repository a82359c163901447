"""Every link of a cluster through the fault proxy: each node reaches Redis through its own
proxies before and after a failover, and Redis's own links are told apart by source.

One cluster for the module (2 nodes, 1 replica, 3 Sentinels, HAProxy, every link proxied);
the failover test runs last (it changes the primary).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from pigeon_lab.cluster import Cluster, ClusterSpec, health
from pigeon_lab.cluster.link_faults import LinkFaults
from pigeon_lab.cluster.procfs import processes_under
from pigeon_lab.faults.netgraph import NetGraph
from tests.conftest import FAST_PINGS, ClientFactory, require_cluster_binaries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

GRAPH = NetGraph(2, 1, 3, True)


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_cluster_binaries()
    run_dir = tmp_path_factory.mktemp("wired")
    spec = ClusterSpec(
        run_dir=run_dir,
        nodes=2,
        replicas=1,
        sentinels=3,
        backend_args=FAST_PINGS,
        proxied_links=tuple(GRAPH.names),
    )
    with Cluster.start(spec) as running:
        yield running
    assert not processes_under(run_dir), "the cluster left processes behind"


def links(cluster: Cluster) -> LinkFaults:
    assert cluster.links is not None
    return cluster.links


def eventually(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def serving(cluster: Cluster, client_factory: ClientFactory, channel: str) -> None:
    """A client through the clients' proxy and HAProxy joins and gets a send acked."""
    (url,) = cluster.info.client_urls["clients"]
    client = client_factory(url, cluster.jwt_secret)
    assert client.call("join", {"channel": channel})["ok"]
    deadline = time.monotonic() + 10
    while True:  # right after a failover a send may be `unavailable` once: retried, same id
        ack = client.call("send", {"channel": channel, "client_msg_id": channel, "body": "hi"})
        if ack["ok"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ack["ok"], ack


def test_every_link_has_its_proxy_and_clients_come_through_theirs(wired: Cluster) -> None:
    info = wired.info
    assert set(info.links) == set(GRAPH.names)
    assert info.fault_proxy_url and wired.process("fault-proxy").state() == "alive"
    assert info.client_urls["clients"] != [info.lb_url]  # the clients' own proxy
    # Sentinel hands out the primary's front (a proxy port), not its real port
    front = health.sentinel_primary(
        int(info.sentinels[0].rsplit(":", 1)[1]), "pigeon", login=wired.admin_login
    )
    assert front is not None and front != info.redis_primary


def test_cutting_node_2_from_the_primary_leaves_node_1_serving(
    wired: Cluster, pigeon_client: ClientFactory
) -> None:
    heal = links(wired).cut(["node-2->redis-primary"], "reject")
    try:
        wired.wait_lb_state("node-2", "DOWN", 15)
        assert wired.lb_states()["node-1"] == "UP"
        serving(wired, pigeon_client, "before-failover")
    finally:
        heal()
    wired.wait_lb_state("node-2", "UP", 15)


def test_a_replica_link_is_its_own_proxy_on_the_primarys_front(wired: Cluster) -> None:
    replica = wired.process("redis-replica-1").port
    assert replica is not None
    heal = links(wired).cut(["redis-replica-1->redis-primary"], "reject")
    try:
        eventually(
            lambda: (
                (health.redis_info(replica, login=wired.admin_login) or {}).get(
                    "master_link_status"
                )
                == "down"
            )
        )
        # the Sentinels, on the same front, still reach the primary
        assert wired.status()  # the supervisor still reads everything
        assert wired.lb_states() == {"node-1": "UP", "node-2": "UP"}
    finally:
        heal()
    eventually(lambda: health.replica_synced(replica, login=wired.admin_login))


def test_after_a_failover_node_2_reaches_the_new_primary_through_its_own_proxy(
    wired: Cluster, pigeon_client: ClientFactory
) -> None:
    assert wired.failover() == "redis-replica-1"
    old = links(wired).cut(["node-2->redis-primary"], "reject")  # the old primary: unused now
    try:
        time.sleep(2.5)
        assert wired.lb_states() == {"node-1": "UP", "node-2": "UP"}
    finally:
        old()
    heal = links(wired).cut(["node-2->redis-replica-1"], "drop")
    try:
        wired.wait_lb_state("node-2", "DOWN", 15)
        assert wired.lb_states()["node-1"] == "UP"
        serving(wired, pigeon_client, "after-failover")
    finally:
        heal()
    wired.wait_lb_state("node-2", "UP", 20)
