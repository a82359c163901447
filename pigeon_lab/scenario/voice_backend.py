"""``topology.backend.voice``: the voice extension's settings on every bundled node.

The bundled target hands them to the nodes as ``PIGEON_BACKEND_VOICE_*`` variables
(``env()``); the nodes tell their clients the lease and the talk time in every ``vjoin``
ack, so the checkers read those bounds from the history, not from here.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from pigeon_lab.config_model import FieldProblem, Frozen

ENV_PREFIX = "PIGEON_BACKEND_VOICE_"


class VoiceBackend(Frozen):
    """Leases, reaping and talk time of voice rooms (reference_backend/voice/settings.py)."""

    lease_s: float = Field(default=15, gt=0, le=3600, description="a member's lease (TTL)")
    refresh_s: float = Field(default=5, gt=0, description="lease renewal by the socket's node")
    reap_s: float = Field(default=1, gt=0, description="how often every node reaps leases")
    max_talk_s: float = Field(default=60, gt=0, description="the longest grant of the floor")

    @model_validator(mode="after")
    def _refresh_within_lease(self) -> VoiceBackend:
        if self.refresh_s >= self.lease_s:
            raise FieldProblem(
                ("refresh_s",),
                f"{self.refresh_s:g} s is not shorter than lease_s ({self.lease_s:g} s)",
            )
        return self

    def env(self) -> dict[str, str]:
        """The nodes' environment for these settings."""
        return {ENV_PREFIX + k.upper(): f"{v:g}" for k, v in self.model_dump().items()}


__all__ = ["VoiceBackend"]
