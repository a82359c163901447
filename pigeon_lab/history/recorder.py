"""A cheap, append-only history recorder: one tuple per event, converted to Arrow at the end.

``record`` costs one ``monotonic_ns``, one ``time_ns`` and one tuple append; all
conversion happens in ``to_table``. Not thread-safe by design: under gevent a
process shares one recorder among its greenlets (cooperative, no locks needed).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pyarrow as pa

from pigeon_lab.history.schema import HISTORY_SCHEMA, Kind

# Column order after (t, wall): must match HISTORY_SCHEMA.
_FIELDS = HISTORY_SCHEMA.names


def body_hash(body: str) -> str:
    """The hash of a message body used in every history and final log (blake2b, 8 bytes, hex)."""
    return hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


class Recorder:
    """Collects history rows in memory; ``to_table`` gives a HISTORY_SCHEMA table."""

    __slots__ = ("rows", "enabled")

    def __init__(self, enabled: bool = True) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.enabled = enabled

    def record(
        self,
        kind: Kind | str,
        client: str,
        user: str | None = None,
        workspace: str | None = None,
        node: str | None = None,
        channel: str | None = None,
        client_msg_id: str | None = None,
        seq: int | None = None,
        msg_id: str | None = None,
        sender: str | None = None,
        msg_workspace: str | None = None,
        body_hash: str | None = None,
        attempt: int | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
        sent_wall: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one event, stamped with ``monotonic_ns`` and ``time_ns``."""
        if self.enabled:
            self.rows.append((time.monotonic_ns(), time.time_ns(), client, user, workspace, node,
                              str(kind), channel, client_msg_id, seq, msg_id, sender,
                              msg_workspace, body_hash, attempt, latency_ms, error, sent_wall, detail))

    def __len__(self) -> int:
        return len(self.rows)

    def take(self) -> list[tuple[Any, ...]]:
        """Remove and return every row recorded so far."""
        rows, self.rows = self.rows, []
        return rows

    def to_table(self) -> pa.Table:
        """The rows so far as a table with HISTORY_SCHEMA (rows stay in the recorder)."""
        return rows_to_table(self.rows)


def rows_to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Convert recorder tuples (in HISTORY_SCHEMA column order) to a table."""
    columns = list(zip(*rows)) if rows else [() for _ in _FIELDS]
    arrays = []
    for name, values in zip(_FIELDS, columns):
        f = HISTORY_SCHEMA.field(name)
        if pa.types.is_dictionary(f.type):
            arr = pa.array(values, type=pa.string()).dictionary_encode()
            arrays.append(arr.cast(f.type))
        else:
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=HISTORY_SCHEMA)
