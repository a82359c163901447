"""The advisor's pure parts: severities and results, Engine.IO packets by hand, forged
tokens, the restraint of the probe, HAProxy without stickiness, how a review combines
its evidence, and how a design configures the bundled cluster."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon_lab.advisor.design import Design, design_from_mapping, load_design
from pigeon_lab.advisor.findings import CheckResult, Exchange, ProbeLimits, ProbeResult, Severity
from pigeon_lab.advisor.probe.csr import parse_event
from pigeon_lab.advisor.probe.eio import (
    OpenPacket,
    connect_packet,
    event_packet,
    is_unknown_session,
    split_payload,
)
from pigeon_lab.advisor.probe.limits import Budget, Pace
from pigeon_lab.advisor.probe.tokens import GARBAGE, alg_none, show_token, wrong_signature
from pigeon_lab.advisor.prove import configured, design_overrides, run_proofs
from pigeon_lab.advisor.review import ProofResult, combine, review
from pigeon_lab.advisor.rules import RULES
from pigeon_lab.advisor.rules.base import Judgement, Proof, Rule
from pigeon_lab.cluster.haproxy import haproxy_config, without_stickiness
from pigeon_lab.errors import ConfigError
from pigeon_lab.scenario.loading import load_scenario


def result(check: str, status: str, severity: Severity | None = None) -> CheckResult:
    family = check.split(".")[0]
    return CheckResult(check, family, "t", status, "s", "r", "f", severity)  # type: ignore[arg-type]


def probe_of(*results: CheckResult) -> ProbeResult:
    return ProbeResult("http://x", ("http://x",), "pigeon", "now", 1.0, ProbeLimits(), results)


# ----- severities and results ---------------------------------------------------------
def test_severities_order_and_parse() -> None:
    assert [s.value for s in Severity] == ["info", "low", "medium", "high", "critical"]
    assert Severity.HIGH.at_least(Severity.MEDIUM) and not Severity.LOW.at_least(Severity.HIGH)
    assert Severity.parse("HIGH") is Severity.HIGH
    with pytest.raises(ConfigError, match="'severe' is not a severity"):
        Severity.parse("severe")


def test_only_findings_at_or_above_the_threshold_gate() -> None:
    info = result("cors.origin", "finding", Severity.INFO)
    medium = result("auth.expiry-live", "finding", Severity.MEDIUM)
    passing = result("auth.missing", "pass")
    assert not info.gates(Severity.LOW) and not passing.gates(Severity.LOW)
    assert medium.gates(Severity.LOW) and medium.gates(Severity.MEDIUM)
    assert not medium.gates(Severity.HIGH)
    assert probe_of(info, passing).exit_code(Severity.LOW) == 0
    assert probe_of(info, medium).exit_code(Severity.MEDIUM) == 1
    assert probe_of(info, medium).exit_code(Severity.CRITICAL) == 0


def test_a_probe_result_round_trips_through_json() -> None:
    r = CheckResult("acks.timely", "acks", "t", "finding", "slow", "ack-timeouts", "fix",
                    Severity.HIGH, (Exchange("emit send", "no ack"),), 12.5)  # fmt: skip
    p = probe_of(r, result("cors.origin", "pass"))
    back = ProbeResult.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back == p
    with pytest.raises(ConfigError, match="not the JSON of `pigeon-lab probe --json`"):
        ProbeResult.from_dict({"kind": "something else"})


# ----- Engine.IO by hand --------------------------------------------------------------
def test_packets() -> None:
    assert connect_packet("/", {"token": "t"}) == '40{"token":"t"}'
    assert connect_packet("/chat", None) == "40/chat,"
    assert event_packet("/", 3, "join", {"channel": "c"}) == '423["join",{"channel":"c"}]'
    assert event_packet("/chat", 1, "enter", {}) == '42/chat,1["enter",{}]'
    assert split_payload('40{"sid":"a"}\x1e431[{"ok":true}]') == [
        '40{"sid":"a"}',
        '431[{"ok":true}]',
    ]
    assert parse_event('42/chat,["posted",{"text":"x"},"off-1"]') == (
        None, ["posted", {"text": "x"}, "off-1"],
    )  # fmt: skip
    assert parse_event('4312[{"ok":true}]') == (12, [{"ok": True}])
    assert parse_event("40") is None


def test_the_open_packet() -> None:
    body = '0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'  # noqa: E501
    opened = OpenPacket.parse(body)
    assert opened is not None and opened.sid == "abc" and opened.upgrades == ("websocket",)
    assert (opened.ping_interval_ms, opened.ping_timeout_ms, opened.max_payload) == (
        25000, 20000, 1000000,
    )  # fmt: skip
    assert OpenPacket.parse('"Invalid session"') is None
    assert OpenPacket.parse("0{not json") is None


def test_both_wordings_of_an_unknown_session() -> None:
    assert is_unknown_session(400, '{"code":1,"message":"Session ID unknown"}')  # engine.io
    assert is_unknown_session(400, '"Invalid session abc"')  # python-engineio
    assert not is_unknown_session(400, '"Transport unknown"')
    assert not is_unknown_session(200, "Invalid session")


# ----- tokens -------------------------------------------------------------------------
def test_forged_tokens_carry_the_valid_claims_and_fail_verification() -> None:
    valid = jwt.encode({"sub": "u", "ws": "w", "exp": int(time.time()) + 60}, "s" * 32, "HS256")
    forged = wrong_signature(valid)
    assert jwt.decode(forged, options={"verify_signature": False})["sub"] == "u"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, "s" * 32, algorithms=["HS256"])
    none = alg_none(valid)
    header, claims, signature = none.split(".")
    assert signature == ""
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"] == "none"
    assert json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["ws"] == "w"
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(none, "s" * 32, algorithms=["HS256"])


def test_evidence_never_shows_a_whole_token() -> None:
    valid = jwt.encode({"sub": "u", "ws": "w", "exp": int(time.time()) + 60}, "s" * 32, "HS256")
    shown = show_token(valid)
    assert valid not in shown and "sub=u" in shown and "alg=HS256" in shown
    assert "exp in" in shown
    assert "alg=none" in show_token(alg_none(valid))
    assert show_token(GARBAGE).startswith("<not a JWT")
    assert show_token(None) == "<no token>"


# ----- restraint ----------------------------------------------------------------------
def test_the_pace_holds_its_rate_over_threads() -> None:
    pace = Pace(100)  # a one-second bucket of 100, then 100/s
    t0 = time.monotonic()

    def take() -> None:
        for _ in range(50):
            pace.take()

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pace.taken == 200
    assert time.monotonic() - t0 >= 0.9  # 100 at once, the other 100 at 100/s


def test_the_budget_reserves_all_or_waits() -> None:
    budget = Budget(4)
    assert budget.reserve(3) == 3
    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(budget.reserve(2)))
    t.start()
    time.sleep(0.1)
    assert got == []  # 1 free, 2 wanted: waits
    budget.release(3)
    t.join(1)
    assert got == [2]
    budget.release(2)
    assert budget.reserve(10) == 4  # never more than the total


@given(st.integers(min_value=1, max_value=8))
def test_the_budget_counts_connections(n: int) -> None:
    budget = Budget(8)
    for _ in range(n):
        budget.opening()
    for _ in range(n):
        budget.closed()
    assert budget.opened == n and budget.peak == n


# ----- HAProxy without stickiness -----------------------------------------------------
HARDENED_LINES = (
    "    use-server node-1 if { url_param(sid) -m beg node-1. }\n"
    "    use-server node-2 if { url_param(sid) -m beg node-2. }\n"
    "    stick-table type string len 64 size 10k\n"
    "    stick on url_param(sid)\n"
)


@pytest.mark.parametrize("extra", ["", HARDENED_LINES])
def test_no_stickiness_is_left(extra: str) -> None:
    config = haproxy_config(8000, 8001, {"node-1": 9001, "node-2": 9002})
    config = config.replace("    cookie SERVERID", extra + "    cookie SERVERID")
    plain = without_stickiness(config)
    for word in ("cookie", "use-server", "stick", "url_param"):
        assert word not in plain, word
    assert "balance roundrobin" in plain and "leastconn" not in plain
    assert "server node-1 127.0.0.1:9001 check" in plain
    assert "option redispatch" in plain and "option httpchk GET /readyz" in plain


# ----- how a review combines evidence -------------------------------------------------
def test_a_failure_is_never_outvoted() -> None:
    from pigeon_lab.advisor.review import Evidence

    ok, bad, unsure = (Evidence("design", o, o) for o in ("pass", "fail", "unknown"))
    assert combine([ok, bad, unsure]) == ("fail", "fail")
    assert combine([unsure, ok]) == ("pass", "pass")
    assert combine([unsure]) == ("unknown", "unknown")
    assert combine([])[0] == "unknown"


def test_a_probe_finding_fails_a_rule_the_design_passes() -> None:
    design = load_design("reference")
    probe = probe_of(
        result("delivery.acked-readable", "finding", Severity.CRITICAL),
        result("cors.origin", "finding", Severity.INFO),
        result("auth.expiry-live", "unknown"),
    )
    rv = review(design, probe)
    by_id = {r.id: r for r in rv.rules}
    assert by_id["ack-after-durable-write"].outcome == "fail"
    assert by_id["cors-origins"].outcome == "pass"  # info: the note, not a failure
    assert by_id["expiry-on-live-sockets"].outcome == "pass"  # the design says; probe unsure
    assert rv.exit_code(Severity.LOW) == 1 and rv.exit_code(Severity.CRITICAL) == 1
    assert [r.id for r in rv.failed()] == ["ack-after-durable-write"]


def test_a_probe_alone_judges_only_the_rules_it_tested() -> None:
    rv = review(None, probe_of(result("isolation.rooms", "pass")))
    by_id = {r.id: r for r in rv.rules}
    assert by_id["tenant-scoped-rooms"].outcome == "pass"
    assert by_id["replicated-acks"].outcome == "unknown"
    assert rv.exit_code(Severity.LOW) == 0 and rv.exit_code(Severity.LOW, strict=True) == 1


def test_a_proof_run_that_failed_fails_the_rule() -> None:
    design = load_design("reference")
    proof = ProofResult("scenario:redis-failover", "scenario", "redis-failover", "fail",
                        "durability fail: 3 of 90 acknowledged writes lost")  # fmt: skip
    rv = review(design, rules=["replicated-acks"], proofs=[proof])
    (only,) = rv.rules
    assert (
        only.outcome == "fail"
        and "failed on the bundled cluster configured like the design" in only.reason
    )
    assert rv.proof("scenario:redis-failover") == proof


def test_nothing_to_review_and_unknown_rules_are_refused() -> None:
    with pytest.raises(ConfigError, match="give a design file"):
        review(None, None)
    with pytest.raises(ConfigError, match="unknown design rule 'no-such'"):
        review(Design(), rules=["no-such"])


# ----- the bundled cluster configured like a design -----------------------------------
def test_the_reference_design_configures_a_correct_cluster() -> None:
    over, notes = design_overrides(load_design("reference"))
    assert over["topology"]["durability"] == "replicated"
    assert over["topology"]["sticky_sessions"] is True
    assert over["topology"]["backend"]["flaws"] == []
    assert over["topology"]["backend"]["ping_interval_s"] == 25
    assert notes == []
    assert load_scenario("redis-failover", overrides=over).topology.durability == "replicated"


def test_each_reproducible_mistake_becomes_its_flaw() -> None:
    data = {
        "acks": {"after": "receive", "sequencing": "node-local", "dedupe": False},
        "tenancy": {"rooms": "unprefixed", "sender_from": "payload"},
        "redis": {"topology": "sentinel", "replicas": 1, "durability": "fast"},
        "load_balancer": {"kind": "haproxy", "stickiness": []},
        "adapter": {"kind": "kafka"},
    }
    over, notes = design_overrides(design_from_mapping(data, "x"))
    topo = over["topology"]
    assert set(topo["backend"]["flaws"]) == {
        "ack-before-persist", "local-seq", "no-dedupe", "unprefixed-rooms",
        "sender-from-payload",
    }  # fmt: skip
    assert topo["durability"] == "fast" and topo["sticky_sessions"] is False
    assert any("kafka adapter is not reproduced" in n for n in notes)
    scenario = load_scenario("smoke", overrides=over)
    assert not scenario.topology.sticky_sessions
    assert "durability fast, no stickiness, flaws:" in configured(over)


def test_a_single_redis_runs_without_replicas() -> None:
    over, _ = design_overrides(design_from_mapping({"redis": {"topology": "single"}}, "x"))
    assert over["topology"]["redis"] == {"replicas": 0, "sentinels": 0}
    assert load_scenario("smoke", overrides=over).topology.redis.replicas == 0


def test_a_proof_scenario_not_in_the_catalogue_is_unknown(tmp_path: Path) -> None:
    judge = RULES["replicated-acks"].judge
    missing = Rule("x", "t", "c", Severity.HIGH, ("redis.durability",), (),
                   (Proof("scenario", "no-such-scenario", shows="-"),), "fix",
                   lambda d: Judgement("pass", "ok"))  # fmt: skip
    results, _ = run_proofs(load_design("reference"), [missing], out=tmp_path)
    (only,) = results
    assert only.outcome == "unknown" and "proof scenario not available" in only.summary
    assert only.run_dir is None and not list(tmp_path.iterdir())
    assert judge is RULES["replicated-acks"].judge
