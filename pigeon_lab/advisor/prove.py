"""`review --prove`: run each rule's proofs on the bundled cluster configured like the
design, and say what their verdicts showed.

The design becomes scenario overrides (``design_overrides``): its durability, load
balancer and stickiness, Redis replicas, heartbeat, retention and dedupe window, the ack
timeout, and each design mistake the reference backend can reproduce as a deliberate
flaw (an ack before the write: ``ack-before-persist``; no dedupe or retries under a new
id: ``no-dedupe``; node-local seqs: ``local-seq``; rooms not prefixed by tenant:
``unprefixed-rooms``; the sender from the payload: ``sender-from-payload``). What it
cannot reproduce (another adapter) is said in the notes. A scenario proof runs that
catalogue scenario; a selftest proof runs the case's scenario and overrides without its
flaw (the design's own flaws apply); probe proofs share one bundled cluster and one
probe. A proof whose scenario is not in the catalogue is ``unknown`` ("proof scenario
not available"); one that cannot run is ``unknown`` with the reason.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pigeon_lab.advisor.design import Design
from pigeon_lab.advisor.findings import ProbeLimits, Severity
from pigeon_lab.advisor.review import ProofResult
from pigeon_lab.advisor.rules import Rule
from pigeon_lab.advisor.rules.base import Outcome, Proof
from pigeon_lab.errors import PigeonLabError
from pigeon_lab.events import Listener
from pigeon_lab.scenario.loading import catalogue, deep_merge, expand_dotted

FLAW_OF_MISTAKE: tuple[tuple[str, Callable[[Design], bool]], ...] = (
    ("ack-before-persist", lambda d: d.acks.after in ("receive", "publish")),
    ("no-dedupe", lambda d: d.acks.dedupe is False or d.client.retry == "new-id"),
    ("local-seq", lambda d: d.acks.sequencing == "node-local"),
    ("unprefixed-rooms", lambda d: d.tenancy.rooms == "unprefixed"
     or d.tenancy.tenant_from == "payload"),
    ("sender-from-payload", lambda d: d.tenancy.sender_from == "payload"),
)  # fmt: skip
"""Design mistakes the reference backend reproduces, as its ``--flaw`` names."""

PROBE_SCENARIO = "smoke"
"""Whose topology the probe proofs' cluster takes (configured like the design)."""


def design_overrides(design: Design) -> tuple[dict[str, Any], list[str]]:
    """Scenario overrides that configure the bundled cluster like ``design``, and notes on
    what it cannot reproduce."""
    topo: dict[str, Any] = {}
    backend: dict[str, Any] = {}
    workload: dict[str, Any] = {}
    notes: list[str] = []
    r = design.redis
    if r.topology == "single" or r.replicas == 0:
        topo["redis"] = {"replicas": 0, "sentinels": 0}
        topo["durability"] = "fast"
    elif r.durability is not None:
        topo["durability"] = r.durability
    if design.has_load_balancer() is False:
        topo["load_balancer"] = "none"
    stick = design.load_balancer.stickiness
    if stick is not None:
        topo["sticky_sessions"] = bool(stick)
        if stick and "sid" not in stick and "cookie" in stick:
            notes.append("stickiness by cookie only: the bundled HAProxy's own stickiness "
                         "is kept (the load's clients keep cookies)")  # fmt: skip
    h = design.heartbeat
    if h.ping_interval_s is not None:
        backend["ping_interval_s"] = h.ping_interval_s
    if h.ping_timeout_s is not None:
        backend["ping_timeout_s"] = h.ping_timeout_s
    if design.retention.messages_per_channel:
        backend["retention"] = design.retention.messages_per_channel
    if design.acks.dedupe_window_s is not None:
        backend["dedupe_ttl_s"] = max(1, int(design.acks.dedupe_window_s))
    flaws = [name for name, has in FLAW_OF_MISTAKE if has(design)]
    backend["flaws"] = flaws
    topo["backend"] = backend
    if design.client.ack_timeout_ms:
        workload["ack_timeout_ms"] = design.client.ack_timeout_ms
    adapter = design.adapter.kind
    if adapter not in (None, "redis-pubsub"):
        notes.append(f"the bundled cluster runs the Redis pub/sub adapter; the design's "
                     f"{adapter} adapter is not reproduced")  # fmt: skip
    out: dict[str, Any] = {"topology": topo}
    if workload:
        out["workload"] = workload
    return out, notes


