"""The load process's configuration and summary (JSON-serialisable; no Locust import).

``LoadConfig`` carries the scenario's ``workload`` as is (one set of defaults: the
scenario model's), plus what only the load process needs: where the target is, how
to get tokens, the seed, the run folder, and the knobs of the load generator itself.
``LoadConfig.from_scenario`` builds it from a scenario.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pigeon_lab.issuers import IssuerSpec
from pigeon_lab.protocol.profile import Profile
from pigeon_lab.scenario.model import Workload
from pigeon_lab.scenario.topology import assign_groups
from pigeon_lab.workloads import WORKLOADS, import_modules

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pigeon_lab.scenario.model import Scenario


class UserGroup(BaseModel):
    """A share of the chat users that connect through URLs of their own (a client group of
    the topology, behind links of its own); which users is drawn by seed
    (``pigeon_lab.scenario.topology.assign_groups``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    share: float = Field(gt=0, lt=1)
    urls: list[str] = Field(min_length=1)


class LoadConfig(BaseModel):
    """What the load generator does. Every choice derives from ``seed``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1)  # users spread round robin (usually one LB URL)
    groups: list[UserGroup] = Field(default_factory=list)  # users behind links of their own
    # never written to load.json or sent to workers: the launcher exports it as
    # PIGEON_LAB_TOKEN_SECRET to the load process (and its local workers inherit it)
    jwt_secret: str | None = Field(default=None, exclude=True, repr=False)
    issuer: IssuerSpec = Field(default_factory=IssuerSpec)  # where tokens come from
    profile: Profile | None = None  # the target's spelling of the protocol (None: protocol.md)
    workload: Workload = Field(default_factory=Workload)
    workload_modules: list[str] = Field(default_factory=list)  # register extra workloads
    max_body: int = Field(default=4096, ge=1)  # the target's body limit (adversary: one over)
    send_schedule: Literal["poisson", "uniform"] = "poisson"
    gap_timeout_ms: int = Field(default=500, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0.0)
    # auto: the lean websocket client for websocket over http://, python-socketio otherwise
    client: Literal["auto", "lean", "python-socketio"] = "auto"
    record: bool = True  # False only for measuring the recorder's cost
    seed: int = 1
    out_dir: Path = Path(".")
    master_bind: str | None = None  # e.g. "0.0.0.0:5557": wait for remote `pigeon-lab worker`s
    expect_workers: int = Field(default=0, ge=0)
    worker_wait_s: float = Field(default=60.0, gt=0.0)
    drain_s: float | None = None  # graceful stop budget; default send_deadline + 5 s

    def environ(self) -> dict[str, str]:
        """What the load process's environment needs beyond ours (the token secret)."""
        if self.jwt_secret and self.issuer.kind == "secret":
            return {self.issuer.secret_env: self.jwt_secret}
        return {}

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        *,
        urls: list[str],
        out_dir: Path,
        jwt_secret: str | None = None,
        issuer: IssuerSpec | None = None,
        profile: Profile | None = None,
        master_bind: str | None = None,
        expect_workers: int = 0,
        group_urls: Mapping[str, Sequence[str]] | None = None,
    ) -> LoadConfig:
        """The load of ``scenario`` against ``urls``, writing into ``out_dir``; the users of
        each client group of the topology go to that group's ``group_urls``."""
        by_name = group_urls or {}
        groups = [
            UserGroup(name=g.name, share=g.share, urls=list(by_name.get(g.name) or urls))
            for g in scenario.topology.client_groups
        ]
        modules = sorted(
            (
                set(scenario.plugins)
                | {WORKLOADS[n].module for n in scenario.workload.enabled_workloads()}
            )
            - {WORKLOADS["chat"].module}
        )
        return cls(
            urls=urls,
            groups=groups,
            jwt_secret=jwt_secret,
            issuer=issuer or IssuerSpec(),
            profile=profile,
            workload=scenario.workload,
            workload_modules=modules,
            max_body=scenario.topology.backend.max_body,
            seed=scenario.seed,
            out_dir=out_dir,
            master_bind=master_bind,
            expect_workers=expect_workers,
        )

    @classmethod
    def build(cls, **fields: Any) -> LoadConfig:
        """A config from flat keyword arguments: those naming a ``workload`` field go into
        the workload (with the scenario model's defaults for the rest), the others into
        the config. For tests and benchmarks that are not driven by a scenario file."""
        work = {k: fields.pop(k) for k in list(fields) if k in Workload.model_fields}
        return cls(workload=Workload.model_validate(work), **fields)

    @classmethod
    def from_json(cls, text: str) -> LoadConfig:
        """Parse a config, importing the modules of its workloads first (their sections
        validate only once those are registered)."""
        data: Any = json.loads(text)
        if isinstance(data, dict):
            import_modules(list(data.get("workload_modules") or []))
        return cls.model_validate(data)

    @property
    def drain_budget_s(self) -> float:
        if self.drain_s is not None:
            return self.drain_s
        return self.workload.send_deadline_ms / 1000 + 5.0

    @property
    def total_users(self) -> int:
        """Every simulated user of every enabled workload (chat users and adversaries)."""
        return self.workload.total_users()

    def url_of(self, index: int) -> str:
        """Where chat user ``index`` connects: its group's URLs, else ``urls`` (round robin)."""
        if self.groups:
            shares = tuple((g.name, g.share) for g in self.groups)
            names = assign_groups(self.workload.users, shares, self.seed)
            group = names[index] if index < len(names) else ""
            for g in self.groups:
                if g.name == group:
                    return g.urls[index % len(g.urls)]
        return self.urls[index % len(self.urls)]

    def workspace_names(self) -> list[str]:
        return self.workload.workspace_names()

    def channel_names(self) -> list[str]:
        return self.workload.channel_names()


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
