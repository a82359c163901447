"""The load generator against one real backend node: history, delivery order, read-back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from pigeon_lab.history.io import read_history, write_table
from pigeon_lab.history.schema import FINAL_LOG_SCHEMA, HISTORY_SCHEMA, READBACK_SCHEMA
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.launcher import run_load
from pigeon_lab.load.readback import read_back
from tests.integration.backend_harness import SECRET, Lab


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[str]:
    """redis-server + one reference backend node on free loopback ports; killed after."""
    lab = Lab(tmp_path)
    try:
        yield lab.backend(lab.redis().port, name="node-1").url
    finally:
        lab.close()


@pytest.mark.integration
def test_load_records_a_complete_history_and_read_back_has_every_ack(
    backend: str, tmp_path: Path
) -> None:
    config = LoadConfig.build(
        urls=[backend],
        jwt_secret=SECRET,
        workspaces=2,
        channels_per_workspace=3,
        users=6,
        channels_per_user=2,
        send_rate_per_user=2.0,
        ramp_s=1.0,
        duration_s=5.0,
        adversarial_users=1,
        seed=11,
        out_dir=tmp_path / "run",
        send_deadline_ms=5000,
    )
    progress: list[dict[str, object]] = []
    summary = run_load(config, progress.append)
    assert progress and {"elapsed_s", "users", "sends_per_s", "acks", "recv"} <= set(progress[-1])
    assert summary.acks > 0 and summary.recv > 0

    h = read_history(summary.history_path)
    assert list(h.columns) == HISTORY_SCHEMA.names
    kinds = set(h["kind"].astype(str))
    assert {
        "connect",
        "join_ok",
        "send_invoke",
        "send_ok",
        "recv",
        "deliver",
        "adversarial",
    } <= kinds
    assert set(h.loc[h["kind"] == "join_ok", "node"].dropna()) == {"node-1"}
    for (client, channel), g in h[h["kind"] == "deliver"].groupby(["client", "channel"]):
        seqs = g["seq"].astype(int).tolist()
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (client, channel)
    adv = h[h["kind"] == "adversarial"].set_index("detail")["error"].to_dict()
    assert adv["forged_token"] == "unauthorized" and adv["expired_token"] == "expired"
    assert adv["oversized_body"] == "too_large" and adv["sender_spoof"] == "ignored"

    final, rb = read_back(backend, SECRET, summary.channels)
    assert final.schema.equals(FINAL_LOG_SCHEMA) and rb.schema.equals(READBACK_SCHEMA)
    assert all(rb.column("complete").to_pylist())
    write_table(final, tmp_path / "final_logs.parquet")
    log = {(r["workspace"], r["channel"], r["seq"]): r for r in final.to_pylist()}
    acked = h[h["kind"] == "send_ok"]
    for _, row in acked.iterrows():
        entry = log[(row["workspace"], row["channel"], int(row["seq"]))]
        assert entry["client_msg_id"] == row["client_msg_id"] and entry["msg_id"] == row["msg_id"]
        assert entry["body_hash"] == row["body_hash"]


@pytest.mark.integration
@pytest.mark.parametrize(
    "transport,client", [("polling", "auto"), ("websocket", "python-socketio")]
)
def test_the_python_socketio_path_still_works(
    backend: str,
    tmp_path: Path,
    transport: Literal["websocket", "polling"],
    client: Literal["auto", "lean", "python-socketio"],
) -> None:
    """Polling (and an explicit python-socketio websocket) go through python-socketio."""
    config = LoadConfig.build(
        urls=[backend],
        jwt_secret=SECRET,
        workspaces=1,
        channels_per_workspace=2,
        users=4,
        channels_per_user=2,
        send_rate_per_user=2.0,
        ramp_s=0.5,
        duration_s=3.0,
        seed=5,
        out_dir=tmp_path / "run",
        send_deadline_ms=5000,
        transport=transport,
        client=client,
    )
    summary = run_load(config)
    assert summary.acks == summary.sends > 0 and summary.send_info == summary.send_fail == 0
    h = read_history(summary.history_path)
    assert (h["kind"] == "recv").sum() > 0
    for _, g in h[h["kind"] == "deliver"].groupby(["client", "channel"]):
        seqs = g["seq"].astype(int).tolist()
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
