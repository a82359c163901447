"""Re-check a run from its folder alone: read the files, run the checkers, gate, report.

Reads (docs/interfaces.md, "Run folder"): ``run.json``, ``scenario.yaml`` (parsed
into the scenario model: a broken one is a ConfigError naming the file and field),
``history.parquet``, ``faults.json`` (required: a missing one raises ReportError
naming it) and ``final_logs.parquet``, ``readback.parquet`` (when missing, the
checkers get None and say ``unknown``, never ``pass``), ``resources.json`` (optional);
any other ``*.parquet`` (another workload's read-back, e.g. ``voice_rooms.parquet``)
reaches the checkers by file name.

Times in the report are seconds from the run's origin: the first history row's
``t`` (the same origin as the ``slo`` timeline's ``t_s``), or ``run.json``'s
``load_start_t`` when the history is empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pigeon_lab import __version__
from pigeon_lab.checkers.base import (
    CAPABILITIES,
    NEEDS,
    CheckContext,
    FaultWindow,
    ResourceSample,
    Verdict,
)
from pigeon_lab.checkers.slo_metrics import SloMetrics
from pigeon_lab.errors import ConfigError, ReportError
from pigeon_lab.gate_policy import SLO, GatePolicy
from pigeon_lab.history.io import read_parquet
from pigeon_lab.report.gate import evaluate_gate
from pigeon_lab.report.model import Counts, FaultSpan, Report, RunInfo, plain, plain_dict
from pigeon_lab.scenario.loading import scenario_data, scenario_from_text
from pigeon_lab.scenario.model import Scenario

NS = 1_000_000_000


def recheck_run(
    run_dir: Path, policy: GatePolicy | None = None, names: Sequence[str] | None = None
) -> Report:
    """Run the checkers on ``run_dir``'s files and gate them (default: ``checks.gate``).

    ``names`` default: the scenario's ``checks.invariants``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a run folder (no such directory)")
    meta = read_run_json(run_dir / "run.json")
    scenario = read_scenario(run_dir / "scenario.yaml")
    history = _read_parquet(run_dir / "history.parquet", required=True)
    assert history is not None
    windows = read_faults(run_dir / "faults.json")
    context = check_context(
        scenario,
        final_log=_read_parquet(run_dir / "final_logs.parquet", required=False),
        readback=_read_parquet(run_dir / "readback.parquet", required=False),
        faults=windows,
        complete=bool(meta.get("complete", True)),
        resources=read_resources(run_dir / "resources.json"),
        tables=read_tables(run_dir),
    )
    chosen = list(scenario.checks.invariants if names is None else names)
    try:
        from pigeon_lab.checkers.suite import check_all
    except ModuleNotFoundError as exc:
        raise ReportError(f"the checker suite is not available: {exc}") from exc
    try:
        verdicts = check_all(history, context, names=chosen)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0] if exc.args else exc), field="checkers") from exc
    origin = _origin(history, meta)
    return build_report(
        run_id=str(meta.get("id") or run_dir.name),
        meta=meta,
        scenario=scenario,
        verdicts=verdicts,
        policy=scenario.checks.gate if policy is None else policy,
        counts=history_counts(history),
        faults=fault_spans(windows, origin, verdicts),
    )