def configured(overrides: dict[str, Any]) -> str:
    """One line: how the bundled cluster was configured for the proofs."""
    topo = overrides.get("topology", {})
    parts = [f"durability {topo.get('durability', 'as the scenario')}"]
    if "sticky_sessions" in topo:
        parts.append("sticky" if topo["sticky_sessions"] else "no stickiness")
    if topo.get("load_balancer") == "none":
        parts.append("no load balancer")
    flaws = topo.get("backend", {}).get("flaws") or []
    parts.append(f"flaws: {', '.join(flaws)}" if flaws else "no flaws")
    return ", ".join(parts)


@dataclass(frozen=True)
class _Planned:
    proof: Proof
    scenario: str
    overrides: dict[str, Any]
    watch: tuple[str, ...]


def distinct_proofs(rules: Iterable[Rule], only: Sequence[str] | None = None) -> list[Proof]:
    """Each proof once, in rule order; ``only`` keeps those named (``redis-failover`` or
    ``scenario:redis-failover``)."""
    seen: dict[str, Proof] = {}
    for r in rules:
        for p in r.proofs:
            if only and p.name not in only and p.key not in only:
                continue
            seen.setdefault(p.key, p)
    return list(seen.values())


def _plan(proof: Proof, design_over: dict[str, Any]) -> _Planned | ProofResult:
    if proof.kind == "selftest":
        from pigeon_lab.selftest import BASE_OVERRIDES, CASES, SCENARIO

        case = next((c for c in CASES if c.name == proof.name), None)
        if case is None:
            return _missing(proof, f"no selftest case {proof.name!r}")
        base = deep_merge(expand_dotted(BASE_OVERRIDES), expand_dotted(case.overrides))
        return _Planned(proof, SCENARIO, deep_merge(base, design_over),
                        tuple(sorted(case.expect_fail)))  # fmt: skip
    names = {e.name for e in catalogue()}
    if proof.name not in names:
        return _missing(proof, f"proof scenario not available: {proof.name!r} is not in the "
                        "catalogue")  # fmt: skip
    over = deep_merge(expand_dotted(dict(proof.overrides)), design_over)
    return _Planned(proof, proof.name, over, proof.watch)


def _missing(proof: Proof, why: str) -> ProofResult:
    return ProofResult(proof.key, proof.kind, proof.name, "unknown", why)


def _judge_run(planned: _Planned, run_dir: Path, verdicts: Sequence[Any], cfg: str,
               elapsed: float) -> ProofResult:  # fmt: skip
    from pigeon_lab.report.gate import NOT_INVARIANTS

    watched = [v for v in verdicts if (v.name in planned.watch if planned.watch
                                       else v.name not in NOT_INVARIANTS)]  # fmt: skip
    rows = tuple((v.name, v.outcome.value, v.summary) for v in watched)
    failing = [v for v in watched if v.outcome.value == "fail"]
    outcome: Outcome
    if failing:
        outcome, summary = "fail", "; ".join(f"{v.name} fail: {v.summary}" for v in failing)
    elif any(v.outcome.value == "unknown" for v in watched) or not watched:
        outcome, summary = "unknown", "the watched checkers could not decide"
    else:
        outcome, summary = "pass", ", ".join(f"{v.name} pass" for v in watched)
    key = planned.proof
    return ProofResult(key.key, key.kind, key.name, outcome, summary, str(run_dir), rows, cfg,
                       round(elapsed, 1))  # fmt: skip


