"""One run of a scenario, phase by phase.

`run_scenario` is the flow of architecture.md:

1. resolve the scenario (file over defaults, CLI overrides, seed) and write
   ``scenario.yaml`` into a fresh run folder;
2. bring the bundled cluster up (or point at the external target);
3. start the fault schedule and the load together;
4. stop the load, heal every fault, wait for quiescence;
5. read every channel's final log back (``final_logs.parquet``, ``readback.parquet``);
6. write ``faults.json`` and ``run.json``;
7. run the checkers from the run folder alone, write report.json / junit.xml /
   report.html, and evaluate the gate;
8. tear the cluster down: always, also on errors and Ctrl-C.

Side effects live here and in the supervisor; the checkers and reports are pure
and read only the run folder, so `pigeon-lab report render` reproduces step 7.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pigeon_lab import __version__
from pigeon_lab.cluster import Cluster, ClusterSpec
from pigeon_lab.errors import ConfigError, PigeonLabError
from pigeon_lab.faults.schedule import FaultRecord, FaultScheduler, PlannedFault, write_faults
from pigeon_lab.history.io import write_table
from pigeon_lab.load.config import LoadConfig
from pigeon_lab.load.launcher import run_load
from pigeon_lab.load.readback import read_back
from pigeon_lab.preflight import check_target
from pigeon_lab.report.gate import exit_code
from pigeon_lab.report.model import Report
from pigeon_lab.report.recheck import recheck_run
from pigeon_lab.report.render import write_reports
from pigeon_lab.scenario.loading import deep_merge, dump_scenario, expand_dotted, load_scenario
from pigeon_lab.scenario.model import Scenario

ProgressFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RunResult:
    """Where the run landed and what the gate said."""

    run_dir: Path
    report: Report
    exit_code: int


@dataclass(frozen=True)
class Target:
    """What the load talks to: a URL, a JWT secret, and the cluster when bundled."""

    url: str
    jwt_secret: str
    cluster: Cluster | None


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


def _external_secret(scenario: Scenario) -> str:
    """The HS256 secret that mints tokens for an external target (secret or secret_env)."""
    token = scenario.target.token
    if token is not None and token.secret:
        return token.secret
    if token is not None and token.secret_env:
        value = os.environ.get(token.secret_env)
        if not value:
            raise ConfigError(
                f"environment variable {token.secret_env} is not set",
                source=scenario.name,
                field="target.token.secret_env",
            )
        return value
    raise ConfigError(
        "token.command is not supported by the load generator yet; give token.secret "
        "or token.secret_env",
        source=scenario.name,
        field="target.token",
    )


def _refuse_unavailable_faults(scenario: Scenario) -> None:
    """Faults that need the fault proxy cannot run yet: say so before anything starts."""
    for index, fault in scenario.unavailable_faults():
        raise ConfigError(
            f"fault kind {fault.kind!r} needs the fault proxy, which this version does not have; "
            "available kinds: kill, pause, restart, drain, redis-failover",
            source=scenario.name,
            field=f"faults[{index}].kind",
        )


@contextmanager
def _target(scenario: Scenario, run_dir: Path) -> Iterator[Target]:
    """Bring the bundled cluster up (torn down on exit) or describe the external target."""
    target = scenario.target
    if target.kind != "bundled":
        yield Target(url=str(target.url), jwt_secret=_external_secret(scenario), cluster=None)
        return
    topo = scenario.topology
    backend = topo.backend
    backend_args = (
        "--retention", str(backend.retention),
        "--dedupe-ttl-s", str(backend.dedupe_ttl_s),
        "--max-body", str(backend.max_body),
        "--ping-interval", f"{backend.ping_interval_s:g}",
        "--ping-timeout", f"{backend.ping_timeout_s:g}",
    )  # fmt: skip
    spec = ClusterSpec(
        run_dir=run_dir,
        nodes=topo.nodes,
        replicas=topo.redis.replicas,
        sentinels=topo.redis.sentinels,
        durability=topo.durability,
        load_balancer=topo.load_balancer == "haproxy",
        jwt_secret=secrets.token_hex(16),
        backend_args=backend_args,
        flaws=tuple(backend.flaws),
    )
    with Cluster.start(spec) as cluster:
        yield Target(url=cluster.info.lb_url, jwt_secret=cluster.info.jwt_secret, cluster=cluster)


@dataclass(frozen=True)
class Distributed:
    """Locust's distributed mode: the load process is a master bound here, waiting for
    ``workers`` remote ``pigeon-lab worker`` processes that run the users."""

    bind: str
    workers: int = 1


def _load_config(
    scenario: Scenario, target: Target, run_dir: Path, distributed: Distributed | None = None
) -> LoadConfig:
    w = scenario.workload
    return LoadConfig(
        urls=[target.url],
        jwt_secret=target.jwt_secret,
        workspaces=w.workspaces,
        channels_per_workspace=w.channels_per_workspace,
        users=w.users,
        channels_per_user=w.channels_per_user,
        channel_skew=w.channel_skew,
        send_rate_per_user=w.send_rate_per_user,
        body_bytes=w.body_bytes,
        ramp_s=w.ramp_s,
        duration_s=w.duration_s,
        ack_timeout_ms=w.ack_timeout_ms,
        send_deadline_ms=w.send_deadline_ms,
        transport=w.transport,
        processes=w.processes,
        adversarial_users=w.adversarial_users,
        duplicate_send_ratio=w.duplicate_send_ratio,
        seed=scenario.seed,
        out_dir=run_dir,
        master_bind=distributed.bind if distributed else None,
        expect_workers=distributed.workers if distributed else 0,
    )


def _planned_faults(scenario: Scenario, target: Target) -> list[PlannedFault]:
    plan = [PlannedFault(f.kind, f.target, f.at_s, f.duration_s) for f in scenario.faults]
    if plan and target.cluster is None:
        raise ConfigError(
            "faults need the bundled cluster; an external target cannot be faulted yet",
            source="scenario",
            field="faults",
        )
    return plan


def _channels(config: LoadConfig) -> list[tuple[str, str]]:
    """Every (workspace, channel) the workload can touch: all of them are read back."""
    return [(ws, ch) for ws in config.workspace_names() for ch in config.channel_names()]


def _drive(
    scenario: Scenario,
    run_dir: Path,
    run_meta: dict[str, Any],
    say: Callable[[str], None],
    on_progress: ProgressFn | None,
    distributed: Distributed | None,
) -> None:
    """Phases 2-6: target up, faults beside the load, heal, quiesce, read back; then down."""
    records: list[FaultRecord] = []
    with _target(scenario, run_dir) as target:
        if target.cluster is not None:
            info = target.cluster.info
            run_meta["cluster"] = info.to_dict(include_secret=False)
            say(f"cluster up: {info.lb_url}")
        run_meta["target"] = target.url
        try:
            check_target(target.url, target.jwt_secret)
        except PigeonLabError as exc:
            run_meta["error"] = str(exc)
            raise
        plan = _planned_faults(scenario, target)
        scheduler = (
            FaultScheduler(target.cluster, plan) if plan and target.cluster is not None else None
        )
        config = _load_config(scenario, target, run_dir, distributed)
        run_meta["load_start_t"] = time.monotonic_ns()
        try:
            if scheduler is not None:
                scheduler.begin()
            say("load running")
            summary = run_load(config, on_progress)
            run_meta["load_summary"] = summary.model_dump(mode="json")
        except BaseException as exc:
            run_meta["error"] = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if scheduler is not None:
                records = scheduler.stop()
            write_faults(run_dir / "faults.json", records)
            run_meta["load_end_t"] = time.monotonic_ns()
        time.sleep(scenario.workload.quiesce_s)
        say("reading back every channel")
        final_log, readback = read_back(target.url, target.jwt_secret, _channels(config))
        write_table(final_log, run_dir / "final_logs.parquet")
        write_table(readback, run_dir / "readback.parquet")
        run_meta["complete"] = True


def run_scenario(
    name_or_path: str,
    *,
    out: Path = Path("reports"),
    seed: int | None = None,
    duration: float | None = None,
    on_progress: ProgressFn | None = None,
    on_phase: Callable[[str], None] | None = None,
    overrides: Mapping[str, Any] | None = None,
    distributed: Distributed | None = None,
) -> RunResult:
    """Run one scenario end to end and return where its reports are and the gate's exit code.

    ``overrides`` (nested or dotted, as ``load_scenario`` takes them) apply over the file;
    ``seed`` and ``duration`` over those.
    """
    say = on_phase or (lambda _msg: None)
    scenario = load_scenario(name_or_path, overrides=_overrides(seed, duration, overrides) or None)
    _refuse_unavailable_faults(scenario)
    run_dir = new_run_dir(out, scenario.name)
    (run_dir / "scenario.yaml").write_text(dump_scenario(scenario))
    started = datetime.now(UTC)
    run_meta: dict[str, Any] = {
        "tool_version": __version__,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "started": started.isoformat(),
        "complete": False,
    }
    say(f"run folder {run_dir}")
    try:
        _drive(scenario, run_dir, run_meta, say, on_progress, distributed)
    finally:
        # run.json is written whatever happened, so a failed run's folder still says how far
        # it got (``complete`` stays false and ``error`` names the failure).
        run_meta["finished"] = datetime.now(UTC).isoformat()
        (run_dir / "run.json").write_text(json.dumps(run_meta, indent=2, default=str))
    say("checking invariants")
    report = recheck_run(run_dir)
    write_reports(run_dir, report)
    return RunResult(run_dir=run_dir, report=report, exit_code=exit_code(report.gate))
