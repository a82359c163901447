"""The voice figures of a run: latencies, presence and floor timings, and their timeline.

Not an invariant (a gate threshold may judge it: ``voice_slo.join_ms.p95``): it passes
whenever the history holds voice sessions and says ``unknown`` otherwise. Join time is the
``vjoin`` ack latency; roster propagation and relay latency are the server's push stamp to
the receiver's clock (one machine, one clock; a few ms of skew across machines); offer to
answer and time to connected are the negotiations' own; grant latency is a request to the
requester seeing itself granted; a handover runs from the holder's release to the next
holder seeing its grant; dead time from a holder's death to its grant's end; a ghost from a
session's end to the last observer removing it (against the lease bound).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from pigeon_lab.checkers._voice import NS, Voice, no_voice, voice_of
from pigeon_lab.checkers._voice_floor import floors
from pigeon_lab.checkers.base import CheckContext, Outcome, Verdict, register
from pigeon_lab.checkers.voice_ghosts import ghost_durations
from pigeon_lab.checkers.voice_metrics import Summary, VoiceBucket, VoiceSloMetrics

NAME = "voice_slo"
ERRORS = ("sig_fail", "vjoin_fail", "floor_req_fail", "floor_rel_fail", "floor_chair_fail")


def _grant_ms(v: Voice) -> list[float]:
    out = []
    firsts: dict[tuple[str, int | None], list[tuple[int, str | None]]] = defaultdict(list)
    for r in v.rows:
        if r.kind == "vfloor" and r.d.get("holder") == r.client and r.d.get("hinc") == r.inc:
            firsts[(r.client, r.inc)].append((r.t, r.room))
    for r in v.rows:
        if r.kind != "floor_req_ok" or r.latency is None:
            continue
        if r.d.get("status") == "granted":
            out.append(r.latency)
            continue
        asked = r.t - int(r.latency * 1e6)
        seen = [t for t, room in firsts.get((r.client, r.inc), []) if t > asked and room == r.room]
        if seen:
            out.append((min(seen) - asked) / 1e6)
    return out


def _handover_ms(v: Voice) -> list[float]:
    out = []
    rels = {(r.ws, r.room, int(r.seq)): r for r in v.rows if r.kind == "floor_rel_ok" and r.seq}
    for r in v.rows:
        prev = r.d.get("prev") if r.kind == "vfloor" else None
        if not isinstance(prev, dict) or r.d.get("holder") != r.client:
            continue
        token = prev.get("token")
        rel = rels.get((r.ws, r.room, token)) if isinstance(token, int) else None
        if rel is not None and rel.latency is not None:
            out.append((r.t - (rel.t - int(rel.latency * 1e6))) / 1e6)
    return out


def _dead_ms(v: Voice) -> list[float]:
    out = []
    for room, grants in floors(v).grants.items():
        for g in grants.values():
            for m, inc in g.sessions:
                s = v.spans.get((room[0], room[1], m, inc))
                if s is not None and s.died and s.dead and g.ended and g.ended >= s.dead:
                    out.append((g.ended - s.dead) / 1e6)
    return out


def _timeline(v: Voice, bucket_s: float) -> list[VoiceBucket]:
    t0 = min(v.origin or v.rows[0].t, v.rows[0].t)  # buckets from the run's origin
    width = int(bucket_s * NS)
    n = int((v.t_end - t0) // width) + 1
    cols: dict[str, list[list[float]]] = {
        x: [[] for _ in range(n)] for x in ("join", "relay", "roster")
    }
    counts = {x: np.zeros(n, np.int64) for x in ("joins", "signals", "grants", "errors")}
    for r in v.rows:
        b = int((r.t - t0) // width)
        if r.kind == "vjoin_ok":
            counts["joins"][b] += 1
            if r.latency is not None:
                cols["join"][b].append(r.latency)
        elif r.kind == "sig_ok":
            counts["signals"][b] += 1
        elif r.kind == "sig_recv" and r.latency is not None:
            cols["relay"][b].append(r.latency)
        elif r.kind == "vroster" and r.latency is not None:
            cols["roster"][b].append(r.latency)
        elif r.kind in ERRORS or (r.kind == "speak_fail" and not r.d.get("probe")):
            counts["errors"][b] += 1
    for grants in floors(v).grants.values():
        for g in grants.values():
            if g.seen_row is not None:
                counts["grants"][int((g.seen - t0) // width)] += 1
    out = []
    for b in range(n):
        end = t0 + (b + 1) * width
        live = sum(1 for s in v.spans.values() if s.start <= end and (s.end is None or s.end > end))
        out.append(
            VoiceBucket(
                round(b * bucket_s, 6),
                int(counts["joins"][b]),
                int(counts["signals"][b]),
                int(counts["grants"][b]),
                int(counts["errors"][b]),
                Summary.of(cols["join"][b]).p99,
                Summary.of(cols["relay"][b]).p50,
                Summary.of(cols["relay"][b]).p99,
                Summary.of(cols["roster"][b]).p99,
                live,
            )
        )
    return out


PROVES = (
    "Voice latencies and figures (join, relay, offer-to-answer, grant, handover, dead time, "
    "ghosts) are measured, to be judged by gate thresholds."
)
BLIND_SPOTS = ("media quality: no real audio flows",)


@register(NAME, metrics=VoiceSloMetrics, workload="voice")
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Voice join, relay, negotiation and floor timings, and presence figures."""
    v = voice_of(history, ctx)
    if not v.active:
        return no_voice(NAME, VoiceSloMetrics())
    lat: dict[str, list[float]] = defaultdict(list)
    steps: dict[str, int] = defaultdict(int)
    for r in v.rows:
        if r.latency is None:
            if r.kind == "pc_state":
                steps[str(r.d.get("state"))] += 1
            continue
        if r.kind == "vjoin_ok":
            lat["join"].append(r.latency)
        elif r.kind == "vroster":
            lat["roster"].append(r.latency)
        elif r.kind == "sig_recv":
            lat["relay"].append(r.latency)
        elif r.kind == "pc_state":
            state = str(r.d.get("state"))
            steps[state] += 1
            if state in ("answered", "connected"):
                lat[state].append(r.latency)
    ghosts = [
        (removed - (s.dead if s.dead is not None else s.end or removed)) / NS
        for s, _, removed in ghost_durations(v)
        if removed is not None
    ]
    fl = floors(v)
    metrics = VoiceSloMetrics(
        join_ms=Summary.of(lat["join"]),
        roster_ms=Summary.of(lat["roster"]),
        relay_ms=Summary.of(lat["relay"]),
        offer_answer_ms=Summary.of(lat["answered"]),
        connected_ms=Summary.of(lat["connected"]),
        grant_ms=Summary.of(_grant_ms(v)),
        handover_ms=Summary.of(_handover_ms(v)),
        dead_time_ms=Summary.of(_dead_ms(v)),
        ghost_s=Summary.of(ghosts),
        lease_s=v.lease_s,
        bound_s=v.bound_ns / NS,
        sessions=len(v.spans),
        resumed=sum(1 for r in v.rows if r.kind == "vjoin_ok" and r.d.get("resumed")),
        rejoined=sum(1 for r in v.rows if r.kind == "vjoin_fail" and r.error == "gone"),
        grants=sum(len(g) for g in fl.grants.values()),
        glare=steps["glare_rollback"] + steps["glare_ignored"],
        timeline=_timeline(v, ctx.bucket_s),
    )
    counts = {
        "sessions": metrics.sessions,
        "signals": metrics.relay_ms.n,
        "grants": metrics.grants,
        "resumed": metrics.resumed,
    }
    summary = (
        f"join p95 {metrics.join_ms.p95 or 0:.0f} ms, relay p95 {metrics.relay_ms.p95 or 0:.0f} "
        f"ms, grant p95 {metrics.grant_ms.p95 or 0:.0f} ms over {metrics.sessions} sessions"
    )
    return Verdict(NAME, Outcome.PASS, summary, counts, metrics=metrics.to_dict())
