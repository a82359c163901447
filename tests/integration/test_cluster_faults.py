"""Node faults on the session cluster: a SIGKILLed node's clients move through HAProxy without
loss; a paused node fails its health check and HAProxy routes around it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from pigeon_lab.cluster import Cluster
from pigeon_lab.cluster.health import http_ready
from tests.conftest import ClientFactory, PigeonClient

pytestmark = pytest.mark.integration


def _send(client: PigeonClient, channel: str, body: str) -> int:
    ack = client.call(
        "send", {"channel": channel, "client_msg_id": str(uuid.uuid4()), "body": body}
    )
    assert ack["ok"], ack
    return int(ack["seq"])


def _wait(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_killed_nodes_client_reconnects_elsewhere_and_resumes_without_loss(
    cluster: Cluster, pigeon_client: ClientFactory
) -> None:
    secret, channel = cluster.info.jwt_secret, f"kill-{uuid.uuid4().hex[:8]}"
    reader = pigeon_client(cluster.info.lb_url, secret, user="reader")
    victim = reader.call("join", {"channel": channel})["node"]
    other = next(n for n in ("node-1", "node-2", "node-3") if n != victim)
    writer = pigeon_client(cluster.node_url(other), secret, user="writer")
    assert writer.call("join", {"channel": channel})["ok"]
    try:
        first = _send(writer, channel, "before")
        _wait(lambda: reader.seqs(channel) == [first], 5, "the first message")
        reader.connected_event.clear()
        cluster.kill(victim)
        _wait(lambda: not reader.sio.connected, 10, "the reader to notice the kill")
        away = [_send(writer, channel, f"away-{i}") for i in range(3)]
        assert reader.connected_event.wait(15), "reader did not reconnect through haproxy"
        rejoin = reader.call("join", {"channel": channel, "after_seq": first})
        assert rejoin["ok"] and rejoin["node"] != victim, rejoin
        assert [m["seq"] for m in rejoin["messages"]] == away
        assert [m["body"] for m in rejoin["messages"]] == ["away-0", "away-1", "away-2"]
    finally:
        cluster.heal()
    assert cluster.lb_states()[victim] == "UP"


def test_paused_node_fails_health_check_and_haproxy_routes_around_it(
    cluster: Cluster, pigeon_client: ClientFactory
) -> None:
    secret = cluster.info.jwt_secret
    try:
        cluster.pause("node-2")
        assert {s.name: s.state for s in cluster.status()}["node-2"] == "paused"
        cluster.wait_lb_state("node-2", "DOWN", 5)
        assert not http_ready(cluster.node_url("node-2"), timeout_s=0.3)
        for i in range(4):
            client = pigeon_client(cluster.info.lb_url, secret, user=f"u{i}")
            assert client.call("join", {"channel": "paused"})["node"] != "node-2"
        cluster.resume("node-2")
        cluster.wait_lb_state("node-2", "UP", 5)
        assert http_ready(cluster.node_url("node-2"))
    finally:
        cluster.heal()
