"""Reports of a run: report.json (model.py), junit.xml (junit.py), report.html (html.py,
charts.py, templates/), the gate (gate.py, policy.py), run-to-run diffs (diff.py), and
re-checking a run folder (recheck.py). ``render.write_reports`` writes all three files.

Nothing is imported here: importing one module of the package should not import the
others. The scenario layer never imports this package (the gate policy it shares with
the report layer lives in ``pigeon_lab.gate_policy``; ``policy.py`` re-exports it).
"""
