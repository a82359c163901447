"""Re-check a run from its folder alone: read the files, run the checkers, gate, report.

Reads (docs/interfaces.md, "Run folder"): ``run.json``, ``scenario.yaml``,
``history.parquet``, ``faults.json`` (required: a missing one raises ReportError
naming it) and ``final_logs.parquet``, ``readback.parquet`` (when missing, the
checkers get None and say ``unknown``, never ``pass``).

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
import yaml

from pigeon_lab import __version__
from pigeon_lab.checkers.base import CheckContext, FaultWindow, Verdict
from pigeon_lab.errors import ConfigError, ReportError
from pigeon_lab.history.io import read_parquet
from pigeon_lab.report.gate import SLO, evaluate_gate, gate_policy_of_scenario
from pigeon_lab.report.model import Counts, FaultSpan, Report, RunInfo, plain, plain_dict
from pigeon_lab.report.policy import GatePolicy

NS = 1_000_000_000


def recheck_run(
    run_dir: Path, policy: GatePolicy | None = None, names: Sequence[str] | None = None
) -> Report:
    """Run the checkers on ``run_dir``'s files and gate them (default: ``checks.gate``)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a run folder (no such directory)")
    meta = read_run_json(run_dir / "run.json")
    scenario = read_scenario(run_dir / "scenario.yaml")
    history = _read_parquet(run_dir / "history.parquet", required=True)
    assert history is not None
    final_log = _read_parquet(run_dir / "final_logs.parquet", required=False)
    readback = _read_parquet(run_dir / "readback.parquet", required=False)
    windows = read_faults(run_dir / "faults.json")
    checks = _mapping(scenario.get("checks"))
    workload = _mapping(scenario.get("workload"))
    context = CheckContext(
        final_log=final_log,
        readback=readback,
        faults=tuple(windows),
        complete=bool(meta.get("complete", True)),
        ack_timeout_ms=float(
            workload.get("ack_timeout_ms") or checks.get("ack_timeout_ms") or 5000.0
        ),
        bucket_s=float(checks.get("bucket_s") or 1.0),
        max_counterexamples=int(checks.get("max_counterexamples") or 10),
    )
    if names is None and checks.get("invariants"):
        names = [str(n) for n in checks["invariants"]]
    try:
        from pigeon_lab.checkers.suite import check_all
    except ModuleNotFoundError as exc:
        raise ReportError(f"the checker suite is not available: {exc}") from exc
    try:
        verdicts = check_all(history, context, names=list(names) if names is not None else None)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0] if exc.args else exc), field="checkers") from exc
    if policy is None:
        policy = gate_policy_of_scenario(scenario, source=str(run_dir / "scenario.yaml"))
    origin = _origin(history, meta)
    return build_report(
        run_id=str(meta.get("id") or run_dir.name),
        meta=meta,
        scenario=scenario,
        verdicts=verdicts,
        policy=policy,
        counts=history_counts(history),
        faults=fault_spans(windows, origin, verdicts),
    )


def build_report(
    *,
    run_id: str,
    meta: Mapping[str, Any],
    scenario: Mapping[str, Any],
    verdicts: Sequence[Verdict],
    policy: GatePolicy,
    counts: Counts,
    faults: Sequence[FaultSpan],
) -> Report:
    """A Report from what a run produced (gate evaluated here)."""
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
    topology = dict(_mapping(scenario.get("topology")))
    if isinstance(meta.get("cluster"), Mapping):
        topology["cluster"] = plain(meta["cluster"])
    target = meta.get("target")
    seed = meta.get("seed", scenario.get("seed"))
    run = RunInfo(
        id=run_id,
        scenario=str(meta.get("scenario") or scenario.get("name") or "scenario"),
        seed=int(seed) if isinstance(seed, int) else None,
        started=started,
        finished=finished,
        duration_s=duration,
        complete=bool(meta.get("complete", True)),
        target=None if target is None else str(target),
        topology=plain_dict(topology),
    )
    return Report(
        run=run,
        verdicts=list(verdicts),
        gate=evaluate_gate(verdicts, policy),
        counts=counts,
        faults=list(faults),
        scenario=plain_dict(scenario),
        tool_version=str(meta.get("tool_version") or __version__),
    )


def read_run_json(path: Path) -> dict[str, Any]:
    """``run.json`` as a dict."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return data


def read_scenario(path: Path) -> dict[str, Any]:
    """``scenario.yaml`` (as run) as a plain dict."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"{path}: missing from the run folder") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a mapping at the top")
    return data


def read_faults(path: Path) -> list[FaultWindow]:
    """``faults.json``: a JSON array of {kind, target, start_t, end_t} (ns, history clock)."""
    data = _read_json(path)
    if not isinstance(data, list):
        raise ReportError(f"{path}: expected a JSON array of faults")
    out = []
    for i, f in enumerate(data):
        try:
            end = f.get("end_t")
            out.append(FaultWindow(str(f["kind"]), str(f["target"]), int(f["start_t"]),
                                   None if end is None else int(end)))  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportError(
                f"{path}: fault [{i}] is not {{kind, target, start_t, end_t}}: {exc!r}"
            ) from exc
    return out


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
    measured = slo.metrics.get("faults") if slo is not None else None
    spans = []
    for i, w in enumerate(windows):
        start = (w.start_t - origin) / NS
        end = None if w.end_t is None else (w.end_t - origin) / NS
        if (
            isinstance(measured, list)
            and len(measured) == len(windows)
            and isinstance(measured[i], dict)
        ):
            m = measured[i]
            if isinstance(m.get("start_s"), (int, float)):
                start = float(m["start_s"])
                end = float(m["end_s"]) if isinstance(m.get("end_s"), (int, float)) else end
        spans.append(
            FaultSpan(w.kind, w.target, round(start, 6), None if end is None else round(end, 6))
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


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value)).isoformat()
    except ValueError:
        return str(value)
