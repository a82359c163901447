"""The bundled cluster against its neighbours on the host: Redis and the Sentinels refuse
anonymous clients and hold each role to its own ACL user, HAProxy's public frontend serves
the Socket.IO path and its own health paths only, and no Redis password reaches a file of a
run folder, a log or a command line."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pigeon_lab.cluster import Cluster, ClusterSpec
from pigeon_lab.cluster.health import command, http_status, redis_client
from pigeon_lab.cluster.procfs import cmdline
from pigeon_lab.cluster.redis_acl import ADAPTER_CHANNEL, Login, RedisCredentials
from pigeon_lab.run import run_scenario
from pigeon_lab.tokens import mint_token
from tests.conftest import ClientFactory, require_cluster_binaries
from tests.integration.backend_harness import http_get

pytestmark = pytest.mark.integration


def _creds(cluster: Cluster) -> RedisCredentials:
    assert cluster.credentials is not None, "the bundled cluster runs with ACL users"
    return cluster.credentials


def _port(cluster: Cluster, name: str) -> int:
    port = cluster.process(name).port
    assert port is not None
    return port


def _refused(call: Callable[[], Any], *words: str) -> str:
    """The error text of a call that must fail (a Redis error naming one of `words`)."""
    with pytest.raises(redis.RedisError) as info:
        call()
    text = str(info.value)
    assert any(w in text for w in words), text
    return text


def _client(port: int, login: Login | None) -> redis.Redis:
    return redis_client(port, timeout_s=2.0, login=login)


def test_anonymous_and_wrong_passwords_are_refused_everywhere(cluster: Cluster) -> None:
    creds = _creds(cluster)
    for name in ("redis-primary", "redis-replica-1", "sentinel-1"):
        port = _port(cluster, name)
        anonymous = _client(port, None)
        _refused(anonymous.ping, "NOAUTH", "Authentication", "auth")
        wrong = _client(port, Login(creds.node.username, "not-the-password"))
        _refused(wrong.ping, "WRONGPASS", "invalid username-password")
    admin = _client(_port(cluster, "redis-primary"), creds.admin)
    assert admin.config_get("protected-mode") == {"protected-mode": "yes"}


def test_a_nodes_credentials_reach_its_keys_and_channel_only(cluster: Cluster) -> None:
    creds = _creds(cluster)
    primary = cluster.info.redis_primary.rsplit(":", 1)[1]
    node = _client(int(primary), creds.node)
    assert node.set("pg:{acl-test/probe}:x", "1") and node.get("pg:{acl-test/probe}:x") == "1"
    for call in (
        lambda: node.set("other:key", "1"),
        lambda: node.get("session:abc"),
        lambda: node.keys("*"),
        lambda: node.flushall(),
        lambda: node.config_get("*"),
        lambda: command(node, "ACL", "LIST"),
        lambda: node.publish("not-the-adapter", "x"),
        lambda: command(node, "SHUTDOWN", "NOSAVE"),
    ):
        _refused(call, "NOPERM", "permission")
    sub = node.pubsub()  # type: ignore[no-untyped-call]
    sub.subscribe(ADAPTER_CHANNEL)  # the adapter channel is the node's
    assert sub.get_message(timeout=2)["type"] == "subscribe"
    sub.close()
    sub = node.pubsub()  # type: ignore[no-untyped-call]
    _refused(lambda: sub.subscribe("__keyspace@0__:*") or sub.get_message(timeout=2), "permission")
    sub.close()

    sentinel = _client(_port(cluster, "sentinel-1"), creds.node)
    addr = command(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "pigeon")
    assert isinstance(addr, list) and addr[1] == primary
    _refused(lambda: command(sentinel, "SENTINEL", "FAILOVER", "pigeon"), "permission")
    _refused(lambda: command(sentinel, "SENTINEL", "REMOVE", "pigeon"), "permission")
    _refused(lambda: command(sentinel, "SENTINEL", "SET", "pigeon", "quorum", "1"),
             "permission")  # fmt: skip


def test_the_nodes_never_hit_their_acl_while_serving(
    cluster: Cluster, pigeon_client: ClientFactory
) -> None:
    """Every command a node sends (sends, reads, refresh, rate-limit syncs, publishes) is
    in its ACL: Redis's ACL LOG of denials stays empty while clients use every event."""
    creds = _creds(cluster)
    admins = [
        _client(_port(cluster, name), creds.admin)
        for name in ("redis-primary", "redis-replica-1", "sentinel-1", "sentinel-2", "sentinel-3")
    ]
    for admin in admins:
        command(admin, "ACL", "LOG", "RESET")
    ch = f"acl-{uuid.uuid4().hex[:8]}"
    secret = cluster.info.jwt_secret
    for node in cluster.info.node_urls.values():
        client = pigeon_client(node, secret, workspace="acl-ws", user=f"u-{uuid.uuid4().hex[:6]}")
        assert client.call("join", {"channel": ch})["ok"]
        assert client.call("join", {"channel": ch, "after_seq": 0})["ok"]
        msg = {"channel": ch, "client_msg_id": uuid.uuid4().hex, "body": "hi"}
        assert client.call("send", msg)["ok"] and client.call("send", msg)["duplicate"]
        assert client.call("sync", {"channel": ch, "after_seq": 0})["ok"]
        token = mint_token(secret, "acl-ws", "other")
        assert client.call("refresh", {"token": token})["error"]["code"] == "forbidden"
        assert client.call("leave", {"channel": ch})["ok"]
    time.sleep(1.0)  # the rate-limit syncs run every 0.2 s
    for admin in admins:
        denied = command(admin, "ACL", "LOG")
        assert denied == [], denied


