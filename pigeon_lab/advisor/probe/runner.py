"""One probe run: reach the target, run the families side by side within the limits, and
put every check's result in order.

The handshake family runs first (the others read what it saw, e.g. ``maxPayload``);
the rest share a small pool of threads, each family holding the connections it
declared. A family that stops with an error leaves its remaining checks ``unknown``
with that error; nothing the target does makes the probe itself fail, except being
unreachable or refusing the probe's own token (the preflight's errors, exit code 2).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from pigeon_lab.advisor.findings import CheckResult, ProbeLimits, ProbeResult
from pigeon_lab.advisor.probe.context import ProbeContext, ProbeTarget
from pigeon_lab.advisor.probe.registry import CHECKS, FAMILIES, Family
from pigeon_lab.errors import ConfigError
from pigeon_lab.preflight import check_target

PARALLEL = 3
FIRST = "handshake"


def family_names() -> list[str]:
    return list(FAMILIES)


def _run_family(ctx: ProbeContext, family: Family) -> None:
    held = ctx.budget.reserve(family.connections)
    try:
        family.run(ctx)
        why = "the family ended without checking it"
    except Exception as exc:  # broad on purpose: one family's error must not stop the rest
        tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        why = f"the {family.name} checks stopped: {tail}"
    finally:
        ctx.budget.release(held)
    for spec in family.checks:
        ctx.skip(spec.id, why)


def reach(target: ProbeTarget, timeout_s: float) -> None:
    """Every entry point is reachable, speaks Socket.IO and takes the probe's token
    (raises the preflight's EnvironmentProblem / ConfigError otherwise)."""
    token = target.issuer.issue(*target.identities[0]).value
    for url in target.urls:
        check_target(url, codec=target.codec, token=token, timeout_s=timeout_s)


def run_probe(
    target: ProbeTarget,
    limits: ProbeLimits | None = None,
    families: Sequence[str] | None = None,
    on_family: Callable[[str], None] | None = None,
) -> ProbeResult:
    """Probe ``target`` (see the module docstring); ``families`` limits what runs."""
    limits = limits or ProbeLimits()
    names = list(families) if families else family_names()
    for name in names:
        if name not in FAMILIES:
            raise ConfigError(
                f"unknown probe family {name!r}; known: {', '.join(FAMILIES)}", field="--family"
            )
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    reach(target, limits.timeout_s)
    ctx = ProbeContext(target, limits)
    chosen = [FAMILIES[n] for n in family_names() if n in names]

    def one(family: Family) -> None:
        _run_family(ctx, family)
        if on_family is not None:
            on_family(family.name)

    first = [f for f in chosen if f.name == FIRST]
    for family in first:
        one(family)
    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="probe") as pool:
        list(pool.map(one, [f for f in chosen if f.name != FIRST]))
    results: list[CheckResult] = []
    for family in chosen:
        for spec in family.checks:
            result = ctx.result(spec.id)
            if result is not None:
                results.append(result)
    return ProbeResult(
        url=target.url,
        urls=target.urls,
        profile=target.profile.name,
        started=started,
        elapsed_s=time.monotonic() - t0,
        limits=limits,
        results=tuple(results),
        observed=dict(ctx.observed),
        connections=ctx.budget.opened,
        requests=ctx.pace.taken,
    )


__all__ = ["CHECKS", "family_names", "reach", "run_probe"]
