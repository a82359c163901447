"""One run of a scenario, phase by phase.

`run_scenario` is the flow of architecture.md, top-down in one function:

1. resolve the scenario (file over defaults, CLI overrides, seed), refuse faults this
   version cannot run, and write ``scenario.yaml`` into a fresh run folder;
2. open the run journal (``events.jsonl`` as events happen; ``run.json`` when the block
   ends, whatever happened);
3. bring the target up: the bundled cluster (torn down when its block ends, also on
   errors and Ctrl-C) or an external deployment;
4. preflight: the target is reachable, speaks Socket.IO and accepts our tokens;
5. the fault schedule and the load together; leaving the schedule's block heals every
   fault still open and writes ``faults.json``;
6. quiesce, then each workload reads the target back (chat: ``final_logs.parquet``,
   ``readback.parquet``);
7. tear the target down (end of its block), then write ``run.json`` (end of the journal);
8. run the checkers from the run folder alone, write report.json / junit.xml /
   report.html, and evaluate the gate.

Progress is one channel: typed run events (``pigeon_lab.events``) that listeners take
(the CLI's Rich view, the journal, a test). Side effects live here, in the supervisor
and in the fault scheduler; the checkers and reports are pure and read only the run
folder, so `pigeon-lab report render` reproduces step 8.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pigeon_lab.cluster.resources import ResourceSampler
from pigeon_lab.errors import ConfigError
from pigeon_lab.events import (
    Listener,
    LoadFinished,
    LoadProgress,
    LoadStarted,
    Phase,
    ReadbackProgress,
    RunComplete,
    RunEvents,
    RunStarted,
)
from pigeon_lab.faults import FAULT_KINDS, FaultEnv
from pigeon_lab.faults.schedule import FaultScheduler
from pigeon_lab.history.io import write_table
from pigeon_lab.journal import RunJournal
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.launcher import run_load
from pigeon_lab.preflight import PROBE_USER, PROBE_WORKSPACE, check_operations, check_target
from pigeon_lab.report.gate import exit_code
from pigeon_lab.report.model import Report
from pigeon_lab.report.recheck import recheck_run
from pigeon_lab.report.render import write_reports
from pigeon_lab.scenario.loading import deep_merge, dump_scenario, expand_dotted, load_scenario
from pigeon_lab.scenario.model import Scenario
from pigeon_lab.targets import Target, open_target
from pigeon_lab.workloads import WORKLOADS, ReadbackRequest


@dataclass(frozen=True)
class RunResult:
    """Where the run landed and what the gate said."""

    run_dir: Path
    report: Report
    exit_code: int


@dataclass(frozen=True)
class Guards:
    """Limits a scenario must stay under (``--max-users``, ``--max-rate``): for targets
    people share, a run that would load them harder is refused before anything starts."""

    max_users: int | None = None
    max_rate: float | None = None  # sends per second over all users

    def check(self, scenario: Scenario) -> None:
        w = scenario.workload
        users = w.total_users()
        if self.max_users is not None and users > self.max_users:
            raise ConfigError(
                f"{users} simulated users is over --max-users {self.max_users}",
                source=scenario.name,
                field="workload.users",
            )
        rate = w.users * w.send_rate_per_user * (1 + w.duplicate_send_ratio)
        if self.max_rate is not None and rate > self.max_rate:
            raise ConfigError(
                f"{rate:g} sends/s (users x send_rate_per_user) is over --max-rate "
                f"{self.max_rate:g}",
                source=scenario.name,
                field="workload.send_rate_per_user",
            )


@dataclass(frozen=True)
class Distributed:
    """Locust's distributed mode: the load process is a master bound here, waiting for
    ``workers`` remote ``pigeon-lab worker`` processes that run the users."""

    bind: str
    workers: int = 1


def run_scenario(
    name_or_path: str,
    *,
    out: Path = Path("reports"),
    seed: int | None = None,
    duration: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    distributed: Distributed | None = None,
    listeners: Sequence[Listener] = (),
    guards: Guards | None = None,
) -> RunResult:
    """Run one scenario end to end and return where its reports are and the gate's exit code.

    ``overrides`` (nested or dotted, as ``load_scenario`` takes them) apply over the file;
    ``seed`` and ``duration`` over those. ``listeners`` receive every run event; ``guards``
    refuse a scenario above them.
    """
    scenario = load_scenario(name_or_path, overrides=_overrides(seed, duration, overrides) or None)
    refuse_unrunnable_faults(scenario)
    (guards or Guards()).check(scenario)
    run_dir = new_run_dir(out, scenario.name)
    (run_dir / "scenario.yaml").write_text(dump_scenario(scenario))
    journal = RunJournal(run_dir)
    events = RunEvents(journal, *listeners)
    with journal:
        started = datetime.now(UTC).isoformat()
        events.fire(RunStarted(run_dir.name, scenario.name, scenario.seed, started))
        events.note(f"run folder {run_dir}")
        with open_target(scenario, run_dir, events) as target:
            with events.phase(Phase.PREFLIGHT, target.url):
                _preflight(scenario, target)
            config = _load_config(scenario, target, run_dir, distributed)
            env = _fault_env(scenario, target)
            plan = [f.planned() for f in scenario.faults]
            faults = FaultScheduler(
                env, plan, events, faults_path=run_dir / "faults.json", wait_for_load=True
            )

            def progress(line: dict[str, Any]) -> None:
                faults.align(float(line.get("elapsed_s", 0.0)))
                events.fire(LoadProgress.from_line(line))

            try:
                with (
                    _sampler(target, run_dir),
                    faults,
                    events.phase(Phase.LOAD, f"{config.total_users} users"),
                ):
                    events.fire(LoadStarted(config.total_users))
                    summary = run_load(config, progress)
                    events.fire(LoadFinished(summary.model_dump(mode="json")))
            finally:
                _heal_links(env, events)
            with events.phase(Phase.QUIESCE):
                time.sleep(scenario.workload.quiesce_s)
            with events.phase(Phase.READBACK):
                _read_back(scenario, target, run_dir, summary.model_dump(mode="json"), events)
            events.fire(RunComplete())
    with events.phase(Phase.CHECK):
        report = recheck_run(run_dir)
    with events.phase(Phase.REPORT):
        write_reports(run_dir, report)
    return RunResult(run_dir=run_dir, report=report, exit_code=exit_code(report.gate))


def _preflight(scenario: Scenario, target: Target) -> None:
    """Reachable, Socket.IO, our tokens accepted, every operation of the profile acked.
    An external target is probed as the workload's first user (a tokens file has it)."""
    if target.kind == "external":
        identity = (scenario.workload.workspace_names()[0], "u0")
    else:
        identity = (PROBE_WORKSPACE, PROBE_USER)
    token = target.token(*identity)
    check_target(target.url, codec=target.codec, token=token)
    can = target.profile.capabilities if target.profile is not None else None
    check_operations(
        target.url, target.codec, token, can, timeout_s=scenario.workload.ack_timeout_ms / 1000
    )


