"""The voice workload's plan: which member is in which workspace and room, with which role.

Pure and seeded: member ``i`` is ``v<i>``, rooms fill one after the other, the first
``chairs_per_room`` members of a room are chairs and the last ``listeners_per_room`` are
listeners; member ``i`` draws its choices from ``Random(seed * 7919 + i)``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pigeon_lab.workloads.voice import VoiceSettings


@dataclass(frozen=True)
class MemberPlan:
    """The choices of one voice member."""

    index: int
    member: str
    workspace: str
    room: str
    role: str
    url: str
    seed: int
    probes: bool  # this member runs the adversarial probes of its room

    def rng(self) -> random.Random:
        return random.Random(self.seed * 7919 + self.index)


def plan_member(settings: VoiceSettings, urls: list[str], seed: int, index: int) -> MemberPlan:
    """Member ``index`` of the plan (``index`` < ``settings.members``)."""
    per_room = settings.members_per_room
    room_no, slot = divmod(index, per_room)
    ws_no, room_in_ws = divmod(room_no, settings.rooms_per_workspace)
    if slot < settings.chairs_per_room:
        role = "chair"
    elif slot >= per_room - settings.listeners_per_room:
        role = "listener"
    else:
        role = "speaker"
    return MemberPlan(
        index,
        f"v{index}",
        settings.workspace_names()[ws_no % settings.workspaces],
        settings.room_names()[room_in_ws],
        role,
        urls[index % len(urls)],
        seed,
        settings.probes and slot == per_room - 1,
    )


def members_of_workspace(settings: VoiceSettings, workspace: str) -> list[str]:
    """The member ids the plan puts in ``workspace`` (a probe signals one of another)."""
    per_ws = settings.rooms_per_workspace * settings.members_per_room
    ws_no = settings.workspace_names().index(workspace)
    return [f"v{i}" for i in range(ws_no * per_ws, (ws_no + 1) * per_ws)]


__all__ = ["MemberPlan", "members_of_workspace", "plan_member"]
