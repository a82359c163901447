"""The system under test as the run sees it: where it is, how to get tokens, which codec.

A target is *bundled* (the reference cluster, started and torn down by the run) or
*external* (someone else's deployment). Either way the run talks to it through a
``Target``: its URL, its profile and codec (how its events and payloads look), and its
token issuer. ``secret`` is the one secret the run must hand to the load process (through
its environment, never a file), when tokens are minted with an inline or generated secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from pigeon_lab.issuers import CachingIssuer, IssuerSpec
from pigeon_lab.protocol.codec import Codec
from pigeon_lab.protocol.profile import Profile
from pigeon_lab.protocol.profile_codec import codec_for

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.cluster import Cluster

TargetKind = Literal["bundled", "external"]


@dataclass(frozen=True)
class Target:
    """What the load, the faults and the read-back talk to."""

    kind: TargetKind
    url: str
    more_urls: tuple[str, ...] = ()
    issuer_spec: IssuerSpec = field(default_factory=IssuerSpec)
    secret: str | None = field(default=None, repr=False)
    profile: Profile | None = None
    cluster: Cluster | None = field(default=None, compare=False)
    group_urls: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each declared client group's entry URLs (its own links); the rest use ``urls``."""

    @cached_property
    def codec(self) -> Codec:
        return codec_for(self.profile)

    @cached_property
    def issuer(self) -> CachingIssuer:
        environ = dict(os.environ)
        if self.secret is not None and self.issuer_spec.kind == "secret":
            environ[self.issuer_spec.secret_env] = self.secret
        return CachingIssuer(self.issuer_spec.build(environ))

    @property
    def urls(self) -> list[str]:
        """Every entry point: users are spread round robin over them."""
        return [self.url, *self.more_urls]

    def token(self, workspace: str, user: str) -> str:
        """A token the target accepts for ``user`` in ``workspace``."""
        return self.issuer.issue(workspace, user).value


__all__ = ["Target", "TargetKind"]
