"""Write a run's three reports (report.json, junit.xml, report.html) and read them back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pigeon_lab.errors import ReportError
from pigeon_lab.report.html import render_html
from pigeon_lab.report.junit import junit_xml
from pigeon_lab.report.model import Report

REPORT_JSON, JUNIT_XML, REPORT_HTML = "report.json", "junit.xml", "report.html"


@dataclass(frozen=True)
class ReportPaths:
    """Where the three reports of a run were written."""

    json: Path
    junit: Path
    html: Path

    def __iter__(self) -> Iterator[Path]:
        return iter((self.json, self.junit, self.html))


def write_reports(run_dir: Path, report: Report) -> ReportPaths:
    """Write report.json, junit.xml and report.html into ``run_dir`` (each atomically)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a run folder (no such directory)")
    try:
        texts = {
            REPORT_JSON: report.to_json(),
            JUNIT_XML: junit_xml(report),
            REPORT_HTML: render_html(report),
        }
    except Exception as exc:
        raise ReportError(
            f"{run_dir}: cannot render the reports: {type(exc).__name__}: {exc}"
        ) from exc
    for name, text in texts.items():
        _write_atomic(run_dir / name, text)
    return ReportPaths(run_dir / REPORT_JSON, run_dir / JUNIT_XML, run_dir / REPORT_HTML)


def load_report(run_dir: Path) -> Report:
    """The Report in ``run_dir/report.json`` (``run_dir`` may also be the JSON file itself)."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / REPORT_JSON
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ReportError(
            f"{path}: no report.json (render it with `pigeon-lab report render`)"
        ) from exc
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return Report.from_json(text)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from exc


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write: {exc.strerror}") from exc
