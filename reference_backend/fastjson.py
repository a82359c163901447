"""orjson behind the `json` module interface python-socketio and python-engineio expect.

They call `dumps(obj, separators=...)` and want `str`; orjson is compact already and
returns bytes. orjson refuses NaN/Infinity literals and lone surrogates that the stdlib (and
so a Python client) produces: such a packet is re-parsed with the stdlib, so that the event
still reaches validation and gets a `bad_request` ack instead of silently vanishing.
"""

from __future__ import annotations

import json as _std
from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(obj: Any, **_kwargs: Any) -> str:
    """Serialise compactly; fall back to the stdlib for what orjson refuses (huge ints)."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return _std.dumps(obj, separators=(",", ":"))


def dumps_bytes(obj: Any) -> bytes:
    """Like dumps, as UTF-8 bytes (no str round trip); TypeError for bytes in `obj`."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return _std.dumps(obj, separators=(",", ":")).encode()


def loads(data: str | bytes, **_kwargs: Any) -> Any:
    """Parse JSON text (str or bytes); the stdlib is the slow path for what orjson refuses."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _std.loads(data)
