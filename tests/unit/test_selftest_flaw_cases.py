"""The selftest cases of the flaws of reference_backend/flaw_hooks.py: each runs under what
exposes it, and a correct-backend twin runs under the same conditions."""

from __future__ import annotations

from pigeon_lab.scenario.topology import FLAWS
from pigeon_lab.selftest import CASES, ISSUE8_CASES, ONE_NODE_BLIP, SelftestCase
from reference_backend import flaw_hooks, flaws


def case(name: str) -> SelftestCase:
    return next(c for c in CASES if c.name == name)


def test_every_hooked_flaw_has_its_case_and_is_a_scenario_flaw() -> None:
    assert {c.flaw for c in ISSUE8_CASES} == set(flaws.HOOK_FLAWS)
    assert set(flaws.HOOK_FLAWS) <= set(FLAWS) and len(FLAWS) >= 12
    assert all(c in CASES and c.expect_fail for c in ISSUE8_CASES)
    assert CASES[-1].name == "ack-before-persist"


def test_the_cases_run_under_what_exposes_them() -> None:
    tail = case("drop-tail-push").scenario()
    assert tail.workload.catch_up is False and tail.checks.settle_ms <= 1000
    for name in ("stale-sync", "lost-on-reconnect", "correct-blip"):
        s = case(name).scenario()
        assert s.topology.load_balancer == "none" and s.topology.nodes == 3, name
        assert [(f.kind, f.target) for f in s.faults] == [("kill", "node-1")], name
        assert case(name).requires.get("slo.reconnects", 0) >= 1, name
    stale = case("stale-sync").scenario()
    # the lagging replica has caught up by the read-back: durability is not what catches it
    assert stale.workload.quiesce_s * 1000 > flaw_hooks.STALE_LAG_MS
    assert case("leak-one-push").scenario().topology.nodes == 1
    assert case("ghost-member").scenario().workload.adversarial_users >= 1


def test_the_correct_twin_runs_under_the_conditions_of_the_flaws() -> None:
    twin = case("correct-blip")
    assert twin.flaw is None and not twin.expect_fail
    s = twin.scenario()
    assert s.workload.catch_up is False and s.checks.settle_ms <= 1000
    assert ONE_NODE_BLIP["faults"] == [f.model_dump(exclude_defaults=True) for f in s.faults]
