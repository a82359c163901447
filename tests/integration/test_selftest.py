"""Every selftest case on the real bundled cluster: each checker can fail, none fails for nothing.

One short smoke run per case (about 15 s each). A flaw case must make its checker
fail with a counterexample in report.json; the correct-backend cases must pass every
checker. This is the proof that the verdicts of the other runs mean something.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pigeon_lab.cluster.procfs import processes_under
from pigeon_lab.selftest import CASES, SelftestCase, run_case, run_selftest
from tests.conftest import require_cluster_binaries

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture()
def out() -> Iterator[Path]:
    """A folder of its own, outside pytest's basetemp (which a concurrent pytest session may
    prune mid-run); removed when the test passes, kept (and named) when it fails."""
    path = Path(tempfile.mkdtemp(prefix="pigeon-selftest-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _verdicts(run_dir: Path) -> dict[str, dict[str, object]]:
    report = json.loads((run_dir / "report.json").read_text())
    return {v["name"]: v for v in report["verdicts"]}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_behaves_as_expected(case: SelftestCase, out: Path) -> None:
    require_cluster_binaries()
    result = run_case(case, out)
    assert result.run_dir is not None, result.reason
    assert not processes_under(result.run_dir), "the run left processes behind"
    if not result.ok:  # keep the run folder to look at
        kept = Path(tempfile.gettempdir()) / f"pigeon-selftest-failed-{case.name}-{out.name}"
        shutil.copytree(out, kept, dirs_exist_ok=True)
        pytest.fail(
            f"{result.reason}\n{result.error or ''}\noutcomes: {result.outcomes}\n"
            f"run folder kept in {kept}"
        )
    verdicts = _verdicts(result.run_dir)
    if not case.expect_fail:
        assert {n: v["outcome"] for n, v in verdicts.items()} == dict.fromkeys(verdicts, "pass")
        return
    for name in case.expect_fail:
        v = verdicts[name]
        assert v["outcome"] == "fail", (name, v["summary"])
        examples = v["counterexamples"]
        assert isinstance(examples, list) and examples, f"{name} failed without a counterexample"
        assert all(e["rows"] for e in examples), f"{name}: a counterexample without rows"


def test_run_selftest_writes_a_summary_and_an_exit_code(out: Path) -> None:
    require_cluster_binaries()
    result = run_selftest(["no-dedupe"], out=out)
    assert [r.case.name for r in result.results] == ["no-dedupe"]
    assert result.exit_code == (0 if result.ok else 1) == 0, result.results[0].reason
    summary = json.loads((out / "selftest.json").read_text())
    assert summary["ok"] is True and summary["cases"][0]["failed"][:1] == ["idempotence"]
