"""The HTML report says, beside each checker's verdict, what a pass proves and what the
checker cannot see, read from the checker modules through the registry."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from pigeon_lab.checkers import REGISTRY, Outcome, Verdict, describe, durability, register, slo
from pigeon_lab.checkers import base as checker_base
from pigeon_lab.report.html import render_html
from pigeon_lab.report.sample import sample_report


def test_every_bundled_checker_says_what_it_proves_and_cannot_see() -> None:
    for name in ("durability", "order", "gaps", "delivery", "idempotence", "isolation", "slo"):
        d = describe(name)
        assert d is not None and d.proves.endswith("."), name
        assert d.blind_spots and all(isinstance(s, str) and s for s in d.blind_spots), name
    assert describe("slo") == checker_base.Description(slo.PROVES, slo.BLIND_SPOTS)


def _section(html: str, name: str) -> str:
    m = re.search(rf'<details class="inv" id="inv-{name}".*?</details>', html, re.S)
    assert m, name
    return m.group(0)


def test_the_report_shows_them_beside_each_verdict() -> None:
    html = render_html(sample_report())
    body = _section(html, "durability")
    assert "A pass proves:" in body and durability.PROVES in body
    for spot in durability.BLIND_SPOTS:
        assert f"<li>{spot}</li>" in body
    assert f'title="proves: {durability.PROVES}"' in html


def test_a_checker_that_says_nothing_gets_no_description(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checker_base, "REGISTRY", dict(REGISTRY))
    monkeypatch.setattr(checker_base, "DESCRIPTIONS", {})
    monkeypatch.setattr(checker_base, "NEEDS", dict(checker_base.NEEDS))

    @register("plugin-check")
    def check(history: object, ctx: object) -> Verdict:
        return Verdict("plugin-check", Outcome.PASS, "")

    assert describe("plugin-check") is None
    report = sample_report()
    extra = Verdict("plugin-check", Outcome.PASS, "fine")
    html = render_html(replace(report, verdicts=[*report.verdicts, extra]))
    assert "A pass proves:" not in _section(html, "plugin-check")
    checker_base.declare_description("plugin-check", "Plugins <can> say it.", ("one & two",))
    html = render_html(replace(report, verdicts=[*report.verdicts, extra]))
    body = _section(html, "plugin-check")
    assert "Plugins &lt;can&gt; say it." in body and "<li>one &amp; two</li>" in body
