"""The network faults of the selftest's cases (issue 7), on the ``smoke`` topology.

Plain data (a scenario's ``faults`` entries), kept apart so that ``selftest.py`` stays short.
"""

from __future__ import annotations

from typing import Any

SPLIT_BRAIN: dict[str, Any] = {
    "kind": "partition",
    "target": "grudge",
    "at_s": 2.5,
    "duration_s": 6,
    "params": {
        "mode": "drop",
        "side_a": ["redis-primary"],
        "side_b": ["sentinel-1", "sentinel-2", "sentinel-3", "redis-replica-1", "node-2"],
    },
}
"""The smoke topology's split brain: the primary keeps only node-1, past down-after."""

NODE_2_CUT_OFF: dict[str, Any] = {
    "kind": "partition",
    "target": "grudge",
    "at_s": 3,
    "duration_s": 5,
    "params": {
        "mode": "drop",
        "side_a": ["node-2"],
        "side_b": ["redis-primary", "redis-replica-1", "sentinel-1", "sentinel-2", "sentinel-3"],
    },
}
"""node-2 loses Redis and the Sentinels from 3 s to 8 s (a correct node sheds its clients
after `cutoff_disconnect_s`)."""


def network_cases() -> list[dict[str, Any]]:
    """The network-fault cases (``SelftestCase`` fields), in run order."""
    return [
        {
            "name": "split-brain-fast",
            "flaw": None,
            "overrides": {
                "workload.duration_s": 10,
                "topology.durability": "fast",
                "faults": [SPLIT_BRAIN],
            },
            "expect_fail": frozenset({"durability"}),
            "why": "durability fast, the primary cut off from the Sentinels, the replica and "
            "node-2: node-1 keeps writing to it, acked, and the Sentinels' failover drops those "
            "writes when it is demoted on the heal (Jepsen, Redis Sentinel, 2013)",
        },
        {
            "name": "correct-split-brain",
            "flaw": None,
            "overrides": {
                "workload.duration_s": 10,
                "topology.durability": "replicated",
                "faults": [SPLIT_BRAIN],
            },
            "why": "the same split brain with durability replicated: nothing acked is lost, no "
            "seq is reused (the minority primary's writes are never acked nor read)",
        },
        {
            "name": "ready-when-cut-off",
            "flaw": "ready-when-cut-off",
            "overrides": {
                "workload.duration_s": 10,
                "topology.backend.cutoff_disconnect_s": 2,
                "faults": [NODE_2_CUT_OFF],
            },
            "expect_fail": frozenset({"durability"}),
            "why": "node-2 cut off from Redis but still ready: HAProxy keeps it, its clients "
            "stay, and it acks their sends although it cannot store them",
        },
    ]


__all__ = ["NODE_2_CUT_OFF", "SPLIT_BRAIN", "network_cases"]
