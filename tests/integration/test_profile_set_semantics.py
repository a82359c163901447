"""A second profile: chat-lite (other event names and shapes, no seqs, no history) run with
its profile. Set-semantics checks pass on the correct app and fail on a variant that drops
one push in ten (smoke posts ~50 messages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pigeon_lab.run import run_scenario
from tests.apps.harness import chat_lite

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def scenario(url: str, secret: str) -> dict[str, Any]:
    return {
        "target": {"kind": "external", "url": url, "profile": "chat-lite",
                   "token": {"secret": secret}},
        "workload": {"workspaces": 2, "channels_per_workspace": 2, "users": 8,
                     "channels_per_user": 2, "send_rate_per_user": 4, "duration_s": 5,
                     "ramp_s": 1, "quiesce_s": 1},
    }  # fmt: skip


def outcomes(result: Any) -> dict[str, str]:
    return {v.name: str(v.outcome) for v in result.report.verdicts}


def test_the_correct_app_passes_every_check_it_can_feed(tmp_path: Path) -> None:
    with chat_lite(tmp_path / "app") as app:
        result = run_scenario(
            "smoke", out=tmp_path / "runs", overrides=scenario(app.url, app.secret)
        )
    got = outcomes(result)
    assert got == {"delivery": "pass", "isolation": "pass", "slo": "pass"}, got
    delivery = result.report.verdict("delivery")
    assert delivery is not None and "set semantics" in delivery.summary
    assert delivery.counts["required_deliveries"] > 50
    assert result.exit_code == 0


def test_a_variant_that_drops_one_push_in_ten_fails_delivery(tmp_path: Path) -> None:
    with chat_lite(tmp_path / "app", drop_every=10) as app:
        result = run_scenario(
            "smoke", out=tmp_path / "runs", overrides=scenario(app.url, app.secret)
        )
    delivery = result.report.verdict("delivery")
    assert delivery is not None and str(delivery.outcome) == "fail", delivery
    assert delivery.counts["missing"] >= 1 and delivery.counterexamples
    assert result.exit_code == 1
