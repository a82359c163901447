"""The scenario: a frozen, typed description of one run, with documented defaults.

A scenario file is merged over the defaults below (see ``loading.py``). Every
model forbids unknown fields. Checks that span fields raise ``FieldProblem``,
a ValueError that carries the path of the field at fault so that the loader can
name it (``faults[1].target``), not just the model that noticed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pigeon_lab.checkers.base import CAPABILITIES, missing_capabilities
from pigeon_lab.config_model import FieldProblem, Frozen, unknown
from pigeon_lab.faults import FAULT_KINDS, FaultKind, PlannedFault
from pigeon_lab.protocol.profile import Profile
from pigeon_lab.scenario.checks import Checks, default_invariants
from pigeon_lab.scenario.fault_checks import check_fault, check_overlaps, fault_links
from pigeon_lab.scenario.fault_mix import expand
from pigeon_lab.scenario.target import Target
from pigeon_lab.scenario.topology import FLAWS, Backend, Redis, Topology
from pigeon_lab.workloads import WORKLOADS, sections
from pigeon_lab.workloads.chat import ChatSettings


class LoadSettings(Frozen):
    """What every workload shares: the load's timing, processes, transport and acks."""

    ramp_s: float = Field(default=2, ge=0, description="seconds to start all users")
    duration_s: float = Field(default=20, gt=0, description="seconds of load, ramp included")
    ack_timeout_ms: int = Field(
        default=5000, ge=1, description="a send not acked by then is retried"
    )
    send_deadline_ms: int = Field(
        default=30000, ge=1, description="a send gives up (info) after this"
    )
    transport: Literal["websocket", "polling"] = Field(
        default="websocket", description="Engine.IO transport of the simulated clients"
    )
    processes: int = Field(default=1, ge=1, le=256, description="local Locust worker processes")
    quiesce_s: float = Field(
        default=2, ge=0, description="seconds of quiet after the load before read-back"
    )


class Workload(LoadSettings, ChatSettings):
    """The simulated users and what they do.

    The chat workload's fields (``ChatSettings``) and the shared ones (``LoadSettings``)
    sit at the top; every other registered workload (``pigeon_lab.workloads``) has its own
    section, ``workload.<name>``, validated by that workload's settings model.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        """Validate each section through its registered workload; refuse unknown keys."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        known = sections()
        for key, value in data.items():
            if key in cls.model_fields:
                continue
            kind = known.get(key)
            if kind is None or kind.settings is None:
                names = [*cls.model_fields, *known]
                raise FieldProblem((key,), unknown("field", str(key), names))
            if isinstance(value, BaseModel):
                continue
            try:
                out[key] = kind.settings.model_validate({} if value is None else value)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = tuple(first.get("loc", ()))
                cause = (first.get("ctx") or {}).get("error")
                if isinstance(cause, FieldProblem):  # a check across the section's fields
                    raise FieldProblem((key, *loc, *cause.path), cause.reason) from None
                raise FieldProblem((key, *loc), str(first.get("msg", exc))) from None
        return out

    def section(self, name: str) -> BaseModel | None:
        """The settings of workload section ``name``, or None when the scenario has none."""
        extra = self.__pydantic_extra__ or {}
        value = extra.get(name)
        return value if isinstance(value, BaseModel) else None

    def settings_of(self, name: str) -> Any:
        """The settings workload ``name`` runs with (chat: this model), or None."""
        kind = WORKLOADS[name]
        return self if kind.section is None else self.section(kind.section)

    def enabled_workloads(self) -> list[str]:
        """The registered workloads this scenario runs, chat first."""
        out = []
        for kind in WORKLOADS.values():
            settings = self.settings_of(kind.name)
            if settings is not None and kind.enabled(settings):
                out.append(kind.name)
        return out

    def total_users(self) -> int:
        """Every simulated user of every workload this scenario runs."""
        return sum(WORKLOADS[n].count(self.settings_of(n)) for n in self.enabled_workloads())

    @model_validator(mode="after")
    def _consistent(self) -> Workload:
        if self.processes > self.total_users():
            raise FieldProblem(
                ("processes",), f"{self.processes} is more than users ({self.total_users()})"
            )
        if self.ramp_s > self.duration_s:
            raise FieldProblem(
                ("ramp_s",), f"{self.ramp_s:g} s is longer than duration_s ({self.duration_s:g} s)"
            )
        if self.send_deadline_ms < self.ack_timeout_ms:
            raise FieldProblem(
                ("send_deadline_ms",),
                f"{self.send_deadline_ms} ms is shorter than ack_timeout_ms "
                f"({self.ack_timeout_ms})",
            )
        return self


