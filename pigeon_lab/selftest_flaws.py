"""The selftest cases of the flaws in reference_backend/flaw_hooks.py (issue 8), as plain
``SelftestCase`` fields, kept apart so that ``selftest.py`` stays short."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ONE_NODE_BLIP: dict[str, Any] = {
    "topology.nodes": 3,
    "topology.load_balancer": "none",
    "workload.duration_s": 10,
    "faults": [{"kind": "kill", "target": "node-1", "at_s": 4, "duration_s": 0.5}],
}
"""Without a load balancer user i is on node i % 3, so each workspace has a user on node-1
(u0, u3): killing it for a moment makes those two miss messages the others sent, and resume.
The kill leaves 7 s of load: a busy machine restarts the node in up to ~2 s, and a client's
reconnect backoff (full jitter, capped at 5 s) must still bring it back before the end."""

RECONNECTS = {"slo.reconnects": 1}


def _flaw(
    flaw: str, over: Mapping[str, Any], fail: str, why: str, needs: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """A case named after its flaw; ``fail``: the checkers that must fail, space-separated."""
    return {
        "name": flaw,
        "flaw": flaw,
        "overrides": dict(over),
        "expect_fail": frozenset(fail.split()),
        "why": why,
        "requires": dict(needs or {}),
    }


def hook_flaw_cases() -> list[dict[str, Any]]:
    """One case per hooked flaw, under the conditions that expose it."""
    # fmt: off
    return [
        _flaw("phantom-message", {}, "order isolation", "a message no client sent is stored "
              "and pushed, its sender a user of no workspace"),
        _flaw("forged-push", {}, "order", "one push in five carries another body than the "
              "stored one"),
        _flaw("drop-tail-push", {"workload.catch_up": False, "checks.settle_ms": 1000}, "gaps",
              "a room's pushes stop 2 s after they start; users close without a last sync, so "
              "what others sent after a user's own last send never reaches it"),
        _flaw("stale-sync", {**ONE_NODE_BLIP, "workload.quiesce_s": 10.5,
                             "checks.settle_ms": 1000},
              "gaps", "history reads lag 10 s: the users node-1 dropped resume into a past that "
              "lacks what they missed (the quiet before the read-back lets it catch up)",
              RECONNECTS),
        _flaw("leak-one-push", {"topology.nodes": 1}, "isolation", "one push in ten also "
              "reaches the same channel of another workspace (one node hosts both workspaces' "
              "rooms)"),
        _flaw("ghost-member", {"workload.adversarial_users": 1}, "isolation", "a leave is "
              "acked but the room keeps the connection: the adversary, still connected, gets "
              "its pushes", {"isolation.adversarial": 1}),
        _flaw("lost-on-reconnect", {**ONE_NODE_BLIP, "workload.send_rate_per_user": 2.0},
              "delivery", "a resuming join leaves out the first message it owes and calls it "
              "truncated; the final log still holds it", RECONNECTS),
    ]
    # fmt: on


__all__ = ["ONE_NODE_BLIP", "RECONNECTS", "hook_flaw_cases"]