def _run(planned: _Planned, out: Path, listeners: Sequence[Listener], cfg: str) -> ProofResult:
    from pigeon_lab.run import run_scenario

    t0 = time.monotonic()
    try:
        result = run_scenario(planned.scenario, out=out, overrides=planned.overrides,
                              listeners=listeners)  # fmt: skip
    except PigeonLabError as exc:
        p = planned.proof
        return ProofResult(p.key, p.kind, p.name, "unknown",
                           f"cannot run on this design: {exc}", configured=cfg)  # fmt: skip
    return _judge_run(planned, result.run_dir, result.report.verdicts, cfg,
                      time.monotonic() - t0)  # fmt: skip


def _probe_proofs(proofs: Sequence[Proof], design_over: dict[str, Any], out: Path,
                  cfg: str) -> list[ProofResult]:  # fmt: skip
    """One bundled cluster like the design, one probe, a result per probe proof."""
    from pigeon_lab.advisor.html import write_probe_html
    from pigeon_lab.advisor.probe import CHECKS, ProbeTarget, run_probe
    from pigeon_lab.cluster import Cluster
    from pigeon_lab.issuers import SecretIssuer
    from pigeon_lab.protocol.codec import PIGEON
    from pigeon_lab.protocol.profile import Profile
    from pigeon_lab.run import new_run_dir
    from pigeon_lab.scenario.loading import load_scenario
    from pigeon_lab.targets.bundled import cluster_spec

    t0 = time.monotonic()
    try:
        topology = load_scenario(PROBE_SCENARIO, overrides=design_over).topology
        run_dir = new_run_dir(out, "probe")
        secret = secrets.token_hex(16)
        families = sorted({CHECKS[p.name].family for p in proofs if p.name in CHECKS})
        with Cluster.start(cluster_spec(topology, run_dir, secret)) as cluster:
            target = ProbeTarget((cluster.info.lb_url,), PIGEON, Profile(),
                                 SecretIssuer(secret), secret)  # fmt: skip
            found = run_probe(target, ProbeLimits(), families)
    except PigeonLabError as exc:
        return [ProofResult(p.key, p.kind, p.name, "unknown",
                            f"cannot probe the bundled cluster: {exc}", configured=cfg)
                for p in proofs]  # fmt: skip
    (run_dir / "probe.json").write_text(json.dumps(found.to_dict(), indent=2))
    write_probe_html(found, run_dir / "probe.html")
    by_check = found.by_check()
    results = []
    for p in proofs:
        r = by_check.get(p.name)
        if r is None:
            results.append(_missing(p, f"no probe check {p.name!r}"))
            continue
        outcome: Outcome = (
            "fail" if r.gates(Severity.LOW) else ("pass" if r.status != "unknown" else "unknown")
        )
        results.append(ProofResult(p.key, p.kind, p.name, outcome, r.summary, str(run_dir),
                                   ((r.check, r.status, r.summary),), cfg,
                                   round(time.monotonic() - t0, 1)))  # fmt: skip
    return results


def run_proofs(
    design: Design,
    rules: Iterable[Rule],
    *,
    out: Path,
    only: Sequence[str] | None = None,
    listeners: Sequence[Listener] = (),
    on_proof: Callable[[ProofResult], None] | None = None,
) -> tuple[list[ProofResult], list[str]]:
    """Run every distinct proof of ``rules`` (see the module docstring); returns the
    results and the notes on what the bundled cluster could not reproduce."""
    design_over, notes = design_overrides(design)
    cfg = configured(design_over)
    proofs = distinct_proofs(rules, only)
    results: list[ProofResult] = []
    probes = [p for p in proofs if p.kind == "probe"]
    for proof in (p for p in proofs if p.kind != "probe"):
        planned = _plan(proof, design_over)
        result = planned if isinstance(planned, ProofResult) else _run(planned, out, listeners,
                                                                       cfg)  # fmt: skip
        results.append(result)
        if on_proof is not None:
            on_proof(result)
    if probes:
        for result in _probe_proofs(probes, design_over, out, cfg):
            results.append(result)
            if on_proof is not None:
                on_proof(result)
    return results, notes


__all__ = ["FLAW_OF_MISTAKE", "configured", "design_overrides", "distinct_proofs", "run_proofs"]
