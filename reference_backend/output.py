"""The output limits of a node's connections, shared by the patches (speedups, longpoll)
and the websocket writer: set once at start (`POLICY`), read at each use.

Slow consumers: every connection's unsent output is capped at `max_output_bytes`, checked
*before* a packet is queued (the FrameWriter's buffer plus the transport's for websockets,
the queue for long-polling). A packet that would pass the cap cuts the connection instead:
what is queued is dropped, a `closing` event (`slow_consumer`) and the close go out, and
the client resyncs when it reconnects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engineio import packet

QUEUED_ATTR = "_pigeon_queued"  # bytes in a long-polling socket's queue
CUT_ATTR = "_pigeon_cut"  # the socket is being cut (slow consumer)
# Packets per long-polling POST (python-engineio's default, 16, drops the batches of a
# JavaScript client that emitted more between two POSTs); the body is also capped in bytes
# (max_http_buffer_size).
MAX_POST_PACKETS = 256
SLOW_CONSUMER = "slow_consumer"
CUT_GRACE_S = 5.0  # how long a cut connection may take to read its goodbye


@dataclass
class OutputPolicy:
    """The limits these patches apply, and where they report what they cut or dropped.

    `closing(code)` gives the encoded Socket.IO packet of the `closing` event; `on_cut(reason)`
    and `on_junk(layer)` count (metrics).
    """

    max_output_bytes: int = 16 * 1024 * 1024
    poll_budget_bytes: int = 1024 * 1024
    max_frames_per_s: int = 2000
    closing: Callable[[str], str] = lambda code: ""
    on_cut: Callable[[str], None] = lambda reason: None
    on_junk: Callable[[str], None] = lambda layer: None


POLICY = OutputPolicy()  # replaced by speedups.install


def packet_size(pkt: packet.Packet | None) -> int:
    """About the bytes a queued packet takes on the wire (O(1): no encoding)."""
    data = None if pkt is None else pkt.data
    return 1 + len(data) if isinstance(data, (str, bytes)) else 16
