"""Process faults: kill, pause, restart and drain a supervised process by name."""

from __future__ import annotations

from pigeon_lab.faults.base import PROCESS_TARGETS, FaultEnv, FaultKind, Heal, PlannedFault
from pigeon_lab.faults.registry import register_fault_kind


def _kill(env: FaultEnv, fault: PlannedFault) -> Heal:
    env.cluster.kill(fault.target)
    return lambda: env.cluster.restart(fault.target)


def _pause(env: FaultEnv, fault: PlannedFault) -> Heal:
    env.cluster.pause(fault.target)
    return lambda: env.cluster.resume(fault.target)


def _restart(env: FaultEnv, fault: PlannedFault) -> Heal:
    env.cluster.restart(fault.target)
    return lambda: None


def _drain(env: FaultEnv, fault: PlannedFault) -> Heal:
    env.cluster.drain(fault.target)
    return lambda: env.cluster.restart(fault.target)


KILL = register_fault_kind(
    FaultKind(
        "kill",
        "SIGKILL a process; with duration_s it is started again at the end of the window, "
        "otherwise it stays down until the load ends.",
        PROCESS_TARGETS,
        window="optional",
        inject=_kill,
    )
)
PAUSE = register_fault_kind(
    FaultKind(
        "pause",
        "SIGSTOP a process for duration_s, then SIGCONT (clients see a hung peer).",
        PROCESS_TARGETS,
        window="required",
        inject=_pause,
    )
)
RESTART = register_fault_kind(
    FaultKind(
        "restart",
        "Kill a process and start it again at once (a crash and a fast restart).",
        PROCESS_TARGETS,
        window="none",
        inject=_restart,
    )
)
DRAIN = register_fault_kind(
    FaultKind(
        "drain",
        "SIGTERM a backend node (graceful drain: readiness 503, clients disconnected); "
        "with duration_s it is started again at the end of the window.",
        frozenset({"node"}),
        window="optional",
        inject=_drain,
    )
)

__all__ = ["DRAIN", "KILL", "PAUSE", "RESTART"]
