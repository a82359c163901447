"""The load's users keep live connections past their tokens' expiry: with `refresh` on the
bundled cluster, and by a deliberate reconnect against a target whose profile lacks the
extension; each renewal is a `token_refresh` row of the history, and no connection is
ended by the node for an expired token."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigeon_lab.cluster import Cluster
from pigeon_lab.history.io import read_history
from pigeon_lab.issuers import IssuerSpec
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.launcher import run_load
from pigeon_lab.protocol.profile import Profile

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _load(cluster: Cluster, out: Path, profile: Profile | None) -> tuple[object, object]:
    config = LoadConfig.build(
        urls=[cluster.info.lb_url],
        jwt_secret=cluster.info.jwt_secret,
        issuer=IssuerSpec(ttl_s=6),  # shorter than the run: every user renews
        profile=profile,
        workspaces=1,
        channels_per_workspace=2,
        users=3,
        channels_per_user=2,
        send_rate_per_user=2.0,
        ramp_s=1.0,
        duration_s=12.0,
        send_deadline_ms=4000,
        ack_timeout_ms=2000,
        seed=5,
        out_dir=out,
    )
    summary = run_load(config)
    return summary, read_history(summary.history_path)


def test_users_refresh_live_connections_before_their_tokens_expire(
    cluster: Cluster, tmp_path: Path
) -> None:
    summary, h = _load(cluster, tmp_path, None)
    kinds = h["kind"].astype(str)
    refreshes = h[kinds == "token_refresh"]
    assert len(refreshes) >= 3 * 2, refreshes  # every user, more than once in 12 s
    assert set(refreshes["detail"]) == {"refresh"} and refreshes["error"].isna().all()
    assert (refreshes["latency_ms"] > 0).all()
    assert (kinds == "connect").sum() == 3  # nobody had to reconnect
    assert "expired" not in set(h.loc[kinds == "disconnect", "error"].dropna())
    assert summary.acks > 0 and summary.send_fail == 0  # type: ignore[attr-defined]


def test_a_target_without_the_extension_gets_a_reconnect_with_a_fresh_token(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The same protocol, but a profile that does not claim `token_refresh`."""
    summary, h = _load(cluster, tmp_path, Profile(name="no-refresh"))
    kinds = h["kind"].astype(str)
    refreshes = h[kinds == "token_refresh"]
    assert len(refreshes) >= 3 and set(refreshes["detail"]) == {"reconnect"}, refreshes
    connects = int((kinds == "connect").sum())
    assert 3 < connects <= 3 + len(refreshes)  # a reconnect for each renewal (none after the end)
    assert "expired" not in set(h.loc[kinds == "disconnect", "error"].dropna())
    assert (kinds == "connect_error").sum() == 0
    assert summary.acks > 0  # type: ignore[attr-defined]