class FaultSpec(Frozen):
    """One scheduled fault: at ``at_s`` (from the start of the load), on ``target``."""

    at_s: float = Field(ge=0, description="seconds from the start of the load")
    duration_s: float | None = Field(
        default=None, gt=0, description="window length; omitted for instantaneous kinds"
    )
    kind: str = Field(description=f"one of: {', '.join(FAULT_KINDS)}")
    target: str = Field(description="process (node-2, redis-primary) or link (A->B)")
    params: dict[str, Any] = Field(
        default_factory=dict, validate_default=True, description="kind-specific parameters"
    )

    @model_validator(mode="before")
    @classmethod
    def _default_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("target") is None:
            kind = FAULT_KINDS.get(str(data.get("kind")))
            if kind is not None and kind.default_target:
                return {**data, "target": kind.default_target}
        return data

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in FAULT_KINDS:
            raise ValueError(unknown("fault kind", value, list(FAULT_KINDS)))
        return value

    @field_validator("params")
    @classmethod
    def _params_fit_kind(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = FAULT_KINDS.get(info.data.get("kind", ""))
        return kind.check_params(value) if kind else value

    @property
    def fault_kind(self) -> FaultKind:
        return FAULT_KINDS[self.kind]

    @property
    def end_s(self) -> float | None:
        """End of the window, or None (instantaneous, or until the load ends)."""
        return None if self.duration_s is None else self.at_s + self.duration_s

    def planned(self) -> PlannedFault:
        """The fault as the scheduler runs it (params validated and defaulted)."""
        return PlannedFault(self.kind, self.target, self.at_s, self.duration_s, dict(self.params))

    def describe(self) -> str:
        """``kill node-2 @10s for 10s``."""
        span = f" for {self.duration_s:g}s" if self.duration_s is not None else ""
        return f"{self.kind} {self.target} @{self.at_s:g}s{span}"

    @model_validator(mode="after")
    def _duration_fits_kind(self) -> FaultSpec:
        kind = self.fault_kind
        if kind.needs_duration and self.duration_s is None:
            raise FieldProblem(("duration_s",), f"{self.kind} is a window and needs duration_s")
        if not kind.takes_duration and self.duration_s is not None:
            raise FieldProblem(("duration_s",), f"{self.kind} is instantaneous; drop duration_s")
        return self


class Scenario(Frozen):
    """One run: cluster, load, fault schedule, checks and target."""

    name: str = Field(
        default="scenario",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="defaults to the file stem",
    )
    description: str = Field(
        default="", description="what it exercises; its first line is the summary"
    )
    seed: int = Field(default=1, description="seeds every random choice of the run")
    plugins: tuple[str, ...] = Field(
        default=(),
        description="modules imported first: they register extra fault kinds, workloads or "
        "checkers (one module each) that the rest of the file may name",
    )
    topology: Topology = Field(default_factory=Topology, description="the bundled cluster")
    workload: Workload = Field(default_factory=Workload, description="the simulated users")
    faults: tuple[FaultSpec, ...] = Field(
        default=(), description="the fault schedule, or {random: {...}}: a seeded mix"
    )
    checks: Checks = Field(default_factory=Checks, description="checkers and gate")
    target: Target = Field(default_factory=Target, description="the system under test")

    @field_validator("description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @property
    def summary(self) -> str:
        return self.description.strip().splitlines()[0] if self.description.strip() else ""

    def unavailable_faults(self) -> list[tuple[int, FaultSpec]]:
        """Faults whose kind cannot run yet (``FaultKind.available`` is False)."""
        return [(i, f) for i, f in enumerate(self.faults) if not f.fault_kind.available]

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        caps = capabilities_of(self.target.profile_model())
        if "invariants" not in self.checks.model_fields_set:
            # the checkers of the workloads it runs that its target can feed
            names = [
                n
                for n in default_invariants(self.workload.enabled_workloads())
                if not missing_capabilities(n, caps)
            ]
            checks = self.checks.model_copy(update={"invariants": tuple(names)})
            object.__setattr__(self, "checks", checks)  # frozen: set once, while validating
        for i, name in enumerate(self.checks.invariants):
            missing = missing_capabilities(name, caps)
            if missing:
                raise FieldProblem(
                    ("checks", "invariants", i),
                    f"checker {name!r} needs {', '.join(missing)}, which the target's profile "
                    "says it has not (capabilities); drop it or fix the profile",
                )
        if (
            self.target.kind == "bundled"
            and self.workload.max_body_bytes > self.topology.backend.max_body
        ):
            raise FieldProblem(
                ("workload", "body_bytes"),
                f"{self.workload.max_body_bytes} bytes is over topology.backend.max_body "
                f"({self.topology.backend.max_body})",
            )
        end = self.workload.duration_s
        if self.faults and self.target.kind != "bundled":
            raise FieldProblem(("faults", 0), "faults need target.kind: bundled")
        links = [check_fault(self.topology, end, i, f) for i, f in enumerate(self.faults)]
        check_overlaps(self.faults, links, end)
        return self

    def proxied_links(self) -> tuple[str, ...]:
        """The links a run puts through the fault proxy: ``topology.proxied_links`` (or
        every link with ``all``) and every link a fault acts on, in the graph's order."""
        topo = self.topology
        if topo.proxied_links == "all":
            return tuple(topo.links())
        graph = topo.graph()
        wanted = set(topo.proxied_links)
        for i, fault in enumerate(self.faults):
            wanted |= fault_links(graph, i, fault)
        return tuple(n for n in graph.names if n in wanted)

    @model_validator(mode="before")
    @classmethod
    def _expand_mix(cls, data: Any) -> Any:
        """``faults: {random: ...}`` becomes the concrete schedule it draws (fault_mix)."""
        if not isinstance(data, dict) or not isinstance(data.get("faults"), dict):
            return data
        try:
            topology = Topology.model_validate(data.get("topology") or {})
            work = data.get("workload") or {}
            load_s = float(work.get("duration_s", LoadSettings.model_fields["duration_s"].default))
        except (ValidationError, TypeError, ValueError):
            return data  # the topology's or workload's own error is reported first
        try:
            schedule = expand(
                data["faults"],
                graph=topology.graph(),
                processes=topology.processes(),
                load_s=load_s,
                seed=int(data.get("seed", 1)),
            )
        except FieldProblem as exc:
            raise FieldProblem(("faults", *exc.path), exc.reason) from None
        return {**data, "faults": schedule}


def capabilities_of(profile: Profile) -> frozenset[str]:
    """The capability names a profile says its target has."""
    return frozenset(c for c in CAPABILITIES if getattr(profile.capabilities, c))


__all__ = [
    "FLAWS",
    "Backend",
    "FaultSpec",
    "LoadSettings",
    "Redis",
    "Scenario",
    "Topology",
    "Workload",
]
