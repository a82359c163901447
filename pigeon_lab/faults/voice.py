"""Voice faults: kill the node that serves a voice room's floor holder.

``kill-floor-holder`` looks up, at the moment it strikes, which node holds the socket of the
member who has the floor (the room's state in Redis, ``voice:{<ws>/<room>}``), and kills that
node; when no room has a holder then, the node serving the most members; the scenario's
``target`` only when there is no member at all. With
``duration_s`` the node is started again at the end of the window. The node it killed is the
fault's target in ``faults.json`` and the report (``Heal.target``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis

from pigeon_lab.faults.base import FaultEnv, FaultKind, ParamSpec, PlannedFault
from pigeon_lab.faults.registry import register_fault_kind


@dataclass
class RestartNode:
    """The heal of a node kill, naming the node it acts on."""

    env: FaultEnv
    target: str
    restart: bool

    def __call__(self) -> None:
        if self.restart:
            self.env.cluster.restart(self.target)


def holder_node(primary: str, room: str = "", login: Any = None) -> str | None:
    """The node serving a floor holder (of ``room``, a ``<ws>/<room>`` id, or of any room);
    when no room has a holder, the node serving the most members; None without members.
    ``login``: the cluster's admin user, a ``Login`` (the bundled Redis refuses anonymous
    clients; the type is not imported: faults do not depend on the cluster package)."""
    host, _, port = primary.rpartition(":")
    client = redis.Redis(
        host=host or "127.0.0.1",
        port=int(port),
        socket_timeout=2.0,
        decode_responses=True,
        username=getattr(login, "username", None),
        password=getattr(login, "password", None),
    )
    try:
        rooms = sorted(str(x) for x in client.smembers("voice:rooms"))
        served: Counter[str] = Counter()
        for rid in [r for r in rooms if not room or r == room]:
            base = f"voice:{{{rid}}}"
            holder = client.hget(f"{base}:floor", "holder")
            entries = {str(k): str(e) for k, e in client.hgetall(f"{base}:m").items()}
            nodes = {m: json.loads(e).get("node") for m, e in entries.items()}
            if holder and isinstance(nodes.get(str(holder)), str):
                return str(nodes[str(holder)])
            served.update(n for n in nodes.values() if isinstance(n, str))
        return served.most_common(1)[0][0] if served else None
    finally:
        client.close()


def _kill_holder(env: FaultEnv, fault: PlannedFault) -> RestartNode:
    info = getattr(env.cluster, "info", None)
    primary = getattr(info, "redis_primary", None)
    node = None
    if isinstance(primary, str) and primary:
        login = getattr(env.cluster, "admin_login", None)
        node = holder_node(primary, str(fault.params.get("room") or ""), login)
    target = node or fault.target
    env.cluster.kill(target)
    return RestartNode(env, target, fault.duration_s is not None)


KILL_FLOOR_HOLDER = register_fault_kind(
    FaultKind(
        "kill-floor-holder",
        "SIGKILL the node that serves a voice room's floor holder (looked up when it strikes; "
        "else the node serving the most members; target: when there is no member); with "
        "duration_s it is started again at the end of the window.",
        frozenset({"node"}),
        window="optional",
        inject=_kill_holder,
        params=(ParamSpec("room", "str", "a room as <workspace>/<room> (default: any room)"),),
        label=lambda f: "kill floor holder's node",
    )
)

__all__ = ["KILL_FLOOR_HOLDER", "RestartNode", "holder_node"]
