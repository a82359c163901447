"""The recorder's table and the Parquet round trip."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from pigeon_lab.errors import ReportError
from pigeon_lab.history.io import read_final_log, read_history, read_readback, write_table
from pigeon_lab.history.recorder import Recorder, body_hash, cached_body_hash
from pigeon_lab.history.schema import FINAL_LOG_SCHEMA, HISTORY_SCHEMA, READBACK_SCHEMA, Kind


def test_table_has_the_history_schema_and_monotonic_time() -> None:
    r = Recorder()
    r.record(Kind.SEND_INVOKE, "c1", "u1", "ws0", channel="general", client_msg_id="x", attempt=1)
    r.record(Kind.SEND_OK, "c1", "u1", "ws0", "node-1", "general", "x", 1, "m1", latency_ms=2.5)
    r.record("recv", "c2", seq=1, sent_wall=123)
    t = r.to_table()
    assert t.schema.equals(HISTORY_SCHEMA, check_metadata=True)
    assert t.num_rows == 3
    ts = t.column("t").to_pylist()
    assert ts == sorted(ts)
    assert t.column("kind").to_pylist() == ["send_invoke", "send_ok", "recv"]


def test_empty_and_disabled_recorders() -> None:
    assert Recorder().to_table().schema.equals(HISTORY_SCHEMA)
    off = Recorder(enabled=False)
    off.record(Kind.RECV, "c")
    assert len(off) == 0


def test_round_trip_through_parquet(tmp_path: Path) -> None:
    r = Recorder()
    r.record(
        Kind.DELIVER,
        "c1",
        "u1",
        "ws0",
        channel="general",
        seq=7,
        msg_id="m7",
        body_hash=body_hash("hello"),
    )
    r.record(Kind.ADVERSARIAL, "a1", error="unauthorized", detail="forged_token")
    path = write_table(r.to_table(), tmp_path / "h" / "history.parquet")
    df = read_history(path)
    assert list(df.columns) == HISTORY_SCHEMA.names
    assert df.loc[0, "seq"] == 7 and df.loc[0, "body_hash"] == body_hash("hello")
    assert df.loc[1, "detail"] == "forged_token"
    assert str(df.loc[1, "kind"]) == "adversarial"


def test_final_log_and_readback_round_trip(tmp_path: Path) -> None:
    final = pa.Table.from_pylist(
        [
            {
                "workspace": "ws0",
                "channel": "c",
                "seq": 1,
                "msg_id": "m",
                "client_msg_id": "x",
                "sender": "u",
                "body_hash": "h",
                "ts": 1,
            }
        ],
        schema=FINAL_LOG_SCHEMA,
    )
    rb = pa.Table.from_pylist(
        [
            {
                "workspace": "ws0",
                "channel": "c",
                "head_seq": 1,
                "complete": True,
                "truncated": False,
                "error": None,
            }
        ],
        schema=READBACK_SCHEMA,
    )
    assert read_final_log(write_table(final, tmp_path / "f.parquet")).loc[0, "seq"] == 1
    assert bool(read_readback(write_table(rb, tmp_path / "r.parquet")).loc[0, "complete"])


def test_reading_a_missing_file_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError):
        read_history(tmp_path / "nope.parquet")


def test_body_hash_is_short_and_stable() -> None:
    assert body_hash("a") == body_hash("a") != body_hash("b")
    assert len(body_hash("a")) == 16


def test_recv_deliver_becomes_a_recv_and_a_deliver_row_in_time_order() -> None:
    r = Recorder()
    m = {
        "channel": "general",
        "seq": 3,
        "id": "m3",
        "client_msg_id": "x3",
        "sender": "u2",
        "body": "b",
        "ts": 99,
    }
    r.record(Kind.JOIN_OK, "c1", "u1", "ws0", "node-1", channel="general", seq=2)
    t_recv, wall_recv = time.monotonic_ns(), time.time_ns()
    r.recv_deliver(
        t_recv, wall_recv, "c1", "u1", "ws0", "node-1", "general", m, "h3", "general", 1.5
    )
    r.message("sync_ok", "c1", "u1", "ws0", "node-1", "general", {**m, "seq": 4}, "h4")
    assert len(r) == 4
    t = r.to_table()
    assert t.schema.equals(HISTORY_SCHEMA)
    rows = t.to_pylist()
    assert [x["kind"] for x in rows] == ["join_ok", "recv", "deliver", "sync_ok"]
    assert [x["t"] for x in rows] == sorted(x["t"] for x in rows)
    recv, deliver = rows[1], rows[2]
    assert (recv["t"], recv["wall"]) == (t_recv, wall_recv)
    for row in (recv, deliver):
        assert (
            row["client"],
            row["channel"],
            row["seq"],
            row["msg_id"],
            row["client_msg_id"],
            row["sender"],
            row["sent_wall"],
            row["node"],
        ) == ("c1", "general", 3, "m3", "x3", "u2", 99, "node-1")
    assert (recv["body_hash"], recv["latency_ms"]) == ("h3", None)
    assert (deliver["body_hash"], deliver["latency_ms"]) == ("h3", 1.5)  # names it without ids
    assert rows[3]["seq"] == 4 and rows[3]["body_hash"] == "h4"
    assert r.take_table().num_rows == 4 and len(r) == 0


def test_cached_body_hash_equals_body_hash() -> None:
    assert cached_body_hash("hello") == body_hash("hello") == cached_body_hash("hello")
