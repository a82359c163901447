"""The load process's configuration and summary (JSON-serialisable; no Locust import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class LoadConfig(BaseModel):
    """What the load generator does. Every choice derives from ``seed``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1)  # users spread round robin (usually one LB URL)
    jwt_secret: str | None = None
    token_command: list[str] | None = None  # argv printing a token; {workspace} {user} replaced
    workspaces: int = Field(default=2, ge=1)
    channels_per_workspace: int = Field(default=4, ge=1)
    users: int = Field(default=6, ge=0)
    channels_per_user: int = Field(default=2, ge=1)
    channel_skew: float = Field(default=1.0, ge=0.0)  # zipf-like exponent; 0 = uniform
    send_rate_per_user: float = Field(default=1.0, ge=0.0)  # messages per second
    send_schedule: Literal["poisson", "uniform"] = "poisson"
    body_bytes: int | tuple[int, int] = 64
    ramp_s: float = Field(default=1.0, ge=0.0)
    duration_s: float = Field(default=10.0, gt=0.0)
    ack_timeout_ms: int = Field(default=5000, gt=0)
    send_deadline_ms: int = Field(default=30000, gt=0)
    gap_timeout_ms: int = Field(default=500, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0.0)
    transport: Literal["websocket", "polling"] = "websocket"
    # auto: the lean websocket client for websocket over http://, python-socketio otherwise
    client: Literal["auto", "lean", "python-socketio"] = "auto"
    processes: int = Field(default=1, ge=1)
    adversarial_users: int = Field(default=0, ge=0)
    duplicate_send_ratio: float = Field(default=0.0, ge=0.0, le=1.0)  # acked sends sent again
    record: bool = True  # False only for measuring the recorder's cost
    seed: int = 1
    out_dir: Path = Path(".")
    master_bind: str | None = None  # e.g. "0.0.0.0:5557": wait for remote `pigeon-lab worker`s
    expect_workers: int = Field(default=0, ge=0)
    worker_wait_s: float = Field(default=60.0, gt=0.0)
    drain_s: float | None = None  # graceful stop budget; default send_deadline + 5 s

    @field_validator("body_bytes")
    @classmethod
    def _body(cls, v: int | tuple[int, int]) -> int | tuple[int, int]:
        lo, hi = (v, v) if isinstance(v, int) else v
        if lo < 24 or hi < lo:
            raise ValueError("body_bytes must be >= 24 (room for the send time) and min <= max")
        return v

    @model_validator(mode="after")
    def _auth(self) -> LoadConfig:
        if not self.jwt_secret and not self.token_command:
            raise ValueError("one of jwt_secret or token_command is required")
        if self.users + self.adversarial_users == 0:
            raise ValueError("users + adversarial_users must be > 0")
        return self

    @property
    def drain_budget_s(self) -> float:
        return self.drain_s if self.drain_s is not None else self.send_deadline_ms / 1000 + 5.0

    def workspace_names(self) -> list[str]:
        return [f"ws{i}" for i in range(self.workspaces)]

    def channel_names(self) -> list[str]:
        return [f"ch{i}" for i in range(self.channels_per_workspace)]


class LoadSummary(BaseModel):
    """What the load process reports at the end (its final JSON line)."""

    model_config = ConfigDict(extra="allow")

    done: bool = True
    history_path: Path
    rows: int
    users: int
    sends: int
    acks: int
    send_fail: int
    send_info: int
    recv: int
    deliver: int
    elapsed_s: float
    channels: list[tuple[str, str]]  # (workspace, channel) pairs that users joined
