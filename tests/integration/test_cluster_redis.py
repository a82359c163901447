"""Redis behind the backend: `replicated` durability answers not_durable while the replica is
stopped, and a Sentinel failover keeps sends flowing with the sequence intact.

One small cluster for the module: 1 node, 1 replica, 3 Sentinels, no load balancer.
The failover test runs last (it changes the primary).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import socketio

from pigeon_lab.cluster import Cluster, ClusterSpec
from tests.conftest import FAST_PINGS, ClientFactory, PigeonClient, require_cluster_binaries

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_cluster_binaries()
    spec = ClusterSpec(
        run_dir=tmp_path_factory.mktemp("replicated"),
        nodes=1,
        replicas=1,
        sentinels=3,
        durability="replicated",
        load_balancer=False,
        backend_args=(*FAST_PINGS, "--wait-timeout-ms", "300"),
    )
    with Cluster.start(spec) as running:
        yield running


def _send_until_ok(
    client: PigeonClient, channel: str, body: str, deadline_s: float = 20.0
) -> dict[str, Any]:
    """Send with one client_msg_id, retrying on not_durable, unavailable and timeouts."""
    msg_id, deadline, last = str(uuid.uuid4()), time.monotonic() + deadline_s, None
    while time.monotonic() < deadline:
        try:
            last = client.call("send", {"channel": channel, "client_msg_id": msg_id, "body": body})
        except (socketio.exceptions.SocketIOError, OSError) as exc:  # while reconnecting
            last = {"ok": False, "error": {"code": type(exc).__name__}}
        if last.get("ok"):
            return last
        time.sleep(0.2)
    raise AssertionError(f"send of {body!r} never acked ok; last answer {last}")


def test_replicated_send_is_not_durable_while_the_replica_is_paused(
    replicated: Cluster, pigeon_client: ClientFactory
) -> None:
    client = pigeon_client(replicated.info.lb_url, replicated.info.jwt_secret)
    assert client.call("join", {"channel": "durable"})["ok"]
    assert _send_until_ok(client, "durable", "one")["seq"] == 1
    replicated.pause("redis-replica-1")
    try:
        msg = {"channel": "durable", "client_msg_id": str(uuid.uuid4()), "body": "two"}
        ack = client.call("send", msg)
        assert not ack["ok"] and ack["error"]["code"] == "not_durable", ack
    finally:
        replicated.resume("redis-replica-1")
    deadline = time.monotonic() + 10
    while not (ack := client.call("send", msg))["ok"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ack["ok"] and ack["seq"] == 2, ack


def test_sends_continue_with_contiguous_seqs_after_sentinel_failover(
    replicated: Cluster, pigeon_client: ClientFactory
) -> None:
    client = pigeon_client(replicated.info.lb_url, replicated.info.jwt_secret)
    channel = f"fo-{uuid.uuid4().hex[:8]}"
    assert client.call("join", {"channel": channel})["ok"]
    before = [_send_until_ok(client, channel, f"b{i}")["seq"] for i in range(3)]
    assert before == [1, 2, 3]
    old_primary = replicated.info.redis_primary
    assert replicated.failover() == "redis-replica-1"
    assert replicated.info.redis_primary != old_primary
    after = [_send_until_ok(client, channel, f"a{i}")["seq"] for i in range(3)]
    assert after == [4, 5, 6]
    client.sio.disconnect()
    fresh = pigeon_client(replicated.info.lb_url, replicated.info.jwt_secret, user="late")
    synced = fresh.call("join", {"channel": channel, "after_seq": 0})
    assert [m["seq"] for m in synced["messages"]] == [1, 2, 3, 4, 5, 6]