def test_every_role_connects_as_its_own_user(cluster: Cluster) -> None:
    creds = _creds(cluster)
    primary = int(cluster.info.redis_primary.rsplit(":", 1)[1])
    clients = _client(primary, creds.admin).client_list()
    users = {c["user"] for c in clients}
    assert "default" not in users, clients
    assert {creds.node.username, creds.replication.username, creds.sentinel.username} <= users


def test_haproxy_serves_only_the_socketio_path_and_its_own_health(cluster: Cluster) -> None:
    lb = cluster.info.lb_url
    node = cluster.node_url("node-1")
    assert http_get(node + "/metrics")[0] == 200  # on the node's own port
    assert http_get(lb + "/metrics")[0] == 404
    assert http_get(lb + "/readyz") == (200, "ready")  # HAProxy's answer, not a node's
    assert http_get(lb + "/healthz") == (200, "ok")
    for path in ("/", "/stats", "/socket.iox/", "/metrics?x=/socket.io/", "/../metrics"):
        assert http_status(lb + path) == 404, path
    status, body = http_get(lb + "/socket.io/?EIO=4&transport=polling")
    assert status == 200 and body.startswith("0{"), body
    sid = re.search(r'"sid":"([^"]+)"', body)
    assert sid and sid.group(1).split(".")[0] in cluster.info.node_urls, body


def test_no_process_command_line_holds_a_redis_password(cluster: Cluster) -> None:
    creds = _creds(cluster)
    for proc in cluster.processes.values():
        line = cmdline(proc.pid) if proc.pid else None
        assert line is not None, proc.name
        assert not any(p in line for p in creds.passwords), proc.name


@pytest.fixture
def recorded_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RedisCredentials]]:
    """The credentials the clusters of this test generate (real ones, recorded)."""
    made: list[RedisCredentials] = []
    generate = RedisCredentials.generate.__func__  # type: ignore[attr-defined]

    def recording(cls: type[RedisCredentials]) -> RedisCredentials:
        creds: RedisCredentials = generate(cls)
        made.append(creds)
        return creds

    monkeypatch.setattr(RedisCredentials, "generate", classmethod(recording))
    yield made


def test_no_file_of_a_run_folder_holds_a_redis_password(
    tmp_path: Path, recorded_credentials: list[RedisCredentials]
) -> None:
    require_cluster_binaries()
    result = run_scenario("smoke", out=tmp_path, overrides={"workload.duration_s": 3})
    assert result.report.counts.acks > 0
    assert len(recorded_credentials) == 1
    passwords = [p.encode() for p in recorded_credentials[0].passwords]
    files = [p for p in result.run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "redis.conf.redacted" for p in files)
    holders = [str(p.relative_to(result.run_dir)) for p in files
               if any(pw in p.read_bytes() for pw in passwords)]  # fmt: skip
    assert holders == []


def test_configs_with_passwords_live_outside_the_run_folder_until_teardown(
    tmp_path: Path,
) -> None:
    require_cluster_binaries()
    spec = ClusterSpec(run_dir=tmp_path, nodes=1, replicas=0, sentinels=0, load_balancer=False)
    with Cluster.start(spec) as small:
        private = small.private_dir
        assert private is not None and not private.is_relative_to(tmp_path)
        assert (private.stat().st_mode & 0o077) == 0  # the user's only
        conf = (private / "redis-primary" / "redis.conf").read_text()
        assert small.credentials is not None
        assert small.credentials.replication.password in conf  # masterauth: in clear there
        redacted = (tmp_path / "redis" / "redis-primary" / "redis.conf.redacted").read_text()
        assert "masterauth" in redacted and small.credentials.replication.password not in redacted
    assert not private.exists()
