"""The lean Socket.IO client's codecs: websocket frames and Socket.IO packet parsing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.lean_client import (
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    FrameError,
    FrameParser,
    encode_frame,
    split_sio,
    use_lean_client,
)


def server_frame(payload: bytes, opcode: int = OP_TEXT, fin: bool = True) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        return bytes((b0, n)) + payload
    if n < 65536:
        return bytes((b0, 126)) + n.to_bytes(2, "big") + payload
    return bytes((b0, 127)) + n.to_bytes(8, "big") + payload


def unmask(frame: bytes) -> tuple[int, bytes]:
    ln, pos = frame[1] & 0x7F, 2
    if ln == 126:
        ln, pos = int.from_bytes(frame[2:4], "big"), 4
    elif ln == 127:
        ln, pos = int.from_bytes(frame[2:10], "big"), 10
    assert frame[1] & 0x80, "client frames are masked"
    key, body = frame[pos : pos + 4], frame[pos + 4 :]
    assert len(body) == ln
    return frame[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(body))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 300, 65535, 65536, 70000])
def test_client_frames_are_masked_and_round_trip(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    frame = encode_frame(payload, OP_TEXT, mask=b"\x01\x02\x03\x04")
    assert frame[0] == 0x80 | OP_TEXT
    assert unmask(frame) == (OP_TEXT, payload)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 100_000])
def test_parser_handles_any_chunking_fragments_and_control_frames(chunk: int) -> None:
    stream = (
        server_frame(b'42["message",{}]')
        + server_frame(b"x" * 300)
        + server_frame(b"part1-", OP_TEXT, fin=False)
        + server_frame(b"", OP_PING)
        + server_frame(b"part2", OP_CONT)
        + server_frame(b"y" * 70000)
        + server_frame(b"", OP_CLOSE)
    )
    p = FrameParser()
    out: list[tuple[int, bytes]] = []
    for i in range(0, len(stream), chunk):
        out += p.feed(stream[i : i + chunk])
    assert out == [
        (OP_TEXT, b'42["message",{}]'),
        (OP_TEXT, b"x" * 300),
        (OP_PING, b""),
        (OP_TEXT, b"part1-part2"),
        (OP_TEXT, b"y" * 70000),
        (OP_CLOSE, b""),
    ]
    assert p.buf == b""


def test_parser_rejects_masked_server_frames_and_stray_continuations() -> None:
    with pytest.raises(FrameError):
        FrameParser().feed(bytes((0x81, 0x81)) + b"\0\0\0\0a")
    with pytest.raises(FrameError):
        FrameParser().feed(server_frame(b"a", OP_CONT))


def test_split_sio_reads_namespace_ack_id_and_data() -> None:
    assert split_sio(b'4312[{"ok":true}]', 2) == (None, 12, [{"ok": True}])
    assert split_sio(b'42["message",{"seq":1}]', 2) == (None, None, ["message", {"seq": 1}])
    assert split_sio(b'42/chat,7["e"]', 2) == ("/chat", 7, ["e"])
    assert split_sio(b'40{"sid":"abc"}', 2) == (None, None, {"sid": "abc"})
    assert split_sio(b"41", 2) == (None, None, None)


def test_the_client_is_chosen_by_transport() -> None:
    base = LoadConfig(urls=["http://127.0.0.1:1"], jwt_secret="s")
    polling = LoadConfig.build(urls=["http://127.0.0.1:1"], jwt_secret="s", transport="polling")
    assert use_lean_client(base, "http://127.0.0.1:1")
    assert not use_lean_client(base, "https://example.test")  # TLS: python-socketio
    assert not use_lean_client(polling, "http://h:1")
    assert not use_lean_client(base.model_copy(update={"client": "python-socketio"}), "http://h")


def _read_client_frame(f: Any) -> tuple[int, bytes]:
    head = f.read(2)
    ln = head[1] & 0x7F
    ext = f.read(2 if ln == 126 else 8 if ln == 127 else 0)
    rest = f.read(4 + (int.from_bytes(ext, "big") if ext else ln))
    return unmask(head + ext + rest)


def _fake_server(script: Callable[[Any, Any], None]) -> Any:
    """A one-connection Engine.IO websocket server on gevent running ``script(sock, file)``."""
    from gevent.server import StreamServer

    def handle(sock: Any, _addr: Any) -> None:
        f = sock.makefile("rb")
        while f.readline() not in (b"\r\n", b""):
            pass
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        )
        sock.sendall(server_frame(b'0{"sid":"s","pingInterval":300,"pingTimeout":200}'))
        assert _read_client_frame(f) == (OP_TEXT, b'40{"token":"t"}')
        sock.sendall(server_frame(b'40{"sid":"x"}'))
        script(sock, f)

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    return server


def test_pong_events_and_a_dropped_connection() -> None:
    import gevent

    from pigeon_lab.load.lean_client import LeanSocketIOClient

    def script(sock: Any, f: Any) -> None:
        sock.sendall(server_frame(b"2"))
        assert _read_client_frame(f) == (OP_TEXT, b"3")
        sock.sendall(server_frame(b'42["message",{"a":1}]') + server_frame(b'427["hello"]'))
        assert _read_client_frame(f) == (OP_TEXT, b"437[]")  # a server-side ack request
        sock.close()

    server = _fake_server(script)
    try:
        c = LeanSocketIOClient()
        got: list[Any] = []
        reasons: list[str] = []
        c.on("message", got.append)
        c.on("hello", lambda: got.append("hello"))
        c.on("disconnect", reasons.append)
        c.connect(f"http://127.0.0.1:{server.server_port}", auth={"token": "t"}, wait_timeout=5)
        assert c.sid == "x"
        with gevent.Timeout(5):
            while not reasons:
                gevent.sleep(0.01)
        assert got == [{"a": 1}, "hello"] and reasons == ["transport error"]
        assert not c.connected
    finally:
        server.stop()


def test_a_silent_server_is_dropped_after_ping_interval_plus_timeout() -> None:
    import gevent

    from pigeon_lab.load.lean_client import LeanSocketIOClient

    server = _fake_server(lambda sock, f: gevent.sleep(10))
    try:
        c = LeanSocketIOClient()
        reasons: list[str] = []
        c.on("disconnect", reasons.append)
        c.connect(f"http://127.0.0.1:{server.server_port}", auth={"token": "t"}, wait_timeout=5)
        with gevent.Timeout(5):
            while not reasons:
                gevent.sleep(0.05)
        assert reasons == ["transport error"] and not c.connected
    finally:
        server.stop()
