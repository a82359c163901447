"""The quiescent read-back: the final log of every channel, read from 0 to the head.

Plain python-socketio sync client (real threads, no gevent): safe in the parent process.
One connection per workspace (a token of that workspace); per channel ``join`` with
``after_seq=0`` and then ``sync`` following ``more`` until the head; ``leave`` after.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any

import pyarrow as pa
import socketio

from pigeon_lab.history.recorder import body_hash
from pigeon_lab.history.schema import FINAL_LOG_SCHEMA, READBACK_SCHEMA
from pigeon_lab.tokens import mint_token


class _ReadError(Exception):
    pass


def _call(sio: socketio.Client, event: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
    try:
        ack = sio.call(event, data, timeout=timeout)
    except socketio.exceptions.TimeoutError as exc:
        raise _ReadError(f"{event}: no ack within {timeout} s") from exc
    except socketio.exceptions.SocketIOError as exc:
        raise _ReadError(f"{event}: {exc}") from exc
    if not isinstance(ack, dict):
        raise _ReadError(f"{event}: malformed ack {ack!r}"[:200])
    if not ack.get("ok"):
        err = ack.get("error") or {}
        raise _ReadError(f"{event}: {err.get('code', 'error')}: {err.get('message', '')}"[:200])
    return ack


def _read_channel(
    sio: socketio.Client,
    workspace: str,
    channel: str,
    limit: int,
    timeout: float,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    ack = _call(sio, "join", {"channel": channel, "after_seq": 0}, timeout)
    head = int(ack.get("head_seq") or 0)
    truncated = bool(ack.get("truncated"))
    last = 0
    while True:
        for m in ack.get("messages") or []:
            seq = int(m["seq"])
            if seq <= last:
                continue
            body = m.get("body")
            rows.append(
                {
                    "workspace": workspace,
                    "channel": channel,
                    "seq": seq,
                    "msg_id": m.get("id"),
                    "client_msg_id": m.get("client_msg_id"),
                    "sender": m.get("sender"),
                    "body_hash": body_hash(body) if isinstance(body, str) else None,
                    "ts": m.get("ts"),
                }
            )
            last = seq
        head = max(head, int(ack.get("head_seq") or 0))
        if not ack.get("more"):
            break
        ack = _call(sio, "sync", {"channel": channel, "after_seq": last, "limit": limit}, timeout)
        truncated = truncated or bool(ack.get("truncated"))
    with contextlib.suppress(_ReadError):  # the log is read; a failed leave changes nothing
        _call(sio, "leave", {"channel": channel}, timeout)
    complete = last >= head
    return {
        "workspace": workspace,
        "channel": channel,
        "head_seq": head,
        "complete": complete,
        "truncated": truncated,
        "error": None if complete else f"read {last} of {head}",
    }


def read_back(
    url: str,
    secret: str,
    channels: list[tuple[str, str]],
    *,
    limit: int = 500,
    timeout_s: float = 10.0,
    transport: str = "websocket",
    user: str = "pigeon-readback",
) -> tuple[pa.Table, pa.Table]:
    """Read every (workspace, channel) from seq 0 to its head.

    Returns ``(final_log, readback)`` with FINAL_LOG_SCHEMA and READBACK_SCHEMA. A channel
    that could not be read completely has ``complete = False`` and the reason in ``error``;
    nothing is raised for it (the checkers then say ``unknown``).
    """
    by_ws: dict[str, list[str]] = defaultdict(list)
    for ws, ch in channels:
        if ch not in by_ws[ws]:
            by_ws[ws].append(ch)
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for ws, chs in sorted(by_ws.items()):
        sio = socketio.Client(reconnection=False)
        try:
            sio.connect(
                url,
                auth={"token": mint_token(secret, ws, user)},
                transports=[transport],
                wait_timeout=timeout_s,
            )
        except socketio.exceptions.ConnectionError as exc:
            summary += [
                {
                    "workspace": ws,
                    "channel": ch,
                    "head_seq": None,
                    "complete": False,
                    "truncated": False,
                    "error": f"connect: {exc}"[:200],
                }
                for ch in chs
            ]
            continue
        try:
            for ch in chs:
                got: list[dict[str, Any]] = []
                try:
                    summary.append(_read_channel(sio, ws, ch, limit, timeout_s, got))
                except _ReadError as exc:
                    summary.append(
                        {
                            "workspace": ws,
                            "channel": ch,
                            "head_seq": None,
                            "complete": False,
                            "truncated": False,
                            "error": str(exc),
                        }
                    )
                rows += got
        finally:
            sio.disconnect()
    final = pa.Table.from_pylist(rows, schema=FINAL_LOG_SCHEMA)
    return final, pa.Table.from_pylist(summary, schema=READBACK_SCHEMA)
