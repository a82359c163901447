from __future__ import annotations

import pandas as pd

from pigeon_lab.history.schema import HISTORY_COLUMNS
from pigeon_lab.testing import HistoryBuilder, correct_history, empty, indefinite, with_duplicates


def test_builder_rows_follow_the_schema_and_the_clock() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general", head_seq=3)
    h, ctx = b.send("c1", "general", "m1", seq=4).build()
    assert list(h.columns) == list(HISTORY_COLUMNS)
    assert list(h["kind"]) == ["connect", "join", "join_ok", "send_invoke", "send_ok"]
    assert h["t"].is_monotonic_increasing and h["workspace"].eq("acme").all()
    assert h.loc[2, "seq"] == 3 and bool(h["seq"].isna().iloc[1])
    assert ctx.final_log is not None and list(ctx.final_log["seq"]) == [4]
    assert ctx.readback is not None and bool(ctx.readback["complete"].all())


def test_message_fields_are_filled_from_what_was_sent() -> None:
    b = HistoryBuilder().connect("c1", "alice", "acme").join("c1", "general")
    h, _ = b.send("c1", "general", "m1", seq=1).recv("c1", "general", 1).build()
    r = h.iloc[-1]
    assert (r["client_msg_id"], r["sender"], r["msg_workspace"]) == ("m1", "alice", "acme")
    assert r["msg_id"] == h.iloc[-2]["msg_id"]


def test_fixtures_and_generator() -> None:
    assert len(empty()[0]) == 0
    assert (with_duplicates()[0]["kind"] == "recv").sum() == 3
    assert (indefinite()[0]["kind"] == "send_info").sum() == 1
    a, _ = correct_history(3).build()
    b, _ = correct_history(3).build()
    pd.testing.assert_frame_equal(a, b)
    kinds = set(correct_history(5, messages=200).build()[0]["kind"])
    assert {"recv", "deliver", "sync_ok", "disconnect", "send_ok"} <= kinds
