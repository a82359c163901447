"""The lean Socket.IO client against one real backend node (in-process, on gevent)."""

from __future__ import annotations

from typing import Any

import gevent
import pytest
from gevent.event import AsyncResult

from pigeon_lab.load.lean_client import LeanConnectionError, LeanSocketIOClient
from pigeon_lab.tokens import mint_token
from tests.integration.test_load import SECRET, backend  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def call(c: LeanSocketIOClient, event: str, data: Any, timeout: float = 5.0) -> Any:
    res: AsyncResult = AsyncResult()
    c.emit(event, data, callback=lambda *args: res.set(args[0] if args else None))
    return res.get(timeout=timeout)


def test_connect_join_send_receive_ack_and_disconnect(backend: str) -> None:  # noqa: F811
    a, b = LeanSocketIOClient(), LeanSocketIOClient()
    got: list[dict[str, Any]] = []
    reasons: list[str] = []
    b.on("message", got.append)
    a.on("disconnect", reasons.append)
    a.connect(backend, auth={"token": mint_token(SECRET, "ws1", "alice")}, wait_timeout=10)
    b.connect(backend, auth={"token": mint_token(SECRET, "ws1", "bob")}, wait_timeout=10)
    assert a.connected and b.connected and a.sid
    for c in (a, b):
        ack = call(c, "join", {"channel": "general"})
        assert ack["ok"] and ack["head_seq"] == 0 and ack["node"] == "node-1"
    body = "é" * 2000  # multi-byte, and a frame with a 16-bit length
    ack = call(a, "send", {"channel": "general", "client_msg_id": "m-1", "body": body})
    assert ack["ok"] and ack["seq"] == 1 and not ack["duplicate"]
    with gevent.Timeout(5):
        while not got:
            gevent.sleep(0.01)
    assert got[0]["seq"] == 1 and got[0]["body"] == body and got[0]["sender"] == "alice"
    again = call(a, "send", {"channel": "general", "client_msg_id": "m-1", "body": body})
    assert again["duplicate"] and again["seq"] == 1
    a.disconnect()
    assert not a.connected and reasons == ["client disconnect"]
    a.connect(backend, auth={"token": mint_token(SECRET, "ws1", "alice")}, wait_timeout=10)
    synced = call(a, "join", {"channel": "general", "after_seq": 0})
    assert [m["seq"] for m in synced["messages"]] == [1]
    a.disconnect()
    b.disconnect()


def test_a_refused_connect_calls_connect_error_and_raises(backend: str) -> None:  # noqa: F811
    c = LeanSocketIOClient()
    errors: list[Any] = []
    c.on("connect_error", errors.append)
    with pytest.raises(LeanConnectionError):
        c.connect(backend, auth={"token": "not-a-jwt"}, wait_timeout=10)
    assert not c.connected
    assert errors and errors[0]["data"]["code"] == "unauthorized"
    with pytest.raises(LeanConnectionError):  # nothing listens there
        LeanSocketIOClient().connect("http://127.0.0.1:9", auth={}, wait_timeout=5)
