"""Voice settings of a node: read from ``PIGEON_BACKEND_VOICE_*`` environment variables.

They are environment-only (no command-line flag) so that the voice extension adds no flag to
the node's parser; the supervisor passes them through ``ClusterSpec.extra_env``. A bad value
stops the node at start with the variable's name and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_PREFIX = "PIGEON_BACKEND_VOICE_"


class VoiceSettings(BaseModel):
    """Leases, reaping, talk time and mailbox bounds of the voice extension."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lease_s: float = Field(15.0, gt=0, le=3600, description="a member's lease (TTL)")
    refresh_s: float = Field(5.0, gt=0, description="how often the node holding a socket renews")
    reap_s: float = Field(1.0, gt=0, description="how often every node reaps expired leases")
    max_talk_s: float = Field(60.0, gt=0, description="the longest grant of the floor")
    mailbox_len: int = Field(1000, ge=10, description="signals kept per session (MAXLEN ~)")
    dedupe_ttl_s: int = Field(600, ge=1, description="how long a sig_id is remembered")
    sync_limit: int = Field(200, ge=1, le=1000, description="signals returned per vsync page")

    @model_validator(mode="after")
    def _refresh_within_lease(self) -> VoiceSettings:
        if self.refresh_s >= self.lease_s:
            raise ValueError(
                f"refresh_s ({self.refresh_s:g}) must be shorter than lease_s ({self.lease_s:g})"
            )
        return self

    @property
    def lease_ms(self) -> int:
        return int(self.lease_s * 1000)

    @property
    def max_talk_ms(self) -> int:
        return int(self.max_talk_s * 1000)

    @property
    def bound_s(self) -> float:
        """How long after its node dies a member may still be listed: lease + one reap."""
        return self.lease_s + self.reap_s


def voice_env(settings: VoiceSettings) -> dict[str, str]:
    """The environment that gives a node ``settings`` (what the supervisor passes)."""
    return {
        ENV_PREFIX + name.upper(): f"{value:g}" if isinstance(value, float) else str(value)
        for name, value in settings.model_dump().items()
    }


def from_env(environ: Mapping[str, str] | None = None) -> VoiceSettings:
    """The settings the environment names (defaults for the rest); ValueError naming the
    variable when one does not validate."""
    env = os.environ if environ is None else environ
    values = {
        name: env[ENV_PREFIX + name.upper()]
        for name in VoiceSettings.model_fields
        if ENV_PREFIX + name.upper() in env
    }
    try:
        return VoiceSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        var = ENV_PREFIX + where.upper() if where else ENV_PREFIX + "*"
        raise ValueError(f"{var}: {first.get('msg')}") from None


__all__ = ["ENV_PREFIX", "VoiceSettings", "from_env", "voice_env"]
