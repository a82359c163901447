"""The session cluster comes up, every node is ready through HAProxy, nodes share channels."""

from __future__ import annotations

import time
import uuid

import pytest

from pigeon_lab.cluster import Cluster
from pigeon_lab.cluster.health import http_ready, http_status
from tests.conftest import ClientFactory

pytestmark = pytest.mark.integration


def test_every_process_alive_and_every_node_up_in_haproxy(cluster: Cluster) -> None:
    rows = {s.name: s for s in cluster.status()}
    expected = {
        "redis-primary",
        "redis-replica-1",
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
        "node-1",
        "node-2",
        "node-3",
        "haproxy",
    }
    assert set(rows) == expected
    assert all(s.state == "alive" for s in rows.values()), rows
    assert cluster.lb_states() == {"node-1": "UP", "node-2": "UP", "node-3": "UP"}
    info = cluster.info
    assert http_status(info.lb_url + "/readyz") == 200
    assert all(http_ready(url) for url in info.node_urls.values())
    assert info.redis_url.startswith("redis+sentinel://") and len(info.sentinels) == 3


def test_message_sent_through_one_node_reaches_a_member_on_another(
    cluster: Cluster, pigeon_client: ClientFactory
) -> None:
    secret = cluster.info.jwt_secret
    alice = pigeon_client(cluster.node_url("node-1"), secret, user="alice")
    bob = pigeon_client(cluster.node_url("node-2"), secret, user="bob")
    channel = f"cross-{uuid.uuid4().hex[:8]}"
    assert alice.call("join", {"channel": channel})["node"] == "node-1"
    assert bob.call("join", {"channel": channel})["node"] == "node-2"
    ack = alice.call("send", {"channel": channel, "client_msg_id": str(uuid.uuid4()), "body": "hi"})
    assert ack["ok"] and ack["seq"] == 1, ack
    deadline = time.monotonic() + 5
    while not bob.seqs(channel) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bob.seqs(channel) == [1]
    assert bob.messages[-1]["sender"] == "alice" and bob.messages[-1]["body"] == "hi"
