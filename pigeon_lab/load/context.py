"""What the users of one load process share: config, recorder, counters, latency logs.

The load process makes one ``LoadContext`` and hands it to its user classes through a
``ContextSlot`` (a class attribute the workload's user factory sets), so that users,
adversaries and the process import this module and never each other.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from pigeon_lab.history.recorder import Recorder
from pigeon_lab.issuers import CachingIssuer, IssuedToken, SecretIssuer
from pigeon_lab.load.clock import ClockShift
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.latency import LatencyLog
from pigeon_lab.protocol.codec import Codec
from pigeon_lab.protocol.profile_codec import codec_for
from pigeon_lab.workloads import WORKLOADS


class LoadUser(Protocol):
    """What the load process asks of every simulated user while it stops."""

    finished: bool

    def stop_now(self) -> None:
        """Wake up: the run is stopping (sleepers check ``ctx.stopping``)."""
        ...

    def abandon(self) -> None:
        """The drain budget is spent: give up what is unresolved and disconnect."""
        ...


def _counters(config: LoadConfig) -> Counter[str]:
    names = {c for n in config.workload.enabled_workloads() for c in WORKLOADS[n].counters}
    return Counter(dict.fromkeys(sorted(names), 0))


@dataclass
class LoadContext:
    """What the users of one load process share."""

    config: LoadConfig
    recorder: Recorder
    worker_index: int = 0
    workers: int = 1
    stopping: bool = False
    codec: Codec = field(init=False)
    issuer: CachingIssuer = field(init=False)
    users: list[LoadUser] = field(default_factory=list)
    delivery_ms: LatencyLog = field(default_factory=LatencyLog)
    ack_ms: LatencyLog = field(default_factory=LatencyLog)
    counters: Counter[str] = field(default_factory=Counter)
    skew_ns: int = 0  # this process's clocks read this far off (tests: PIGEON_LAB_CLOCK_SKEW_S)
    clock: ClockShift = field(default_factory=ClockShift)  # to the master's clocks (workers)
    _next: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in _counters(self.config).items():
            self.counters.setdefault(name, value)
        self.codec = codec_for(self.config.profile)
        self.issuer = CachingIssuer(
            self.config.issuer.build({**os.environ, **self.config.environ()})
        )

    def wall_ns(self) -> int:
        """The wall clock on the master's time: body send times and delivery latencies are
        compared across workers (``pigeon_lab.load.clock``)."""
        return time.time_ns() + self.skew_ns + self.clock.wall_ns

    def shifts(self) -> tuple[int, int]:
        """What to add to this process's recorded ``t`` and ``wall`` (ns)."""
        return self.skew_ns + self.clock.mono_ns, self.skew_ns + self.clock.wall_ns

    def next_index(self, role: str = "user") -> int:
        """Global index of a new user of ``role``: the k-th local one of worker w is
        ``k * workers + w``, so indices never collide across workers."""
        k = self._next.get(role, 0)
        self._next[role] = k + 1
        return k * self.workers + self.worker_index

    def token(self, workspace: str, user: str) -> str:
        """A fresh token for (workspace, user) from the run's issuer (cached while fresh)."""
        return self.issued(workspace, user).value

    def issued(self, workspace: str, user: str) -> IssuedToken:
        return self.issuer.issue(workspace, user)

    def renewed(self, workspace: str, user: str) -> IssuedToken:
        """A new token for a live connection (its own is about to expire)."""
        return self.issuer.renew(workspace, user)

    @property
    def token_refresh(self) -> bool:
        """Whether the target extends a live connection with `refresh` (else: reconnect)."""
        profile = self.config.profile
        return profile is None or profile.capabilities.token_refresh

    def mint(self, workspace: str, user: str, *, ttl_s: float, secret: str | None = None) -> str:
        """A token signed like the run's, with another lifetime or secret (for attacks);
        '' when the issuer cannot mint (a command or a file)."""
        inner = self.issuer.inner
        if not isinstance(inner, SecretIssuer):
            return ""
        forged = SecretIssuer(
            secret or inner.secret, inner.user_claim, inner.workspace_claim, inner.claims, ttl_s
        )
        return forged.issue(workspace, user).value

    def finished(self) -> bool:
        return all(u.finished for u in self.users)


class ContextSlot:
    """Where a load process's user classes find the context (set once it exists: a
    worker builds its classes before the master sends the config)."""

    def __init__(self, ctx: LoadContext | None = None) -> None:
        self._ctx = ctx

    def set(self, ctx: LoadContext) -> None:
        self._ctx = ctx

    @property
    def ready(self) -> bool:
        return self._ctx is not None

    def get(self) -> LoadContext:
        if self._ctx is None:
            raise RuntimeError("the load process has not set the load context yet")
        return self._ctx


__all__ = ["ContextSlot", "LoadContext", "LoadUser"]
