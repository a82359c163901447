"""Voice room state in Redis: every operation is one EVALSHA of ``voice.lua``.

Keys (all under the ``voice:`` prefix, see docs/protocol.md "Voice rooms, v1"): one hash tag
per room, ``voice:{<ws>/<room>}``, and the index ``voice:rooms``. Under ``replicated``
durability every write is followed by WAIT on the same connection; a write that did not
reach the replicas in time answers ``not_durable`` and its changes are not pushed (the
client retries: every voice write is idempotent or supersedes).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from redis import exceptions as rx
from redis.asyncio import Redis

from reference_backend.errors import ProtoError
from reference_backend.store import unavailable

log = logging.getLogger("reference_backend.voice.store")
VOICE_LUA = resources.files("reference_backend.voice").joinpath("voice.lua").read_text()
VOICE_SHA = hashlib.sha1(VOICE_LUA.encode()).hexdigest()
INDEX_KEY = "voice:rooms"
TRANSIENT = frozenset({"UNBLOCKED", "READONLY", "MASTERDOWN", "NOREPLICAS", "LOADING", "TRYAGAIN"})
"""Redis replies that mean "not now" (a failover, a restart), answered ``unavailable``."""
WRITES = frozenset(
    {
        "join",
        "leave",
        "reap",
        "signal",
        "floor_req",
        "floor_rel",
        "floor_cancel",
        "floor_grant",
        "floor_revoke",
        "bump",
    }
)
"""Operations that change state (WAITed under ``replicated``); the rest only read, or only
refresh leases (``touch``: a lost refresh is renewed by the next)."""


def room_key(ws: str, room: str) -> str:
    return f"voice:{{{ws}/{room}}}"


def room_id(ws: str, room: str) -> str:
    return f"{ws}/{room}"


@dataclass(frozen=True)
class Reply:
    """A script's answer: its fields, and the events (each with its ``ver``) to push."""

    data: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def as_list(value: Any) -> list[Any]:
    """cjson encodes an empty array as ``{}``: read it back as a list."""
    return value if isinstance(value, list) else []


class VoiceStore:
    """Runs voice operations; every Redis failure becomes a ProtoError."""

    def __init__(
        self,
        redis: Redis,
        *,
        replicated: bool = False,
        wait_replicas: int = 1,
        wait_timeout_ms: int = 500,
    ) -> None:
        self.redis = redis
        self.replicated = replicated
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms

    async def load_script(self) -> None:
        await self.redis.script_load(VOICE_LUA)

    async def run(self, op: str, ws: str, room: str, *args: Any) -> Reply:
        """One operation on (ws, room); ``ProtoError`` for a refusal or a Redis failure."""
        keys = (room_key(ws, room), INDEX_KEY)
        argv = (op, room_id(ws, room), *(str(a) for a in args))
        wait = self.replicated and op in WRITES
        try:
            raw, replicas = await self._eval(keys, argv, wait)
        except ProtoError:
            raise
        except (
            rx.ConnectionError,
            rx.TimeoutError,
            rx.BusyLoadingError,
            rx.ReadOnlyError,
            OSError,
        ) as exc:
            raise unavailable(exc) from exc
        except rx.ResponseError as exc:
            if any(code in str(exc) for code in TRANSIENT):  # a failover under way
                raise unavailable(exc) from exc
            log.warning("voice %s: %s: %s", op, type(exc).__name__, exc)
            raise ProtoError("internal", f"voice store error: {exc}"[:200]) from exc
        except rx.RedisError as exc:
            log.warning("voice %s: %s: %s", op, type(exc).__name__, exc)
            raise ProtoError("internal", f"voice store error: {exc}"[:200]) from exc
        data = orjson.loads(raw)
        if "err" in data:
            raise ProtoError(str(data["err"]), str(data.get("msg", "")))
        if wait and replicas < self.wait_replicas:
            raise ProtoError(
                "not_durable",
                f"voice {op} reached {replicas}/{self.wait_replicas} replicas within "
                f"{self.wait_timeout_ms} ms; retry",
            )
        events = as_list(data.pop("events", []))
        return Reply(data, events)

    async def _eval(self, keys: tuple[str, ...], argv: tuple[str, ...], wait: bool) -> Any:
        for attempt in (0, 1):
            try:
                if not wait:
                    return await self.redis.evalsha(VOICE_SHA, len(keys), *keys, *argv), 0
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.evalsha(VOICE_SHA, len(keys), *keys, *argv)
                    pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)
                    raw, replicas = await pipe.execute()
                    return raw, int(replicas)
            except rx.NoScriptError:
                if attempt:
                    raise
                await self.load_script()  # a fresh primary after a failover or a restart
        raise ProtoError("internal", "voice script could not be loaded")

    async def rooms(self) -> list[tuple[str, str]]:
        """Every (ws, room) with members (the reaper's work list)."""
        try:
            ids = await self.redis.smembers(INDEX_KEY)
        except (rx.RedisError, OSError) as exc:
            raise unavailable(exc) from exc
        out = []
        for rid in ids:
            text = rid.decode() if isinstance(rid, bytes) else str(rid)
            ws, _, room = text.partition("/")
            if ws and room:
                out.append((ws, room))
        return sorted(out)


__all__ = ["INDEX_KEY", "WRITES", "Reply", "VoiceStore", "as_list", "room_id", "room_key"]
