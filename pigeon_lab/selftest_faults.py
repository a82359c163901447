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


__all__ = ["NODE_2_CUT_OFF", "SPLIT_BRAIN"]
