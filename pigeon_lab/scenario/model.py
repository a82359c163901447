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

from pigeon_lab.config_model import FieldProblem, Frozen, unknown
from pigeon_lab.faults import (
    FAULT_KINDS,
    PROCESS_TARGETS,
    FaultKind,
    PlannedFault,
)
from pigeon_lab.scenario.checks import Checks, default_invariants
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
    faults: tuple[FaultSpec, ...] = Field(default=(), description="the fault schedule")
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
        if "invariants" not in self.checks.model_fields_set:
            names = default_invariants(self.workload.enabled_workloads())
            checks = self.checks.model_copy(update={"invariants": names})
            object.__setattr__(self, "checks", checks)  # frozen: set once, while validating
        if (
            self.target.kind == "bundled"
            and self.workload.max_body_bytes > self.topology.backend.max_body
        ):
            raise FieldProblem(
                ("workload", "body_bytes"),
                f"{self.workload.max_body_bytes} bytes is over topology.backend.max_body "
                f"({self.topology.backend.max_body})",
            )
        for i, fault in enumerate(self.faults):
            self._check_fault(i, fault)
        return self

    def _check_fault(self, i: int, fault: FaultSpec) -> None:
        kind, topo, end = fault.fault_kind, self.topology, self.workload.duration_s
        if self.target.kind != "bundled":
            raise FieldProblem(("faults", i), "faults need target.kind: bundled")
        processes, links = topo.processes(), topo.links()
        if fault.target in processes:
            klass = processes[fault.target]
        elif fault.target in links:
            klass = "link"
        else:
            pool = links if "->" in fault.target else list(processes)
            same = [t for t in pool if t.split("-")[0] == fault.target.split("-")[0]]
            hint = f"; this topology has: {', '.join(same)}" if same else ""
            raise FieldProblem(
                ("faults", i, "target"), f"no {fault.target!r} in this topology{hint}"
            )
        if klass not in kind.targets:
            accepts = ", ".join(sorted(kind.targets))
            raise FieldProblem(
                ("faults", i, "target"),
                f"{fault.kind} cannot target {fault.target!r}; it takes: {accepts}",
            )
        if klass == "link" and fault.target not in topo.proxied_links:
            raise FieldProblem(
                ("faults", i, "target"),
                f"link {fault.target!r} is not proxied; add it to topology.proxied_links",
            )
        problem = kind.check_topology(topo.facts(), fault.target) if kind.check_topology else None
        if problem:
            raise FieldProblem(("faults", i, "kind"), problem)
        if fault.at_s >= end:
            raise FieldProblem(
                ("faults", i, "at_s"),
                f"fault at {fault.at_s:g} s starts after the load ends "
                f"(workload.duration_s = {end:g})",
            )
        if fault.end_s is not None and fault.end_s > end:
            raise FieldProblem(
                ("faults", i, "duration_s"),
                f"fault ends at {fault.end_s:g} s, after the load ends "
                f"(workload.duration_s = {end:g})",
            )
        if klass in PROCESS_TARGETS:
            for j, other in enumerate(self.faults[:i]):
                if other.target == fault.target and _overlap(other, fault, end):
                    raise FieldProblem(
                        ("faults", i),
                        f"overlaps faults[{j}] ({other.describe()}) on the same process",
                    )


def _overlap(a: FaultSpec, b: FaultSpec, end: float) -> bool:
    """Whether two faults' windows on one process overlap (open windows run to ``end``)."""

    def window(f: FaultSpec) -> tuple[float, float]:
        if not f.fault_kind.takes_duration:
            return (f.at_s, f.at_s)
        return (f.at_s, f.end_s if f.end_s is not None else end)

    (a0, a1), (b0, b1) = window(a), window(b)
    return a0 <= b1 and b0 <= a1


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
