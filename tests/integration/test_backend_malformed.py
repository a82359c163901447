"""Malformed input thrown at a live node: every acked one gets the right error code, nothing
crashes, nobody is disconnected, and a bystander on the same node is served throughout."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.integration.backend_harness import (
    Lab,
    Proc,
    http_get,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
    token,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

OK = "general"
BIG = 2**63
GOOD_SEND = {"channel": OK, "client_msg_id": "cm-1", "body": "x"}

# (name, event, data, expected code); data None means "no argument", a tuple several.
CASES: list[tuple[str, str, Any, str]] = [
    ("payload-string", "send", "not an object", "bad_request"),
    ("payload-int", "send", 42, "bad_request"),
    ("payload-list", "send", [1, 2], "bad_request"),
    ("payload-missing", "send", None, "bad_request"),
    ("two-payloads", "send", (GOOD_SEND, GOOD_SEND), "bad_request"),
    ("payload-bytes", "send", b"\x00\x01binary", "bad_request"),
    ("empty-object", "send", {}, "bad_request"),
    ("channel-missing", "send", {"client_msg_id": "a", "body": "x"}, "bad_request"),
    ("channel-int", "send", {**GOOD_SEND, "channel": 7}, "bad_request"),
    ("channel-upper", "send", {**GOOD_SEND, "channel": "General"}, "bad_request"),
    ("channel-dash-first", "send", {**GOOD_SEND, "channel": "-x"}, "bad_request"),
    ("channel-too-long", "send", {**GOOD_SEND, "channel": "a" * 65}, "bad_request"),
    ("channel-slash", "send", {**GOOD_SEND, "channel": "a/b"}, "bad_request"),
    ("channel-empty", "send", {**GOOD_SEND, "channel": ""}, "bad_request"),
    ("channel-newline", "send", {**GOOD_SEND, "channel": "general\n"}, "bad_request"),
    ("channel-null", "send", {**GOOD_SEND, "channel": None}, "bad_request"),
    ("cmid-missing", "send", {"channel": OK, "body": "x"}, "bad_request"),
    ("cmid-int", "send", {**GOOD_SEND, "client_msg_id": 123}, "bad_request"),
    ("cmid-empty", "send", {**GOOD_SEND, "client_msg_id": ""}, "bad_request"),
    ("cmid-too-long", "send", {**GOOD_SEND, "client_msg_id": "c" * 65}, "bad_request"),
    ("body-missing", "send", {"channel": OK, "client_msg_id": "a"}, "bad_request"),
    ("body-int", "send", {**GOOD_SEND, "body": 5}, "bad_request"),
    ("body-nested", "send", {**GOOD_SEND, "body": {"a": [1, {"b": None}]}}, "bad_request"),
    ("body-nan", "send", {**GOOD_SEND, "body": float("nan")}, "bad_request"),
    ("body-bytes", "send", {**GOOD_SEND, "body": b"\xff\xfe"}, "bad_request"),
    ("body-lone-surrogate", "send", {**GOOD_SEND, "body": "a\ud800b"}, "bad_request"),
    ("body-too-large", "send", {**GOOD_SEND, "body": "x" * 5000}, "too_large"),
    ("body-too-large-utf8", "send", {**GOOD_SEND, "body": "\U0001f426" * 1100}, "too_large"),
    ("body-huge", "send", {**GOOD_SEND, "body": "y" * 200_000}, "too_large"),
    ("extra-huge-field", "send", {**GOOD_SEND, "junk": "z" * 100_000}, "bad_request"),
    ("extra-nested-junk", "send", {**GOOD_SEND, "x": [[[[{"deep": [1]}]]]]}, "bad_request"),
    ("too-many-fields", "send", {**GOOD_SEND, **{f"f{i}": i for i in range(20)}}, "bad_request"),
    ("not-member", "send", {**GOOD_SEND, "channel": "never-joined"}, "not_member"),
    ("join-channel-null", "join", {"channel": None}, "bad_request"),
    ("join-after-negative", "join", {"channel": OK, "after_seq": -1}, "bad_request"),
    ("join-after-huge", "join", {"channel": OK, "after_seq": BIG}, "bad_request"),
    ("join-after-string", "join", {"channel": OK, "after_seq": "5"}, "bad_request"),
    ("join-after-float", "join", {"channel": OK, "after_seq": 1.5}, "bad_request"),
    ("join-after-bool", "join", {"channel": OK, "after_seq": True}, "bad_request"),
    ("join-after-inf", "join", {"channel": OK, "after_seq": float("inf")}, "bad_request"),
    ("join-limit-zero", "join", {"channel": OK, "after_seq": 0, "limit": 0}, "bad_request"),
    ("join-limit-negative", "join", {"channel": OK, "after_seq": 0, "limit": -5}, "bad_request"),
    ("sync-after-missing", "sync", {"channel": OK}, "bad_request"),
    ("sync-limit-string", "sync", {"channel": OK, "after_seq": 0, "limit": "ten"}, "bad_request"),
    ("sync-payload-list", "sync", [OK, 0], "bad_request"),
    ("leave-channel-list", "leave", {"channel": [OK]}, "bad_request"),
    ("leave-no-payload", "leave", None, "bad_request"),
    ("unknown-event", "explode", {"channel": OK}, "bad_request"),
    ("unknown-event-no-args", "whatever", None, "bad_request"),
    ("event-named-message", "message", {"channel": OK}, "bad_request"),
    ("event-named-connect", "connect", {"token": "x"}, "bad_request"),
    ("event-named-disconnect", "disconnect", "transport close", "bad_request"),
]

# Raw Socket.IO packets no well-behaved client library would produce.
# (An empty frame makes python-engineio close that one connection; a binary event whose
# attachment never comes makes it wait: both only affect the sender, so both are sent last.)
RAW_PACKETS = [
    "42",
    "42[]",
    "42{}",
    '42["send"',
    "42[1]",
    "421[]",
    "429[null]",
    "43[]",
    "4x",
    "49",
    "6",
    "9",
    '42["send",' + "[" * 5000 + "]" * 5000 + "]",
    '42["send",{"channel":"general","body":NaN}]',
    '42["join",{"after_seq":1e999}]',
]
LAST_PACKETS = ['451-["send",{"_placeholder":true,"num":0}]', ""]


@pytest.fixture(scope="module")
def node(lab: Lab) -> Proc:
    r = lab.redis()
    return lab.backend(r.port, "--conn-rate", "100000", "--conn-burst", "100000", name="node-m")


async def _raw_junk(url: str) -> bool:
    """Speak Engine.IO by hand: connect, throw raw junk, then check we are still served."""
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        opened = await ws.receive_str(timeout=5)
        assert opened.startswith("0")
        await ws.send_str("40" + json.dumps({"token": token("w1", "raw")}))
        assert (await ws.receive_str(timeout=5)).startswith("40")
        for pkt in RAW_PACKETS:
            await ws.send_str(pkt)
        await ws.send_str('4277["join",{"channel":"general"}]')
        while True:
            msg = await ws.receive_str(timeout=5)
            if msg == "2":
                await ws.send_str("3")
            elif msg.startswith("4377"):
                served = json.loads(msg[4:])[0]["ok"] is True
                for pkt in LAST_PACKETS:
                    await ws.send_str(pkt)
                return served


def test_malformed_payloads_are_refused_and_nothing_breaks(node: Proc) -> None:
    assert len(CASES) >= 30

    async def scenario() -> None:
        bad = await peer(node.url, "w1", "mallory")
        bystander = await peer(node.url, "w1", "bystander")
        await bad.call("join", {"channel": OK})
        await bystander.call("join", {"channel": OK})
        wrong: list[str] = []
        for i, (name, event, data, expected) in enumerate(CASES):
            reply = await bad.call(event, data)
            code = reply.get("error", {}).get("code") if isinstance(reply, dict) else None
            if not (isinstance(reply, dict) and reply.get("ok") is False and code == expected):
                wrong.append(f"{name}: {reply!r}"[:200])
            # Events without an ack must not break anything either.
            await bad.sio.emit(event, data)
            served = await bystander.call(
                "send", {"channel": OK, "client_msg_id": f"ok-{i}", "body": name}
            )
            assert served["ok"] is True, (name, served)
        assert wrong == []
        # A huge limit is clamped, not refused.
        clamped = await bad.call("sync", {"channel": OK, "after_seq": 0, "limit": 10**6})
        assert clamped["ok"] is True and len(clamped["messages"]) <= 1000
        assert await _raw_junk(node.url) is True
        assert bad.sio.connected and bystander.sio.connected
        final = await bad.call(
            "send", {"channel": OK, "client_msg_id": "still-alive", "body": "after the storm"}
        )
        assert final["ok"] is True and final["seq"] == len(CASES) + 1
        await bystander.wait_messages(len(CASES) + 1)
        assert [m["seq"] for m in bystander.messages] == list(range(1, len(CASES) + 2))
        await bad.close()
        await bystander.close()

    run(scenario(), timeout=60)
    assert http_get(node.url + "/readyz")[0] == 200
    assert node.popen.poll() is None
    _, metrics = http_get(node.url + "/metrics")
    assert 'pigeon_errors_total{code="bad_request"}' in metrics
    assert "pigeon_internal_errors_total 0.0" in metrics
