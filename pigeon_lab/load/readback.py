"""The quiescent read-back: the final log of every channel, read from 0 to the head.

Plain python-socketio sync client (real threads, no gevent): safe in the parent process.
One connection per workspace (a token of that workspace); per channel ``join`` with
``after_seq=0`` and then ``sync`` following ``more`` until the head; ``leave`` after.
Every operation goes through the target's codec.

It cannot hang or crash on a bad server: each call has an ack timeout, the whole read
has a deadline, and a page that does not advance (``more`` with no new seq, messages
without a seq) ends that channel's read with the reason recorded. A channel not read
completely has ``complete = False`` and its ``error``; the checkers then say ``unknown``.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
import socketio

from pigeon_lab.history.recorder import body_hash
from pigeon_lab.history.schema import FINAL_LOG_SCHEMA, READBACK_SCHEMA
from pigeon_lab.protocol.codec import (
    PIGEON,
    Codec,
    Op,
    connect_options,
    join_payload,
    leave_payload,
    sync_payload,
)
from pigeon_lab.tokens import mint_token
from pigeon_lab.workloads.base import ReadbackRequest
from pigeon_lab.workloads.chat import ChatSettings

TokenFn = Callable[[str, str], str]


class _ReadError(Exception):
    pass


class _Reader:
    """Reads the channels of one workspace over one connection, within a deadline."""

    def __init__(
        self,
        sio: socketio.Client,
        codec: Codec,
        limit: int,
        timeout: float,
        deadline: float,
        min_interval_s: float = 0.0,
    ) -> None:
        self.sio, self.codec, self.limit, self.timeout, self.deadline = (
            sio,
            codec,
            limit,
            timeout,
            deadline,
        )
        self.min_interval_s = min_interval_s
        self._last = 0.0

    def call(self, op: Op, data: dict[str, Any]) -> Any:
        wait = self._last + self.min_interval_s - time.monotonic()
        if wait > 0:  # a rate limit for targets people share
            time.sleep(wait)
        self._last = time.monotonic()
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _ReadError("read-back deadline passed")
        timeout = min(self.timeout, left)
        try:
            return self.sio.call(
                self.codec.event(op),
                self.codec.encode(op, data),
                namespace=self.codec.namespace,
                timeout=timeout,
            )
        except socketio.exceptions.TimeoutError as exc:
            raise _ReadError(f"{op}: no ack within {timeout:.1f} s") from exc
        except socketio.exceptions.SocketIOError as exc:
            raise _ReadError(f"{op}: {exc}") from exc

    def channel(self, workspace: str, channel: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        joined = self.codec.decode_join(self.call("join", join_payload(channel, 0)))
        if not joined.ok:
            raise _ReadError(_refused("join", joined.error))
        head, truncated, more = joined.head_seq, joined.truncated, joined.more
        messages, last, problem = joined.messages, 0, None
        while True:
            before = last
            for m in messages:
                seq = m.get("seq")
                if not isinstance(seq, int) or isinstance(seq, bool):
                    problem = f"a message without a seq at after_seq {last}"
                    break
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
            if problem or not more:
                break
            if last <= before:
                problem = f"sync after_seq {last} did not advance (more: true, no newer seq)"
                break
            page = self.codec.decode_sync(
                self.call("sync", sync_payload(channel, last, self.limit))
            )
            if not page.ok:
                raise _ReadError(_refused("sync", page.error))
            head = max(head, page.head_seq or 0)
            truncated = truncated or page.truncated
            messages, more = page.messages, page.more
        with contextlib.suppress(_ReadError):  # the log is read; a failed leave changes nothing
            self.call("leave", leave_payload(channel))
        complete = problem is None and last >= head
        return _summary(
            workspace,
            channel,
            head,
            complete,
            truncated,
            None if complete else (problem or f"read {last} of {head}"),
        )


def _refused(op: str, error: Any) -> str:
    code = getattr(error, "code", "error")
    return f"{op}: {code}: {getattr(error, 'message', '')}"[:200]


def _summary(
    ws: str, ch: str, head: int | None, complete: bool, truncated: bool, error: str | None
) -> dict[str, Any]:
    return {
        "workspace": ws,
        "channel": ch,
        "head_seq": head,
        "complete": complete,
        "truncated": truncated,
        "error": error,
    }


def read_back(
    url: str,
    secret: str | None,
    channels: list[tuple[str, str]],
    *,
    limit: int = 500,
    timeout_s: float = 10.0,
    transport: str = "websocket",
    user: str = "pigeon-readback",
    codec: Codec = PIGEON,
    token: TokenFn | None = None,
    deadline_s: float = 300.0,
    max_rate: float | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Read every (workspace, channel) from seq 0 to its head.

    Returns ``(final_log, readback)`` with FINAL_LOG_SCHEMA and READBACK_SCHEMA. A channel
    that could not be read completely has ``complete = False`` and the reason in ``error``;
    nothing is raised for it (the checkers then say ``unknown``). Tokens come from
    ``token(workspace, user)``, or are minted with ``secret``. ``max_rate``: calls per
    second at most (an external target is read gently).
    """
    if token is None:
        if secret is None:
            raise ValueError("read_back needs a secret or a token function")
        key = secret

        def token(ws: str, who: str) -> str:
            return mint_token(key, ws, who)

    by_ws: dict[str, list[str]] = defaultdict(list)
    for ws, ch in channels:
        if ch not in by_ws[ws]:
            by_ws[ws].append(ch)
    deadline = time.monotonic() + deadline_s
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for ws, chs in sorted(by_ws.items()):
        sio = socketio.Client(reconnection=False)
        try:
            sio.connect(
                url,
                auth=codec.auth(token(ws, user)),
                transports=[transport],
                wait_timeout=max(0.1, min(timeout_s, deadline - time.monotonic())),
                **connect_options(codec),
            )
        except (socketio.exceptions.ConnectionError, ValueError) as exc:
            summary += [_summary(ws, ch, None, False, False, f"connect: {exc}"[:200]) for ch in chs]
            continue
        reader = _Reader(
            sio, codec, limit, timeout_s, deadline, 1.0 / max_rate if max_rate else 0.0
        )
        try:
            for ch in chs:
                got: list[dict[str, Any]] = []
                try:
                    summary.append(reader.channel(ws, ch, got))
                except _ReadError as exc:
                    summary.append(_summary(ws, ch, None, False, False, str(exc)))
                rows += got
        finally:
            sio.disconnect()
    final = pa.Table.from_pylist(rows, schema=FINAL_LOG_SCHEMA)
    return final, pa.Table.from_pylist(summary, schema=READBACK_SCHEMA)


def read_back_chat(request: ReadbackRequest) -> Mapping[str, pa.Table]:
    """The chat workload's read-back: every channel of every workspace it can touch (not
    only those its users joined: a message no one should have written shows up too).
    Nothing for a target without a history read."""
    if not request.history:
        return {}
    settings = request.settings
    if isinstance(settings, ChatSettings):
        channels = [
            (ws, ch) for ws in settings.workspace_names() for ch in settings.channel_names()
        ]
    else:
        channels = [(str(ws), str(ch)) for ws, ch in request.summary.get("channels") or []]
    transport = getattr(settings, "transport", "websocket")
    final, rb = read_back(
        request.url,
        None,
        channels,
        transport=str(transport),
        codec=request.codec,
        token=request.token,
        deadline_s=request.deadline_s,
        limit=request.page_size,
        max_rate=request.max_rate,
    )
    return {"final_logs.parquet": final, "readback.parquet": rb}


__all__ = ["read_back", "read_back_chat"]
