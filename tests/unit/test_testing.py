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


def test_the_model_of_a_correct_run_exercises_what_the_checkers_must_tolerate() -> None:
    """Retries answered by dedupe, repaired live gaps, resumes, refusals, the normal close."""
    h, ctx = correct_history(11, clients=5, messages=80, p_disconnect=0.08).build()
    kinds = h["kind"].value_counts()
    assert kinds["send_fail"] >= 1 and kinds["sync_ok"] >= 1
    assert (h["detail"] == "duplicate").any()  # an ack of a retry the server deduped
    assert (h["attempt"] > 1).any()
    resumes = h[(h["kind"] == "join") & h["seq"].notna()]
    assert len(resumes) >= 1
    reasons = set(h.loc[h["kind"] == "disconnect", "error"])
    assert {"transport error", "client disconnect"} <= reasons
    last = h[h["kind"] == "disconnect"].groupby("client")["error"].last()
    assert (last == "client disconnect").all()  # every client ends as the load's users do
    assert h["msg_workspace"].isna().all()  # as the load records today
    assert h.loc[h["kind"] == "deliver", "body_hash"].isna().all()
    assert ctx.final_log is not None  # the server stored each acked send once, nothing unsent
    stored = list(ctx.final_log["client_msg_id"])
    assert len(stored) == len(set(stored))
    assert set(h.loc[h["kind"] == "send_ok", "client_msg_id"]) <= set(stored)
    assert set(stored) <= set(h.loc[h["kind"] == "send_invoke", "client_msg_id"])


def test_with_retention_joins_and_syncs_are_truncated_and_recorded() -> None:
    h, ctx = correct_history(5, clients=4, messages=60, retention=4, p_disconnect=0.1).build()
    assert ((h["kind"] == "join_ok") & (h["detail"] == "truncated")).any()
    assert ctx.readback is not None and bool(ctx.readback["truncated"].any())
    assert ctx.final_log is not None
    per_channel = ctx.final_log.groupby(["workspace", "channel"]).size()
    assert (per_channel <= 4).all()