def _fault_env(scenario: Scenario, target: Target) -> FaultEnv | None:
    """What the faults act on: the cluster and, when it has them, its proxied links."""
    cluster = target.cluster
    if cluster is None:
        return None
    return FaultEnv(cluster=cluster, links=cluster.links, graph=scenario.topology.graph())


def _sampler(target: Target, run_dir: Path) -> AbstractContextManager[object]:
    """The bundled cluster's processes' memory beside the load (``resources.json``)."""
    cluster = target.cluster
    if cluster is None:
        return nullcontext()
    return ResourceSampler(
        lambda: {n: cluster.process(n).pid for n in cluster.names}, run_dir / "resources.json"
    )


def _heal_links(env: FaultEnv | None, events: RunEvents) -> None:
    """Whatever happened to the windows, no toxic and no disabled proxy outlives the load
    (the read-back must see the cluster whole); the scheduler healed each already."""
    links = env.links if env is not None else None
    if links is None:
        return
    try:
        links.heal_all()
    except Exception as exc:  # broad on purpose: reported, and the teardown still follows
        events.note(f"could not reset the fault proxy after the load: {exc}")


def refuse_unrunnable_faults(scenario: Scenario) -> None:
    """Faults whose kind this version cannot run (no injector): say so before anything starts."""
    runnable = ", ".join(n for n, k in FAULT_KINDS.items() if k.available)
    for index, fault in scenario.unavailable_faults():
        needs = fault.fault_kind.needs or "an injector this version does not have"
        raise ConfigError(
            f"fault kind {fault.kind!r} needs {needs}; kinds this version runs: {runnable}",
            source=scenario.name,
            field=f"faults[{index}].kind",
        )


def new_run_dir(out: Path, scenario_name: str) -> Path:
    """A fresh `reports/<YYYYmmdd-HHMMSS>-<scenario>/` (suffixed when taken)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = out / f"{stamp}-{scenario_name}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    (run_dir / "logs").mkdir(parents=True)
    return run_dir


def _overrides(
    seed: int | None, duration: float | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``extra`` (nested or dotted) with ``seed`` and ``duration`` over it."""
    out: dict[str, Any] = expand_dotted(extra or {})
    if seed is not None:
        out["seed"] = seed
    if duration is not None:
        out = deep_merge(out, {"workload": {"duration_s": duration}})
    return out


def _load_config(
    scenario: Scenario, target: Target, run_dir: Path, distributed: Distributed | None
) -> LoadConfig:
    return LoadConfig.from_scenario(
        scenario,
        urls=target.urls,
        out_dir=run_dir,
        jwt_secret=target.secret,
        issuer=target.issuer_spec,
        profile=target.profile,
        master_bind=distributed.bind if distributed else None,
        expect_workers=distributed.workers if distributed else 0,
        group_urls=target.group_urls,
    )


def _read_back(
    scenario: Scenario,
    target: Target,
    run_dir: Path,
    summary: dict[str, Any],
    events: RunEvents,
) -> None:
    """Each enabled workload's read-back, its tables written into the run folder."""
    names = [n for n in scenario.workload.enabled_workloads() if WORKLOADS[n].read_back]
    for i, name in enumerate(names):
        read = WORKLOADS[name].read_back_fn()
        assert read is not None
        external = scenario.target.kind == "external"
        limits = scenario.target.readback
        request = ReadbackRequest(
            url=target.url,
            token=target.token,
            codec=target.codec,
            settings=scenario.workload.settings_of(name),
            summary=summary,
            out_dir=run_dir,
            page_size=limits.page_size if external else 500,
            max_rate=limits.max_rate if external else None,
            history=target.profile is None or target.profile.capabilities.history,
        )
        for file_name, table in read(request).items():
            write_table(table, run_dir / file_name)
        events.fire(ReadbackProgress(i + 1, len(names), "workloads"))


__all__ = [
    "Distributed",
    "Guards",
    "RunResult",
    "new_run_dir",
    "refuse_unrunnable_faults",
    "run_scenario",
]
