"""RFC 6455 websocket frames for the lean client: client frames out (masked, final),
server frames in (unmasked, fragments reassembled, control frames passed through).
No extensions: the lean client offers no permessage-deflate."""

from __future__ import annotations

import random

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
_randbits = random.getrandbits


class FrameError(Exception):
    """The peer broke RFC 6455."""


def encode_frame(payload: bytes, opcode: int = OP_TEXT, mask: bytes | None = None) -> bytes:
    """One final, masked client frame."""
    n = len(payload)
    key = mask if mask is not None else _randbits(32).to_bytes(4, "big")
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    if not n:
        return head + key
    reps = (n + 3) // 4
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes((key * reps)[:n], "big")).to_bytes(
        n, "big"
    )
    return head + key + masked


class FrameParser:
    """Incremental parser of server frames: ``feed(bytes)`` -> complete ``(opcode, payload)``."""

    __slots__ = ("buf", "frag_op", "frags")

    def __init__(self) -> None:
        self.buf = b""
        self.frag_op: int | None = None
        self.frags: list[bytes] = []

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self.buf + data if self.buf else data
        out: list[tuple[int, bytes]] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            ln, hl = b1 & 0x7F, 2
            if ln == 126:
                if end - pos < 4:
                    break
                ln, hl = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif ln == 127:
                if end - pos < 10:
                    break
                ln, hl = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if b1 & 0x80:
                raise FrameError("masked frame from the server")
            if end - pos < hl + ln:
                break
            payload = buf[pos + hl : pos + hl + ln]
            pos += hl + ln
            op, fin = b0 & 0x0F, b0 & 0x80
            if op >= OP_CLOSE:  # control frames may come between fragments
                out.append((op, payload))
            elif op == OP_CONT:
                if self.frag_op is None:
                    raise FrameError("continuation without a start")
                self.frags.append(payload)
                if fin:
                    out.append((self.frag_op, b"".join(self.frags)))
                    self.frag_op, self.frags = None, []
            elif fin:
                out.append((op, payload))
            else:
                self.frag_op, self.frags = op, [payload]
        self.buf = buf[pos:] if pos < end else b""
        return out


__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameError",
    "FrameParser",
    "encode_frame",
]
