"""The probe's and the review's HTML pages: self-contained, in the run report's style.

The CSS is the run report's own (taken from ``report/templates/report.html.j2`` at
render time, so the three pages keep one look); ``advisor/templates/`` adds the few
classes these pages need (severity badges).
"""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pigeon_lab.advisor.findings import SEVERITIES, ProbeResult, Severity
from pigeon_lab.advisor.probe import FAMILIES
from pigeon_lab.advisor.review import Review
from pigeon_lab.report.html import TEMPLATES as REPORT_TEMPLATES

TEMPLATES = Path(__file__).parent / "templates"
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def report_css() -> Markup:
    """The run report's stylesheet, rendered (it is a Jinja block with a loop)."""
    source = (REPORT_TEMPLATES / "report.html.j2").read_text(encoding="utf-8")
    found = _STYLE.search(source)
    css = Environment(autoescape=False).from_string(found.group(1)).render() if found else ""
    return Markup(css)  # our own template's CSS, not user input


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(report_css=report_css, severities=[s.value for s in SEVERITIES])
    return env


def render_probe_html(result: ProbeResult, fail_on: str = "low") -> str:
    families = {name: f.title for name, f in FAMILIES.items()}
    findings = [r for r in result.results if r.is_finding]
    gated = [r for r in result.results if r.gates(Severity(fail_on))]
    return (
        _env()
        .get_template("probe.html.j2")
        .render(p=result, families=families, findings=findings, gated=gated, fail_on=fail_on)
    )


def write_probe_html(result: ProbeResult, path: Path, fail_on: str = "low") -> Path:
    path.write_text(render_probe_html(result, fail_on), encoding="utf-8")
    return path


def render_review_html(review: Review, fail_on: str = "low") -> str:
    topics: dict[str, list[object]] = {}
    for r in review.rules:
        topics.setdefault(r.topic or "other", []).append(r)
    return (
        _env()
        .get_template("review.html.j2")
        .render(rv=review, topics=topics, counts=review.counts(), fail_on=fail_on)
    )


def write_review_html(review: Review, path: Path, fail_on: str = "low") -> Path:
    path.write_text(render_review_html(review, fail_on), encoding="utf-8")
    return path


__all__ = [
    "render_probe_html",
    "render_review_html",
    "report_css",
    "write_probe_html",
    "write_review_html",
]
