"""Reports of a run: report.json (model.py), junit.xml (junit.py), report.html (html.py,
charts.py, templates/), the gate (gate.py, policy.py), run-to-run diffs (diff.py), and
re-checking a run folder (recheck.py). ``render.write_reports`` writes all three files.

Kept import-light on purpose: ``pigeon_lab.report.policy`` is imported by the scenario
model, so nothing heavy is imported here.
"""