def check_context(
    scenario: Scenario,
    *,
    final_log: pd.DataFrame | None,
    readback: pd.DataFrame | None,
    faults: Sequence[FaultWindow],
    complete: bool,
    resources: Sequence[ResourceSample] = (),
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> CheckContext:
    """What the checkers read besides the history: the run's files and the scenario as run."""
    return CheckContext(
        tables=dict(tables or {}),
        final_log=final_log,
        readback=readback,
        faults=tuple(faults),
        complete=complete,
        ack_timeout_ms=float(scenario.workload.ack_timeout_ms),
        bucket_s=float(scenario.checks.bucket_s),
        max_counterexamples=scenario.checks.max_counterexamples,
        settle_ms=float(scenario.checks.settle_ms),
        capabilities=target_capabilities(scenario),
        client_groups=_client_groups(scenario),
        resources=tuple(resources),
    )


def target_capabilities(scenario: Scenario) -> frozenset[str]:
    """What the scenario's target can show: all for the bundled backend, else its profile's."""
    can = scenario.target.profile_model().capabilities
    return frozenset(c for c in CAPABILITIES if getattr(can, c))


def read_resources(path: Path) -> list[ResourceSample]:
    """``resources.json`` (optional: older runs and external targets have none)."""
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text())
        return [ResourceSample(int(r["t"]), str(r["process"]), int(r["rss_bytes"])) for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportError(f"{path}: unreadable resource samples: {exc}") from exc


def _client_groups(scenario: Scenario) -> dict[str, str]:
    """User -> client group, as the load assigned them (the same seeded draw)."""
    topo = scenario.topology
    if not topo.client_groups:
        return {}
    groups = topo.user_groups(scenario.workload.users, scenario.seed)
    return {f"u{i}": g for i, g in enumerate(groups)}


def build_report(
    *,
    run_id: str,
    meta: Mapping[str, Any],
    scenario: Scenario,
    verdicts: Sequence[Verdict],
    policy: GatePolicy,
    counts: Counts,
    faults: Sequence[FaultSpan],
) -> Report:
    """A Report from what a run produced (gate evaluated here); the report carries the
    resolved scenario as plain data (``scenario_data``, as ``scenario.yaml`` holds it)."""
    started, finished = _iso(meta.get("started")), _iso(meta.get("finished"))
    duration = None
    if started and finished:
        try:
            delta = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
            duration = delta.total_seconds()
        except (ValueError, TypeError):
            duration = None
    if (
        duration is None
        and isinstance(meta.get("load_start_t"), int)
        and isinstance(meta.get("load_end_t"), int)
    ):
        duration = (meta["load_end_t"] - meta["load_start_t"]) / NS
    topology = scenario.topology.model_dump(mode="json", exclude_none=True)
    if isinstance(meta.get("cluster"), Mapping):
        topology["cluster"] = plain(meta["cluster"])
    target = meta.get("target")
    seed = meta.get("seed", scenario.seed)
    run = RunInfo(
        id=run_id,
        scenario=str(meta.get("scenario") or scenario.name),
        seed=int(seed) if isinstance(seed, int) else None,
        started=started,
        finished=finished,
        duration_s=duration,
        complete=bool(meta.get("complete", True)),
        target=None if target is None else str(target),
        topology=plain_dict(topology),
        capabilities=sorted(target_capabilities(scenario)),
        rests_on={v.name: list(NEEDS.get(v.name, ())) for v in verdicts},
    )
    return Report(
        run=run,
        verdicts=list(verdicts),
        gate=evaluate_gate(verdicts, policy, faults),
        counts=counts,
        faults=list(faults),
        scenario=plain_dict(scenario_data(scenario)),
        tool_version=str(meta.get("tool_version") or __version__),
    )


OWN_TABLES = frozenset({"history.parquet", "final_logs.parquet", "readback.parquet"})


def read_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    """Every other Parquet file of the run folder (other workloads' read-backs), by name."""
    return {
        p.name: read_parquet(p)
        for p in sorted(run_dir.glob("*.parquet"))
        if p.name not in OWN_TABLES
    }


def read_run_json(path: Path) -> dict[str, Any]:
    """``run.json`` as a dict."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return data


def read_scenario(path: Path) -> Scenario:
    """``scenario.yaml`` (as run) parsed into the scenario model.

    A missing or unreadable file is a ReportError, one that does not validate a
    ConfigError; both name the file (and the field)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReportError(f"{path}: missing from the run folder") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc
    return scenario_from_text(text, source=str(path))


def read_faults(path: Path) -> list[FaultWindow]:
    """``faults.json``: a JSON array of faults (times in ns on the history clock).

    Each ``{kind, target, start_t, end_t, params, error, label}``; ``params``, ``error``
    and ``label`` may be absent (older run folders): ``{}``, None, ``"<kind> <target>"``.
    """
    data = _read_json(path)
    if not isinstance(data, list):
        raise ReportError(f"{path}: expected a JSON array of faults")
    out = []
    for i, f in enumerate(data):
        try:
            out.append(_fault_window(f))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportError(
                f"{path}: fault [{i}] is not {{kind, target, start_t, end_t, params, error, "
                f"label}}: {exc!r}"
            ) from exc
    return out


def _fault_window(f: Any) -> FaultWindow:
    if not isinstance(f, Mapping):
        raise TypeError(f"expected an object, got {type(f).__name__}")
    end, params, error = f.get("end_t"), f.get("params") or {}, f.get("error")
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be an object, got {type(params).__name__}")
    return FaultWindow(
        str(f["kind"]),
        str(f["target"]),
        int(f["start_t"]),
        None if end is None else int(end),
        params=dict(params),
        error=None if error is None else str(error),
        label=str(f.get("label") or ""),
    )


def history_counts(history: pd.DataFrame) -> Counts:
    """Rows, clients, distinct sends and acks (by client_msg_id), deliveries."""
    if history.empty:
        return Counts()
    kind = history["kind"].astype(str)

    def distinct(k: str) -> int:
        rows = history[kind == k]
        ids = (
            rows["client_msg_id"].dropna()
            if "client_msg_id" in rows
            else pd.Series([], dtype=object)
        )
        return int(ids.nunique()) if len(ids) == len(rows) else len(rows)

    return Counts(
        rows=len(history),
        clients=int(history["client"].nunique()),
        sends=distinct("send_invoke"),
        acks=distinct("send_ok"),
        deliveries=int((kind == "deliver").sum()),
    )


def fault_spans(
    windows: Sequence[FaultWindow], origin: int, verdicts: Sequence[Verdict] = ()
) -> list[FaultSpan]:
    """Fault windows in seconds from ``origin``; the slo verdict's own times win if it has any."""
    slo = next((v for v in verdicts if v.name == SLO), None)
    measured = SloMetrics.from_verdict(slo).faults
    spans = []
    for i, w in enumerate(windows):
        start = (w.start_t - origin) / NS
        end = None if w.end_t is None else (w.end_t - origin) / NS
        if len(measured) == len(windows):  # the same windows, as the slo checker timed them
            start = measured[i].start_s
            end = measured[i].end_s if measured[i].end_s is not None else end
        spans.append(
            FaultSpan(
                w.kind,
                w.target,
                round(start, 6),
                None if end is None else round(end, 6),
                params=plain_dict(w.params),
                error=w.error,
                label=w.label,
            )
        )
    return spans


def _origin(history: pd.DataFrame, meta: Mapping[str, Any]) -> int:
    if not history.empty and "t" in history:
        return int(history["t"].min())
    start = meta.get("load_start_t")
    return int(start) if isinstance(start, int) else 0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"{path}: missing from the run folder") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc


def _read_parquet(path: Path, *, required: bool) -> pd.DataFrame | None:
    if not path.exists():
        if required:
            raise ReportError(f"{path}: missing from the run folder")
        return None
    return read_parquet(path)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value)).isoformat()
    except ValueError:
        return str(value)
