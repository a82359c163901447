"""python-socketio's side of the load users: Locust's contrib client with JSON by orjson.
(``refusal_code`` moved to ``pigeon_lab.protocol.codec``; re-exported here.)

python-engineio's client drops a connection whose long-polling response holds more than 16
packets (``Payload.max_decode_packets``); a server that drains its queue per poll (the
reference backend does, up to a byte budget, as the JavaScript client expects) sends more
on a busy channel. The load process raises that limit (``POLL_DECODE_PACKETS``)."""

from __future__ import annotations

from typing import Any

import orjson
import socketio
from engineio import payload
from locust.contrib.socketio import SocketIOClient

from pigeon_lab.protocol.codec import refusal_code

POLL_DECODE_PACKETS = 100_000
payload.Payload.max_decode_packets = max(payload.Payload.max_decode_packets, POLL_DECODE_PACKETS)


class _OrjsonJson:
    """The ``json`` module interface python-socketio calls, backed by orjson."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(s: str | bytes, **_: Any) -> Any:
        return orjson.loads(s)


class PigeonSocketIOClient(SocketIOClient):
    """Locust's contrib client without its zero-time emit stats; connect raises on failure."""

    def __init__(self, request_event: Any, **kwargs: Any) -> None:
        super().__init__(request_event, json=_OrjsonJson, **kwargs)

    def connect(self, *args: Any, **kwargs: Any) -> None:
        socketio.Client.connect(self, *args, **kwargs)

    def emit(
        self, event: str, data: Any = None, namespace: str | None = None, callback: Any = None
    ) -> None:
        socketio.Client.emit(self, event, data, namespace, callback)


__all__ = ["PigeonSocketIOClient", "refusal_code"]
