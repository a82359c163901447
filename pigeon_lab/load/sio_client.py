"""python-socketio's side of the load users: Locust's contrib client with JSON by orjson,
and the code of a ``connect_error`` payload (for either client)."""

from __future__ import annotations

from typing import Any

import orjson
import socketio
from locust.contrib.socketio import SocketIOClient


def refusal_code(data: Any) -> str:
    """The code of a ``connect_error`` payload (``{data: {code}}`` or ``{code}``), else its text."""
    if isinstance(data, dict):
        inner = data.get("data")
        if isinstance(inner, dict) and inner.get("code"):
            return str(inner["code"])
        if data.get("code"):
            return str(data["code"])
        return str(data.get("message") or data)[:200]
    return str(data)[:200]


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
