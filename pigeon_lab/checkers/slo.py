"""Invariant 7, liveness and SLOs: figures that a gate policy judges, not the law.

Metrics (the types in slo_metrics.py; docs/interfaces.md): ack latency (``send_ok.latency_ms``),
end-to-end delivery latency (a ``deliver`` row's wall clock minus the server's
``ts`` of the message, ``sent_wall``; from ``recv`` rows when no deliver row
carries it), availability (sends, counted once per ``client_msg_id`` at its
first ``send_invoke``, acknowledged within ``ctx.ack_timeout_ms``; sends
invoked too close to the end to have had their full timeout, and not acked,
are left out), reconnect time (a client's ``disconnect`` to its next
``connect``), a timeline per ``ctx.bucket_s``, per-workspace and per-client-group
latency, and per fault window its figures (``slo_faults.py``: time to the first
client-side error, recovery after the heal, reconnects, availability, acked writes lost).

Overall percentiles are exact; per-bucket and per-workspace ones come from a
log histogram with 1% wide bins (relative error under 0.5%), which keeps them
linear in the history. ``pass`` when there were sends to measure, else
``unknown``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import ERROR_KINDS, I64, Prepared, float_col, int_col, prepare
from pigeon_lab.checkers.base import CheckContext, Outcome, Verdict, register
from pigeon_lab.checkers.slo_faults import fault_figures, group_figures, node_memory
from pigeon_lab.checkers.slo_metrics import (
    LatencySummary,
    SloMetrics,
    TimelineBucket,
    WorkspaceFigures,
)

NAME = "slo"
PROVES = (
    "The latency, availability and reconnect figures the gate judges, overall, per time bucket, "
    "per workspace and per fault, measured from what the clients saw."
)
BLIND_SPOTS = (
    "nothing about correctness: a fast backend may still lose or reorder messages",
    "delivery latency of rows without the server's ts, and sends too close to the end",
    "time spent before a client's first row or after its last",
)
QS = (0.5, 0.95, 0.99)
_LO, _STEP = 1e-3, np.log(1.01)


def summary_of(v: np.ndarray) -> LatencySummary:
    """n, p50, p95, p99, max and mean of the finite values (None when there are none)."""
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return LatencySummary()
    q = np.quantile(v, QS)
    return LatencySummary(
        n=len(v), p50=_r(q[0]), p95=_r(q[1]), p99=_r(q[2]), max=_r(v.max()), mean=_r(v.mean())
    )


def _r(x: float) -> float:
    return round(float(x), 3)


def grouped_quantiles(
    group: np.ndarray, v: np.ndarray, ngroups: int, qs: tuple[float, ...] = (0.5, 0.99)
) -> np.ndarray:
    """Quantiles of ``v`` per group from a log histogram; NaN for empty groups."""
    out = np.full((ngroups, len(qs)), np.nan)
    ok = np.isfinite(v) & (group >= 0)
    if ngroups == 0 or not ok.any():
        return out
    g, x = group[ok], np.maximum(v[ok], _LO)
    b = np.floor(np.log(x / _LO) / _STEP).astype(I64)
    nb = int(b.max()) + 1
    hist = np.bincount(g * nb + b, minlength=ngroups * nb).reshape(ngroups, nb)
    cdf = np.cumsum(hist, axis=1)
    total = cdf[:, -1]
    for j, q in enumerate(qs):
        target = np.maximum(np.ceil(q * total), 1)
        idx = (cdf < target[:, None]).sum(axis=1)
        val = _LO * np.exp((idx + 0.5) * _STEP)
        out[:, j] = np.where(total > 0, np.where(idx == 0, np.minimum(val, _LO), val), np.nan)
    return out


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else _r(x)


def _sends(p: Prepared, t0: int, timeout_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per send (first invoke of a client_msg_id): its position, whether acked in time, counted."""
    inv = np.flatnonzero(p.is_kind("send_invoke") & (p.cmid >= 0))
    first = np.full(max(p.n_cmid, 1), np.iinfo(I64).max, I64)
    np.minimum.at(first, p.cmid[inv], inv)
    sends = np.flatnonzero(first < np.iinfo(I64).max)
    pos = first[sends]
    oks = np.flatnonzero(p.is_kind("send_ok") & (p.cmid >= 0))
    ok_t = np.full(max(p.n_cmid, 1), np.iinfo(I64).max, I64)
    np.minimum.at(ok_t, p.cmid[oks], p.t[oks])
    t_inv = p.t[pos]
    acked = ok_t[sends] - t_inv <= timeout_ns
    done = np.zeros(max(p.n_cmid, 1), bool)  # a definite failure or an unknown outcome
    done[p.cmid[p.is_kind("send_fail", "send_info") & (p.cmid >= 0)]] = True
    end = p.t[-1] if p.n else t0
    counted = acked | done[sends] | (t_inv <= end - timeout_ns)
    return pos, acked, counted


