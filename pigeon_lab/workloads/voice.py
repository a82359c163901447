"""The voice workload: members of voice rooms negotiate, take turns and come and go.

Its settings are the scenario's ``workload.voice`` section (``VoiceSettings``); its users are
``pigeon_lab.load.voice_member.VoiceMember`` (built by ``pigeon_lab.load.voice_users``); its
read-back (``pigeon_lab.load.voice_readback``) takes every room's final state once everyone
has left. Every member is ``v<i>``; workspaces are named as chat's (``ws<i>``), so a scenario
that runs both puts chat users and voice members in the same tenants.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen
from pigeon_lab.history.voice import VOICE_KINDS
from pigeon_lab.workloads.base import WorkloadKind, register_workload

COUNTERS: tuple[str, ...] = (
    "voice_joins",
    "voice_signals",
    "voice_signal_acks",
    "voice_signal_recv",
    "voice_grants",
    "voice_errors",
)


class VoiceSettings(Frozen):
    """``workload.voice``: rooms, their members and what the members do (rates per second)."""

    workspaces: int = Field(default=1, ge=1, le=100, description="workspaces with voice rooms")
    rooms_per_workspace: int = Field(default=1, ge=1, le=1000, description="rooms in each")
    members_per_room: int = Field(default=8, ge=2, le=64, description="members of each room")
    chairs_per_room: int = Field(default=2, ge=0, description="members with the chair role")
    listeners_per_room: int = Field(default=0, ge=0, description="members who never speak")
    floor_rate: float = Field(
        default=0.15, ge=0, description="floor requests per speaker per second (when idle)"
    )
    talk_s: tuple[float, float] = Field(
        default=(0.4, 1.5), description="how long a holder speaks, drawn in [min, max]"
    )
    chair_rate: float = Field(
        default=0.03, ge=0, description="chair actions (grant to a queued member or revoke)"
    )
    leave_rate: float = Field(default=0.02, ge=0, description="leave and rejoin, per member")
    switch_rate: float = Field(
        default=0.0, ge=0, description="device switches (a second socket supersedes the first)"
    )
    renegotiate_rate: float = Field(
        default=0.03, ge=0, description="renegotiations (ICE restarts) per member"
    )
    glare_ratio: float = Field(
        default=0.3, ge=0, le=1, description="share of new peers the old member also offers to"
    )
    candidates: int = Field(default=2, ge=0, le=20, description="ICE candidates per description")
    stale_probe_ratio: float = Field(
        default=0.2, ge=0, le=1, description="share of releases followed by a stale speaking"
    )
    vanish_ratio: float = Field(
        default=0.0, ge=0, le=1, description="share of lost connections never resumed"
    )
    probes: bool = Field(default=True, description="adversarial probes by one member per room")
    settle_s: float = Field(
        default=4.0, ge=0, description="after the load: time for leases to run out before views"
    )
    ack_timeout_ms: int = Field(default=4000, ge=1, description="a voice op with no ack by then")

    @model_validator(mode="after")
    def _roles_fit(self) -> VoiceSettings:
        low, high = self.talk_s
        if not 0 < low <= high:
            raise FieldProblem(("talk_s",), f"needs 0 < min <= max, got [{low:g}, {high:g}]")
        if self.chairs_per_room + self.listeners_per_room > self.members_per_room:
            raise FieldProblem(
                ("chairs_per_room",),
                f"{self.chairs_per_room} chairs and {self.listeners_per_room} listeners do not "
                f"fit rooms of {self.members_per_room}",
            )
        return self

    @property
    def members(self) -> int:
        return self.workspaces * self.rooms_per_workspace * self.members_per_room

    def workspace_names(self) -> list[str]:
        return [f"ws{i}" for i in range(self.workspaces)]

    def room_names(self) -> list[str]:
        return [f"vr{i}" for i in range(self.rooms_per_workspace)]

    def rooms(self) -> list[tuple[str, str]]:
        """Every (workspace, room) of the plan."""
        return [(ws, r) for ws in self.workspace_names() for r in self.room_names()]


VOICE = register_workload(
    WorkloadKind(
        name="voice",
        help="Voice rooms (protocol voice/1): members join with a role, negotiate with every "
        "peer (perfect negotiation, glare, trickle), take the floor in turn with fencing "
        "tokens, leave and rejoin, switch devices, reconnect and resume. Read-back: every "
        "room's final roster and floor.",
        section="voice",
        settings=VoiceSettings,
        users="pigeon_lab.load.voice_users:user_classes",
        module=__name__,
        count=lambda s: s.members,
        enabled=lambda s: s is not None and s.members > 0,
        counters=COUNTERS,
        read_back="pigeon_lab.load.voice_readback:read_back_voice",
        history_kinds=VOICE_KINDS,
    )
)

__all__ = ["COUNTERS", "VOICE", "VoiceSettings"]
