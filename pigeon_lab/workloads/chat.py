"""The chat workload: users in workspaces join channels, send, and deliver in order.

Its settings are the top-level fields of a scenario's ``workload`` (``ChatSettings``);
its users are ``pigeon_lab.load.user.ChatUser`` and, with ``adversarial_users``,
``pigeon_lab.load.adversary.AdversaryUser``; its read-back is the quiescent read of
every channel's final log (``pigeon_lab.load.readback``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen
from pigeon_lab.workloads.base import WorkloadKind, register_workload

MIN_BODY_BYTES = 24
"""A body starts with its send time (for delivery latency), so it needs this much room."""

COUNTERS: tuple[str, ...] = ("sends", "acks", "send_fail", "send_info", "recv", "deliver", "errors")
"""What a chat load process counts (its progress lines sum them)."""


class ChatSettings(Frozen):
    """The chat users and what they do (the top-level fields of ``workload``)."""

    workspaces: int = Field(default=2, ge=1, le=10000, description="workspaces (tenants)")
    channels_per_workspace: int = Field(default=4, ge=1, le=10000, description="channels in each")
    users: int = Field(
        default=20, ge=0, description="simulated users, spread over the workspaces (0: no chat)"
    )
    channels_per_user: int = Field(default=2, ge=1, description="channels each user joins")
    channel_skew: float = Field(
        default=0.0,
        ge=0,
        le=5,
        description="zipf-like exponent of channel popularity (0 = uniform)",
    )
    send_rate_per_user: float = Field(default=0.5, ge=0, description="messages per second per user")
    body_bytes: int | tuple[int, int] = Field(
        default=100, description="body size in bytes, or [min, max] drawn uniformly"
    )
    adversarial_users: int = Field(
        default=0,
        ge=0,
        description="extra users running adversarial clients (forged fields, cross-tenant)",
    )
    duplicate_send_ratio: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="share of acked sends sent once more with the same client_msg_id and body, "
        "as a client whose ack was lost would (exercises idempotence)",
    )
    catch_up: bool = Field(
        default=True,
        description="at the end every user syncs its channels once before it disconnects; "
        "false: users just close, as an app does (a lost last push then stays lost)",
    )

    @field_validator("body_bytes", mode="before")
    @classmethod
    def _body_shape(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected an integer or [min, max], got {value!r}")
        if isinstance(value, int):
            if value < MIN_BODY_BYTES:
                raise ValueError(
                    f"must be >= {MIN_BODY_BYTES} (room for the send time), got {value}"
                )
            return value
        if (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            low, high = value
            if not MIN_BODY_BYTES <= low <= high:
                raise ValueError(
                    f"[min, max] needs {MIN_BODY_BYTES} <= min <= max (a body carries its send "
                    f"time), got [{low}, {high}]"
                )
            return (low, high)
        raise ValueError(f"expected an integer or [min, max], got {value!r}")

    @property
    def max_body_bytes(self) -> int:
        return self.body_bytes[1] if isinstance(self.body_bytes, tuple) else self.body_bytes

    def workspace_names(self) -> list[str]:
        return [f"ws{i}" for i in range(self.workspaces)]

    def channel_names(self) -> list[str]:
        return [f"ch{i}" for i in range(self.channels_per_workspace)]

    @model_validator(mode="after")
    def _chat_consistent(self) -> ChatSettings:
        if self.channels_per_user > self.channels_per_workspace:
            raise FieldProblem(
                ("channels_per_user",),
                f"{self.channels_per_user} is more than channels_per_workspace "
                f"({self.channels_per_workspace})",
            )
        if 0 < self.users < self.workspaces:
            raise FieldProblem(
                ("users",),
                f"{self.users} users cannot fill {self.workspaces} workspaces "
                "(users >= workspaces)",
            )
        return self


CHAT = register_workload(
    WorkloadKind(
        name="chat",
        help="Chat users spread over workspaces join channels, send at a Poisson rate, and "
        "deliver every message in order, exactly once (the reference client algorithm); "
        "optional adversarial users and duplicate sends. Read-back: every channel's final log.",
        section=None,
        settings=ChatSettings,
        users="pigeon_lab.load.chat_users:user_classes",
        module=__name__,
        enabled=lambda w: w.users + w.adversarial_users > 0,
        count=lambda w: w.users + w.adversarial_users,
        counters=COUNTERS,
        read_back="pigeon_lab.load.readback:read_back_chat",
    )
)

__all__ = ["CHAT", "COUNTERS", "MIN_BODY_BYTES", "ChatSettings"]
