"""The system under test as the run sees it: where it is, how to get tokens, which codec.

A target is *bundled* (the reference cluster, started and torn down by the run) or
*external* (someone else's deployment). Either way the run talks to it through a
``Target``: its URL, its codec (how its events and payloads look), and a way to get a
token for a (workspace, user).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pigeon_lab.protocol.codec import PIGEON, Codec
from pigeon_lab.tokens import mint_token

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.cluster import Cluster

TargetKind = Literal["bundled", "external"]


@dataclass(frozen=True)
class Target:
    """What the load, the faults and the read-back talk to."""

    kind: TargetKind
    url: str
    jwt_secret: str | None = None
    token_command: list[str] | None = None
    codec: Codec = PIGEON
    cluster: Cluster | None = field(default=None, compare=False)

    def token(self, workspace: str, user: str) -> str:
        """A token the target accepts for ``user`` in ``workspace``."""
        if self.jwt_secret is None:
            raise ValueError(f"no way to mint tokens for the {self.kind} target at {self.url}")
        return mint_token(self.jwt_secret, workspace, user)


__all__ = ["Target", "TargetKind"]