@register(NAME, metrics=SloMetrics)
def check(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Ack and delivery latency, availability, reconnect time, timeline, tenants, faults."""
    p = prepare(history, ctx)
    t0 = int(p.t[0]) if p.n else 0
    bucket_ns = max(int(ctx.bucket_s * 1e9), 1)
    timeout_ns = int(ctx.ack_timeout_ms * 1e6)
    nb = int((p.t[-1] - t0) // bucket_ns) + 1 if p.n else 0
    bucket = (p.t - t0) // bucket_ns

    acks = np.flatnonzero(p.is_kind("send_ok"))
    ack_ms = float_col(p.col("latency_ms"))[acks] if len(acks) else np.empty(0)
    sent = int_col(p.col("sent_wall"))
    dl = np.flatnonzero(p.is_kind("deliver") & (sent >= 0))
    if len(dl) == 0:
        dl = np.flatnonzero(p.is_kind("recv") & (sent >= 0))
    wall = p.col("wall").to_numpy(dtype=I64)
    del_ms = (wall[dl] / 1e6 - sent[dl]) if len(dl) else np.empty(0)
    deliveries = np.flatnonzero(p.is_kind("deliver"))

    # reconnects: each disconnect to the client's next connect
    conn = np.flatnonzero(p.is_kind("connect", "disconnect"))
    o = np.lexsort((conn, p.client[conn]))
    conn = conn[o]
    is_disc = p.is_kind("disconnect")[conn]
    nxt = np.r_[conn[1:], -1]
    pairs = is_disc & (nxt >= 0) & np.r_[p.client[conn][1:] == p.client[conn][:-1], False]
    pairs &= np.r_[~is_disc[1:], False]
    rec_at = nxt[pairs]
    rec_ms = (p.t[rec_at] - p.t[conn[pairs]]) / 1e6

    spos, acked, counted = _sends(p, t0, timeout_ns)
    avail = float(acked[counted].mean()) if counted.any() else None
    errors = np.flatnonzero(p.is_kind(*ERROR_KINDS))

    def per_bucket(idx: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(bucket[idx], weights=weights, minlength=nb)[:nb] if nb else np.zeros(0)

    n_cnt = per_bucket(spos[counted])
    n_ok = per_bucket(spos[counted], acked[counted].astype(float))
    aq = grouped_quantiles(bucket[acks], ack_ms, nb)
    dq = grouped_quantiles(bucket[dl], del_ms, nb)
    sends_b, acks_b, dels_b = per_bucket(spos), per_bucket(acks), per_bucket(deliveries)
    errs_b, recs_b = per_bucket(errors), per_bucket(rec_at)
    timeline = [
        TimelineBucket(
            t_s=_r(b * ctx.bucket_s),
            sends=int(sends_b[b]),
            acks=int(acks_b[b]),
            deliveries=int(dels_b[b]),
            errors=int(errs_b[b]),
            reconnects=int(recs_b[b]),
            availability=_r(n_ok[b] / n_cnt[b]) if n_cnt[b] else None,
            ack_p50=_num(aq[b, 0]),
            ack_p99=_num(aq[b, 1]),
            delivery_p50=_num(dq[b, 0]),
            delivery_p99=_num(dq[b, 1]),
        )
        for b in range(nb)
    ]

    nws = len(p.wss)
    wq_a = grouped_quantiles(p.ws[acks].astype(I64), ack_ms, nws)
    wq_d = grouped_quantiles(p.ws[dl].astype(I64), del_ms, nws)
    w_sends = np.bincount(p.ws[spos][p.ws[spos] >= 0], minlength=nws)
    w_del = np.bincount(p.ws[deliveries][p.ws[deliveries] >= 0], minlength=nws)
    per_ws = {
        str(p.wss[w]): WorkspaceFigures(
            sends=int(w_sends[w]),
            deliveries=int(w_del[w]),
            ack_p50=_num(wq_a[w, 0]),
            ack_p99=_num(wq_a[w, 1]),
            delivery_p50=_num(wq_d[w, 0]),
            delivery_p99=_num(wq_d[w, 1]),
        )
        for w in range(nws)
        if w_sends[w] or w_del[w]
    }

    faults = fault_figures(p, t0, conn[pairs], rec_at, (spos, acked, counted))
    groups = group_figures(p, ctx.client_groups, ack_ms, acks, del_ms, dl, rec_ms, rec_at)
    rss_max, rss_growth = node_memory(ctx.resources)
    metrics = SloMetrics(
        ack_latency_ms=summary_of(ack_ms),
        delivery_latency_ms=summary_of(del_ms),
        reconnect_ms=summary_of(rec_ms),
        availability=None if avail is None else round(avail, 6),
        timeline=timeline,
        per_workspace=per_ws,
        faults=faults,
        per_group=groups,
        node_rss_max_mb=rss_max,
        node_rss_growth_mb=rss_growth,
    )
    counts = {
        "sends": len(spos),
        "acks": len(acks),
        "deliveries": len(deliveries),
        "errors": len(errors),
        "reconnects": len(rec_at),
    }
    if len(spos) == 0:
        return Verdict(
            NAME,
            Outcome.UNKNOWN,
            "no sends: nothing to measure",
            counts=counts,
            metrics=metrics.to_dict(),
        )
    summary = (
        f"{len(spos)} sends, availability {avail if avail is None else round(avail, 4)}, "
        f"ack p99 {metrics.ack_latency_ms.p99} ms, "
        f"delivery p99 {metrics.delivery_latency_ms.p99} ms"
    )
    return Verdict(NAME, Outcome.PASS, summary, counts=counts, metrics=metrics.to_dict())
