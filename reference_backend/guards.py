"""The Socket.IO server of a node, guarded against packets no client library sends.

python-socketio turns a malformed Socket.IO packet into an exception that python-engineio
logs with a traceback, per packet: a flood of junk becomes a flood of log lines and CPU.
Here each one is counted (`on_junk("socketio")`) and dropped.

Binary packets: the protocol has none, but a client library may send a payload with bytes
(and gets `bad_request`). python-socketio keeps the attachments of a binary packet until
the count its header declares has arrived, and that count may be ten digits long: a
client could make a node hold any amount of memory. So a binary packet may declare at
most MAX_ATTACHMENTS attachments of MAX_ATTACHMENT_BYTES in all; a packet past either, or
an attachment flood before the Socket.IO connect, ends that client's session. A text
packet where an attachment was due drops the unfinished binary packet (it would otherwise
swallow the next event as its attachment). Past MAX_JUNK malformed packets a session ends.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import socketio

WRITTEN_AGAINST = "python-socketio 5.18.1"
EXPECTED_SIGNATURES = {
    "_handle_eio_message": "(self, eio_sid, data)",
    "_handle_eio_disconnect": "(self, eio_sid, reason)",
}
MAX_ATTACHMENTS = 8
MAX_ATTACHMENT_BYTES = 1024 * 1024
MAX_JUNK = 100
_BINARY_TYPES = ("5", "6")  # BINARY_EVENT, BINARY_ACK


def attachment_count(packet: str) -> int:
    """The attachment count a binary packet's header declares (0 when it declares none)."""
    i = 1
    n = len(packet)
    while i < n and packet[i].isdigit():
        i += 1
    if i == 1 or i >= n or packet[i] != "-":
        return 0
    return int(packet[1:i]) if i <= 12 else MAX_ATTACHMENTS + 1


def check_library() -> None:
    """Raise if a method overridden here changed since WRITTEN_AGAINST."""
    for name, expected in EXPECTED_SIGNATURES.items():
        fn = getattr(socketio.AsyncServer, name, None)
        actual = None if fn is None else str(inspect.signature(fn))
        if actual != expected:
            raise RuntimeError(
                f"reference_backend.guards was written against {WRITTEN_AGAINST}; "
                f"socketio.AsyncServer.{name}{actual or ' (missing)'} is not {expected}"
            )


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """`socketio.AsyncServer` whose Engine.IO messages pass the guards above first."""

    def __init__(self, *args: Any, on_junk: Callable[[str], None], **kwargs: Any) -> None:
        check_library()
        super().__init__(*args, **kwargs)
        if not isinstance(getattr(self, "_binary_packet", None), dict):
            raise RuntimeError(f"reference_backend.guards: no _binary_packet ({WRITTEN_AGAINST})")
        self.on_junk = on_junk
        self._attached: dict[str, int] = {}  # eio sid -> attachment bytes of its open packet
        self._junk: dict[str, int] = {}  # eio sid -> malformed packets so far

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if type(data) is str:
            if eio_sid in self._binary_packet:  # text where an attachment was due
                self._binary_packet.pop(eio_sid, None)
                self._attached.pop(eio_sid, None)
                self._count_junk(eio_sid)
            if data[:1] in _BINARY_TYPES and attachment_count(data) > MAX_ATTACHMENTS:
                self._refuse(eio_sid, "too many attachments")
                return
        elif eio_sid in self._binary_packet:
            size = self._attached.get(eio_sid, 0) + len(data)
            if size > MAX_ATTACHMENT_BYTES:
                self._refuse(eio_sid, "attachments too large")
                return
            self._attached[eio_sid] = size
        else:  # an attachment nobody announced: before connect, or after its packet ended
            self._refuse(eio_sid, "unexpected attachment")
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            self._count_junk(eio_sid)  # not a Socket.IO packet: dropped, counted
        if self._attached and eio_sid not in self._binary_packet:
            self._attached.pop(eio_sid, None)

    def _count_junk(self, eio_sid: str) -> None:
        self.on_junk("socketio")
        n = self._junk[eio_sid] = self._junk.get(eio_sid, 0) + 1
        if n > MAX_JUNK:
            self._refuse(eio_sid, "too many malformed packets")

    def _refuse(self, eio_sid: str, why: str) -> None:
        """Drop the packet in progress and end the session (abuse, not a client bug)."""
        self.on_junk("socketio")
        self._binary_packet.pop(eio_sid, None)
        self._attached.pop(eio_sid, None)
        self._junk.pop(eio_sid, None)
        asyncio.get_running_loop().create_task(self._end(eio_sid))

    async def _end(self, eio_sid: str) -> None:
        """Close without waiting for a poll to drain the queue (the library's disconnect
        waits: a long-polling abuser that never polls would hold this task for good)."""
        sock = self.eio.sockets.get(eio_sid)
        if sock is not None:
            await sock.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._binary_packet.pop(eio_sid, None)
        self._attached.pop(eio_sid, None)
        self._junk.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)
