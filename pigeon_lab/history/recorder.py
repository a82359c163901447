"""A cheap, append-only history recorder: one tuple per event, converted to Arrow at the end.

``record`` costs one ``monotonic_ns``, one ``time_ns`` and one tuple append; all
conversion happens in ``to_table``. ``message`` is the positional fast path of the
per-message rows (``recv``, ``deliver``, ``sync_ok``); ``recv_deliver`` stores a live
message delivered at once (the common case) as one entry that becomes its ``recv`` and
``deliver`` rows at conversion, each with its own time stamps (both carry the body's
hash: it names a message on targets that echo no ids). Rows come out in the order
of their ``t`` (``monotonic_ns``), which is the order they were recorded in.
Not thread-safe by design: under gevent a process shares one recorder among its
greenlets (cooperative, no locks needed).
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pigeon_lab.history.schema import HISTORY_SCHEMA, Kind

# Column order after (t, wall): must match HISTORY_SCHEMA.
_FIELDS = HISTORY_SCHEMA.names
_intern = sys.intern
_mono_ns = time.monotonic_ns
_time_ns = time.time_ns
_blake2b = hashlib.blake2b


def body_hash(body: str) -> str:
    """The hash of a message body used in every history and final log (blake2b, 8 bytes, hex)."""
    return _blake2b(body.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


_HASH_CACHE: dict[str, str] = {}
_HASH_CACHE_MAX = 1 << 16


def cached_body_hash(body: str) -> str:
    """``body_hash`` through a bounded cache keyed by the body itself: the same message
    reaches many clients of a process (each with its own copy of the body)."""
    h = _HASH_CACHE.get(body)
    if h is None:
        if len(_HASH_CACHE) >= _HASH_CACHE_MAX:
            _HASH_CACHE.clear()
        h = _HASH_CACHE[body] = body_hash(body)
    return h


class Recorder:
    """Collects history rows in memory; ``to_table`` gives a HISTORY_SCHEMA table."""

    __slots__ = ("_pairs", "_rows", "enabled")

    def __init__(self, enabled: bool = True) -> None:
        self._rows: list[Any] = []  # _ROW fields per row, HISTORY_SCHEMA order
        self._pairs: list[Any] = []  # _PAIR fields per recv_deliver entry
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
            self._rows.extend(
                (
                    _mono_ns(),
                    _time_ns(),
                    client,
                    user,
                    workspace,
                    node,
                    str(kind),
                    channel,
                    client_msg_id,
                    seq,
                    msg_id,
                    sender,
                    msg_workspace,
                    body_hash,
                    attempt,
                    latency_ms,
                    error,
                    sent_wall,
                    detail,
                )
            )

    def message(
        self,
        kind: str,
        client: str,
        user: str | None,
        workspace: str | None,
        node: str | None,
        channel: Any,
        m: dict[str, Any],
        body_hash: str | None = None,
        latency_ms: float | None = None,
        detail: str | None = None,
    ) -> None:
        """The hot path of ``recv``/``deliver``/``sync_ok`` rows: the message's fields from ``m``
        (``client_msg_id``, ``seq``, ``id``, ``sender``, ``workspace`` as ``msg_workspace``,
        ``ts`` as ``sent_wall``), positional.

        Ids and senders are interned: the same message reaches many clients of a process, and
        each decode makes new strings; the history then holds one copy of each.
        """
        if self.enabled:
            get = m.get
            cmid, mid, sender = get("client_msg_id"), get("id"), get("sender")
            if cmid.__class__ is str:
                cmid = _intern(cmid)
            if mid.__class__ is str:
                mid = _intern(mid)
            if sender.__class__ is str:
                sender = _intern(sender)
            mws = get("workspace")
            if mws.__class__ is str:
                mws = _intern(mws)
            self._rows.extend(
                (
                    _mono_ns(),
                    _time_ns(),
                    client,
                    user,
                    workspace,
                    node,
                    kind,
                    channel,
                    cmid,
                    get("seq"),
                    mid,
                    sender,
                    mws,
                    body_hash,
                    None,
                    latency_ms,
                    None,
                    get("ts"),
                    detail,
                )
            )

    def recv_deliver(
        self,
        t_ns: int,
        wall_ns: int,
        client: str,
        user: str | None,
        workspace: str | None,
        node: str | None,
        channel: Any,
        m: dict[str, Any],
        body_hash: str | None,
        deliver_channel: str,
        latency_ms: float | None,
    ) -> None:
        """A live message received at (``t_ns``, ``wall_ns``) and delivered now: its ``recv``
        row (with ``body_hash``) and its ``deliver`` row (with ``latency_ms``), as one entry."""
        if self.enabled:
            get = m.get
            cmid, mid, sender = get("client_msg_id"), get("id"), get("sender")
            if cmid.__class__ is str:
                cmid = _intern(cmid)
            if mid.__class__ is str:
                mid = _intern(mid)
            if sender.__class__ is str:
                sender = _intern(sender)
            mws = get("workspace")
            if mws.__class__ is str:
                mws = _intern(mws)
            self._pairs.extend(
                (
                    t_ns,
                    wall_ns,
                    _mono_ns(),
                    _time_ns(),
                    client,
                    user,
                    workspace,
                    node,
                    channel,
                    cmid,
                    get("seq"),
                    mid,
                    sender,
                    mws,
                    body_hash,
                    deliver_channel,
                    latency_ms,
                    get("ts"),
                )
            )

    def __len__(self) -> int:
        return len(self._rows) // _ROW + 2 * (len(self._pairs) // _PAIR)

    def to_table(self) -> pa.Table:
        """The rows so far as a HISTORY_SCHEMA table in the order of ``t`` (rows stay here)."""
        rows, pairs = self._rows, self._pairs
        parts = [columns_to_table([rows[j::_ROW] for j in range(_ROW)])] if rows else []
        if pairs:
            (
                t0,
                w0,
                t1,
                w1,
                client,
                user,
                ws,
                node,
                ch,
                cmid,
                seq,
                mid,
                sender,
                mws,
                bh,
                dch,
                lat,
                ts,
            ) = (pairs[j::_PAIR] for j in range(_PAIR))
            none = [None] * len(t0)
            parts.append(
                columns_to_table(
                    [
                        t0,
                        w0,
                        client,
                        user,
                        ws,
                        node,
                        [_RECV] * len(t0),
                        ch,
                        cmid,
                        seq,
                        mid,
                        sender,
                        mws,
                        bh,
                        none,
                        none,
                        none,
                        ts,
                        none,
                    ]
                )
            )
            parts.append(
                columns_to_table(
                    [
                        t1,
                        w1,
                        client,
                        user,
                        ws,
                        node,
                        [_DELIVER] * len(t1),
                        dch,
                        cmid,
                        seq,
                        mid,
                        sender,
                        mws,
                        bh,
                        none,
                        lat,
                        none,
                        ts,
                        none,
                    ]
                )
            )
        if len(parts) <= 1:
            return parts[0] if parts else rows_to_table([])
        table = pa.concat_tables(parts).unify_dictionaries().combine_chunks()
        return table.take(pc.sort_indices(table, sort_keys=[("t", "ascending")]))  # stable

    def take_table(self) -> pa.Table:
        """``to_table()``, then forget the rows."""
        table = self.to_table()
        self._rows, self._pairs = [], []
        return table


_ROW = len(_FIELDS)
_PAIR = 18
_RECV, _DELIVER = str(Kind.RECV), str(Kind.DELIVER)


def rows_to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Convert row tuples (in HISTORY_SCHEMA column order) to a table."""
    return columns_to_table(list(zip(*rows, strict=False)) if rows else [() for _ in _FIELDS])


def columns_to_table(columns: Sequence[Sequence[Any]]) -> pa.Table:
    """Convert columns (in HISTORY_SCHEMA order) to a table."""
    arrays = []
    for name, values in zip(_FIELDS, columns, strict=False):
        f = HISTORY_SCHEMA.field(name)
        if pa.types.is_dictionary(f.type):
            arr = pa.array(values, type=pa.string()).dictionary_encode()
            arrays.append(arr.cast(f.type))
        else:
            arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=HISTORY_SCHEMA)
