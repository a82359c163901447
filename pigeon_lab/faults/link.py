"""Link faults: partitions, latency, bandwidth, resets and slow closes on proxied links.

They need the fault proxy, which this version does not have yet: they validate in
scenario files (so that a schedule can be written and checked now) and a run refuses
them before anything starts.
"""

from __future__ import annotations

from pigeon_lab.faults.base import FaultKind, ParamSpec, TargetClass
from pigeon_lab.faults.registry import register_fault_kind

PROXY = "the fault proxy (not available yet)"
LINKY: frozenset[TargetClass] = frozenset({"link", "node"})

PARTITION = register_fault_kind(
    FaultKind(
        "partition",
        "Cut a link (or every link of a node) for duration_s: connections are refused.",
        LINKY,
        window="required",
        needs=PROXY,
    )
)
LATENCY = register_fault_kind(
    FaultKind(
        "latency",
        "Add latency (and jitter) to a link for duration_s.",
        LINKY,
        window="required",
        params=(
            ParamSpec("latency_ms", "int", "added delay in ms", required=True, minimum=0),
            ParamSpec("jitter_ms", "int", "random +/- delay in ms", default=0, minimum=0),
        ),
        needs=PROXY,
    )
)
BANDWIDTH = register_fault_kind(
    FaultKind(
        "bandwidth",
        "Limit a link's bandwidth for duration_s.",
        LINKY,
        window="required",
        params=(ParamSpec("rate_kbps", "int", "bandwidth in KB/s", required=True, minimum=1),),
        needs=PROXY,
    )
)
RESET = register_fault_kind(
    FaultKind(
        "reset",
        "Reset (TCP RST) the connections of a link for duration_s.",
        LINKY,
        window="required",
        params=(ParamSpec("timeout_ms", "int", "delay before the reset", default=0, minimum=0),),
        needs=PROXY,
    )
)
SLOW_CLOSE = register_fault_kind(
    FaultKind(
        "slow-close",
        "Delay the closing of a link's connections for duration_s.",
        LINKY,
        window="required",
        params=(ParamSpec("delay_ms", "int", "close delay in ms", required=True, minimum=0),),
        needs=PROXY,
    )
)

__all__ = ["BANDWIDTH", "LATENCY", "PARTITION", "RESET", "SLOW_CLOSE"]
