"""Malformed input thrown at a live node: every acked one gets the right error code, nothing
crashes, nobody is disconnected, and a bystander on the same node is served throughout."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pigeon_lab.load.wsframe import OP_BINARY, OP_TEXT
from tests.integration.backend_harness import (
    Lab,
    Proc,
    http_get,
    lab_fixture,  # noqa: F401 - fixture
    peer,
    run,
    token,
)
from tests.integration.eio_raw import RawPolling, RawWebSocket

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


# ---- Engine.IO-level garbage --------------------------------------------------------------
def _metric(url: str, name: str) -> float:
    """The sum of a counter's samples on a node's /metrics."""
    total = 0.0
    for line in http_get(url + "/metrics")[1].splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _rss_kib(proc: Proc) -> int:
    text = Path(f"/proc/{proc.popen.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1))  # type: ignore[union-attr]


async def _ends(ws: RawWebSocket, timeout: float = 5.0) -> bool:
    """Whether the node ends this websocket within `timeout`."""
    try:
        await ws.read_all(timeout)
    except (ConnectionError, OSError):
        return True
    return ws.closed


def test_engineio_garbage_is_dropped_and_each_abuse_ends_only_its_session(node: Proc) -> None:
    junk0 = _metric(node.url, "pigeon_malformed_packets_total")

    async def scenario() -> None:
        bystander = await peer(node.url, "w1", "eio-bystander")
        assert (await bystander.call("join", {"channel": "eio"}))["ok"] is True

        # unknown Engine.IO packet types and undecodable frames: dropped, the session goes on
        ws = RawWebSocket(node.url)
        await ws.open(token("w1", "eio-junk"))
        for text in ("7", "8x", "x", "é", "", "9" * 1000, "4", "6\x00"):
            await ws.send_text(text)
        assert (await ws.call(5, "join", {"channel": "eio"}))["ok"] is True
        # a binary event whose attachment never comes: the next event is not swallowed
        await ws.send_text('451-["send",{"channel":"eio","client_msg_id":"b","body":' +
                           '{"_placeholder":true,"num":0}}]')  # fmt: skip
        assert (await ws.call(6, "join", {"channel": "eio"}))["ok"] is True
        ws.close()

        # invalid UTF-8 in a text frame: the websocket layer ends that connection (1007)
        bad_utf8 = RawWebSocket(node.url)
        await bad_utf8.open(token("w1", "eio-utf8"))
        await bad_utf8.send_frame(b'42["join",{"channel":"\xff\xfe"}]')
        assert await _ends(bad_utf8)

        # broken attachment sequences end the session: a count of ten digits, an attachment
        # nobody announced, attachments past 1 MiB
        for steps in (
            [(OP_TEXT, b'45999999999-["send",{"_placeholder":true,"num":0}]')],
            [(OP_BINARY, b"\x00" * 100)],
            [(OP_TEXT, b'452-["send",[{"_placeholder":true,"num":0},'
                       b'{"_placeholder":true,"num":1}]]'),
             (OP_BINARY, b"\x01" * 700_000), (OP_BINARY, b"\x02" * 700_000)],
        ):  # fmt: skip
            abuser = RawWebSocket(node.url)
            await abuser.open(token("w1", "eio-attach"))
            for opcode, payload in steps:
                await abuser.send_frame(payload, opcode)
            assert await _ends(abuser), steps[0][1][:20]

        # long-polling: invalid UTF-8, a broken packet, too many packets, too many bytes
        async with aiohttp.ClientSession() as session:
            for body in (
                b"42\xff\xfe",
                b"x",
                ("\x1e".join(["3"] * 300)).encode(),
                b"4" + b"0" * 1_100_000,
            ):
                poller = RawPolling(node.url, session)
                await poller.open(token("w1", "eio-post"))
                assert await poller.post_raw(body) == 400, body[:10]
                assert await poller.post("3") == 400  # the session is over
        assert (await bystander.call("sync", {"channel": "eio", "after_seq": 0}))["ok"] is True
        assert bystander.sio.connected
        await bystander.close()

    run(scenario(), timeout=60)
    assert http_get(node.url + "/readyz")[0] == 200
    assert _metric(node.url, "pigeon_malformed_packets_total") >= junk0 + 12
    assert "pigeon_internal_errors_total 0.0" in http_get(node.url + "/metrics")[1]
    assert "Traceback" not in node.log.read_text()  # counted, not logged


def test_a_flood_of_garbage_leaves_the_node_ready_bounded_and_serving(node: Proc) -> None:
    """Attachments before connect, unknown packets and junk POSTs for a few seconds: the
    node stays ready, its RSS bounded, and two honest clients' deliveries within the
    smoke scenario's thresholds (delivery p99 < 3000 ms)."""
    stop = 0.0
    rss0 = _rss_kib(node)

    async def attach_before_connect() -> None:
        while time.monotonic() < stop:
            ws = RawWebSocket(node.url)
            try:
                await ws.open(None)  # no Socket.IO connect
                for _ in range(20):
                    await ws.send_frame(b"\x07" * 65536, OP_BINARY)
            except (ConnectionError, OSError):
                pass
            ws.close()

    async def junk_frames() -> None:  # cut after MAX_JUNK or at the frame rate: reconnect
        while time.monotonic() < stop:
            ws = RawWebSocket(node.url)
            try:
                await ws.open(token("w1", "flood-junk"))
                while time.monotonic() < stop:
                    for text in ("7", "x", "49", '42["send"', "6"):
                        await ws.send_text(text)
                    await asyncio.sleep(0)
            except (ConnectionError, OSError):
                pass
            ws.close()

    async def junk_posts() -> None:
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < stop:
                poller = RawPolling(node.url, session)
                try:
                    await poller.open(token("w1", "flood-post"))
                    await poller.post_raw(b"\xff" * 50_000)
                except (ConnectionError, aiohttp.ClientError):
                    pass

    async def scenario() -> None:
        nonlocal stop
        sender = await peer(node.url, "w1", "flood-sender")
        receiver = await peer(node.url, "w1", "flood-receiver")
        arrived: dict[int, float] = {}

        async def on_message(m: dict[str, Any]) -> None:
            receiver.messages.append(m)
            arrived[m["seq"]] = time.monotonic()

        receiver.sio.on("message", on_message)
        for p in (sender, receiver):
            assert (await p.call("join", {"channel": "flood"}))["ok"] is True
        stop = time.monotonic() + 5.0
        flooders = (attach_before_connect, attach_before_connect, junk_frames, junk_posts)
        floods = [asyncio.create_task(f()) for f in flooders]
        sent: dict[int, float] = {}
        ready, peak, i = [], 0, 0
        while time.monotonic() < stop:
            t0 = time.monotonic()
            ack = await sender.call(
                "send", {"channel": "flood", "client_msg_id": f"fl{i}", "body": "x"}
            )
            assert ack["ok"] is True, ack
            sent[ack["seq"]] = t0
            ready.append(http_get(node.url + "/readyz")[0])
            peak = max(peak, _rss_kib(node))
            i += 1
            await asyncio.sleep(0.05)
        await asyncio.gather(*floods)
        await receiver.wait_messages(len(sent))
        delays = sorted(arrived[seq] - t0 for seq, t0 in sent.items() if seq in arrived)
        assert len(delays) == len(sent) > 20
        p99 = delays[int(len(delays) * 0.99) - 1]
        assert p99 < 3.0, delays[-5:]
        assert set(ready) == {200}
        assert (peak - rss0) / 1024 < 64, f"RSS grew {(peak - rss0) / 1024:.0f} MiB"
        for p in (sender, receiver):
            await p.close()

    run(scenario(), timeout=60)
    assert http_get(node.url + "/readyz")[0] == 200
