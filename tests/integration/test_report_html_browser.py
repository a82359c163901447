"""report.html in headless Chromium: renders offline, no console or page errors, charts drawn.

``check_report_in_browser(path)`` is importable so that end-to-end tests can run
the same check on a real run's report.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pigeon_lab.report.render import write_reports
from pigeon_lab.report.sample import sample_report

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def check_report_in_browser(path: Path, screenshot: Path | None = None) -> dict[str, Any]:
    """Open ``path`` in headless Chromium with the network blocked; report what was seen.

    Returns ``console_errors`` and ``page_errors`` (lists of str), ``requests``
    (every non-file URL the page tried to fetch), ``verdict_rows`` (rows of
    ``#verdicts``), ``verdicts_visible`` (bool), ``charts`` (count of
    ``svg.chart``) and ``chart_sizes`` ([(w, h)] as laid out).
    """
    from playwright.sync_api import sync_playwright

    console_errors: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def on_route(route: Any) -> None:
                url = route.request.url
                if url.startswith(("file:", "data:", "about:")):
                    route.continue_()
                else:
                    requests.append(url)
                    route.abort()

            page.route("**/*", on_route)
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            verdicts = page.locator("#verdicts")
            sizes = page.eval_on_selector_all(
                "svg.chart",
                "els => els.map(e => {"
                " const r = e.getBoundingClientRect(); return [r.width, r.height]; })",
            )
            result = {
                "console_errors": console_errors,
                "page_errors": page_errors,
                "requests": requests,
                "verdicts_visible": verdicts.is_visible(),
                "verdict_rows": page.locator("#verdicts tbody tr").count(),
                "charts": len(sizes),
                "chart_sizes": [tuple(s) for s in sizes],
                "title": page.title(),
            }
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return result


requires_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} not installed (apt-get install chromium)"
)


@pytest.mark.integration
@requires_chromium
@pytest.mark.parametrize("failing", [True, False], ids=["failing-run", "passing-run"])
def test_report_html_renders_offline_without_errors(tmp_path: Path, failing: bool) -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright (python) not installed")
    paths = write_reports(tmp_path, sample_report(failing=failing))
    seen = check_report_in_browser(paths.html)
    assert seen["console_errors"] == [], seen["console_errors"]
    assert seen["page_errors"] == [], seen["page_errors"]
    assert seen["requests"] == [], f"the report fetched from the network: {seen['requests']}"
    assert seen["verdicts_visible"]
    assert seen["verdict_rows"] == 7
    assert seen["charts"] >= 6
    assert all(w > 100 and h > 50 for w, h in seen["chart_sizes"]), seen["chart_sizes"]
    assert seen["title"].startswith("FAIL" if failing else "PASS")
