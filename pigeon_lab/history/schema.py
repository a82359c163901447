"""History schema, version 1: one row per client event (see invariants.md).

Every simulated client appends rows; the run writes them to ``history.parquet``.
The quiescent read-back writes ``final_logs.parquet`` with FINAL_LOG_SCHEMA.
Columns that do not apply to a row are null. ``t`` is ``time.monotonic_ns()``
(one clock for every local process on Linux); ``wall`` is ``time.time_ns()``
for runs spread over machines.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

HISTORY_SCHEMA_VERSION = 1


class Kind(StrEnum):
    """What happened. Operations end ``*_ok`` (done), ``*_fail`` (definitely not done)
    or ``send_info`` (outcome unknown)."""

    CONNECT = "connect"
    CONNECT_ERROR = "connect_error"
    DISCONNECT = "disconnect"
    JOIN = "join"
    JOIN_OK = "join_ok"
    JOIN_FAIL = "join_fail"
    LEAVE = "leave"
    SEND_INVOKE = "send_invoke"
    SEND_OK = "send_ok"
    SEND_FAIL = "send_fail"
    SEND_INFO = "send_info"
    RECV = "recv"
    SYNC_OK = "sync_ok"
    DELIVER = "deliver"
    ADVERSARIAL = "adversarial"  # an attack attempt; `error` holds the refusal code or "accepted"
    TOKEN_REFRESH = "token_refresh"  # a live connection's token renewed; `detail`: how


KINDS: tuple[str, ...] = tuple(k.value for k in Kind)

# `kind` is stored dictionary-encoded; strings repeat a lot.
HISTORY_SCHEMA = pa.schema(
    [
        pa.field("t", pa.int64(), nullable=False),
        pa.field("wall", pa.int64(), nullable=False),
        pa.field("client", pa.string(), nullable=False),
        pa.field("user", pa.string()),
        pa.field("workspace", pa.string()),
        pa.field("node", pa.string()),
        pa.field("kind", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("client_msg_id", pa.string()),
        pa.field("seq", pa.int64()),
        pa.field("msg_id", pa.string()),
        pa.field("sender", pa.string()),
        pa.field("msg_workspace", pa.string()),  # workspace the event claims to be of, when known
        pa.field("body_hash", pa.string()),
        pa.field("attempt", pa.int32()),
        pa.field("latency_ms", pa.float64()),
        pa.field("error", pa.string()),
        pa.field("sent_wall", pa.int64()),  # for recv/deliver: the server ts (ms) of the message
        pa.field("detail", pa.string()),  # adversarial: the attack's name; otherwise a free note
    ],
    metadata={"pigeon_lab.history_version": str(HISTORY_SCHEMA_VERSION)},
)

HISTORY_COLUMNS: tuple[str, ...] = tuple(HISTORY_SCHEMA.names)

FINAL_LOG_SCHEMA = pa.schema(
    [
        pa.field("workspace", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("msg_id", pa.string()),
        pa.field("client_msg_id", pa.string()),
        pa.field("sender", pa.string()),
        pa.field("body_hash", pa.string()),
        pa.field("ts", pa.int64()),
    ],
    metadata={"pigeon_lab.history_version": str(HISTORY_SCHEMA_VERSION)},
)

# One row per channel read back: its head and whether the read-back completed.
READBACK_SCHEMA = pa.schema(
    [
        pa.field("workspace", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("head_seq", pa.int64()),
        pa.field("complete", pa.bool_(), nullable=False),
        pa.field("truncated", pa.bool_(), nullable=False),
        pa.field("error", pa.string()),
    ]
)
