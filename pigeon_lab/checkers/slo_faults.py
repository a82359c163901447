"""The slo checker's figures per fault window and per client group (issue 7).

For every fault window ``[start, heal]`` (a fault never healed runs to the end of the
history; an instantaneous one is a point):

- ``time_to_first_error_s``: from its start to the first client-side error or disconnect
  (before the next fault starts, and at most ``HEAL_SLACK_S`` after the heal; None: none);
- the *affected clients*: those with an error or a disconnect inside the window or within
  ``HEAL_SLACK_S`` after the heal (a healed drop closes the connections it held); a close
  the client made itself (``NORMAL_CLOSE``: the end of its run) is no error;
- ``time_to_recovery_s``: from the heal until every affected client has an ack again (for
  each, its first ack after its last error; 0 when it recovered before the heal); with no
  affected client, until the first ack after the heal; None when one never recovered
  (``recovered_clients`` < ``affected_clients``);
- ``reconnect_p50_ms`` / ``reconnect_p99_ms``, ``reconnects``, ``max_reconnects_per_s``:
  the disconnect -> connect times that began in the window (plus the slack), and the
  busiest second of reconnects; ``max_connect_attempts_per_s``: the busiest second of
  connect attempts, refused ones too (a thundering herd shows here);
- ``sends``, ``availability``: sends first invoked inside the window and the share acked
  within the ack timeout; ``acked_lost``: acks given inside the window whose message is
  not in the final log (None without a read-back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from pigeon_lab.checkers._prep import ERROR_KINDS, NORMAL_CLOSE, Prepared
from pigeon_lab.checkers.base import ResourceSample
from pigeon_lab.checkers.slo_metrics import FaultFigures, GroupFigures

HEAL_SLACK_S = 2.0


def _r(x: float) -> float:
    return round(float(x), 3)


def _q(values: np.ndarray, q: float) -> float | None:
    return _r(float(np.quantile(values, q))) if len(values) else None


def fault_figures(
    p: Prepared,
    t0: int,
    rec_from: np.ndarray,
    rec_to: np.ndarray,
    sends: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> list[FaultFigures]:
    """One FaultFigures per ``ctx.faults`` entry, in order.

    ``rec_from``/``rec_to``: row positions of each reconnect's disconnect and connect;
    ``sends``: (first invoke position, acked in time, counted) per send (slo's ``_sends``).
    """
    ctx = p.ctx
    end_all = int(p.t[-1]) if p.n else t0
    cut = p.is_kind("disconnect") & ~p.col("error").isin(list(NORMAL_CLOSE)).to_numpy()
    errs = np.flatnonzero(p.is_kind(*ERROR_KINDS) | cut)
    acks = np.flatnonzero(p.is_kind("send_ok"))
    attempts = np.flatnonzero(p.is_kind("connect", "connect_error"))
    et, at = p.t[errs], p.t[acks]
    starts = sorted(f.start_t for f in ctx.faults)
    final_msgs = np.unique(p.final.msg[p.final.msg >= 0]) if p.final is not None else None
    spos, acked, counted = sends
    slack = int(HEAL_SLACK_S * 1e9)
    out: list[FaultFigures] = []
    for f in ctx.faults:
        later = [s for s in starts if s > f.start_t]
        horizon = later[0] if later else end_all + 1
        heal = f.end_t if f.end_t is not None else end_all
        i = np.searchsorted(et, f.start_t)
        until = min(horizon, heal + slack + 1)
        first_err = (et[i] - f.start_t) / 1e9 if i < len(et) and et[i] < until else None
        # affected clients and their recovery
        lo, hi = np.searchsorted(et, [f.start_t, heal + slack], side="left")
        hit = errs[lo:hi]
        affected = np.unique(p.client[hit])
        recoveries: list[float] = []
        for c in affected:
            last = p.t[hit[p.client[hit] == c]].max()
            mine = at[(p.client[acks] == c) & (at > last)]
            if len(mine):
                recoveries.append(max(0.0, (mine.min() - heal) / 1e9))
        if len(affected):
            ttr = max(recoveries) if len(recoveries) == len(affected) else None
        else:
            j = np.searchsorted(at, heal, side="right")
            ttr = (at[j] - heal) / 1e9 if j < len(at) else None
        # reconnects that began in the window
        began = (p.t[rec_from] >= f.start_t) & (p.t[rec_from] <= heal + slack)
        rec_ms = (p.t[rec_to[began]] - p.t[rec_from[began]]) / 1e6
        per_s = np.bincount(((p.t[rec_to[began]] - f.start_t) // 10**9).astype(np.int64))
        tries = p.t[attempts]
        tries = tries[(tries >= f.start_t) & (tries <= heal + slack)]
        tries_per_s = np.bincount(((tries - f.start_t) // 10**9).astype(np.int64))
        # sends and acks inside the window
        inside = (p.t[spos] >= f.start_t) & (p.t[spos] <= heal)
        n_counted = int(counted[inside].sum())
        avail = float(acked[inside & counted].sum()) / n_counted if n_counted else None
        lost: int | None = None
        if final_msgs is not None:
            win = acks[(at >= f.start_t) & (at <= heal)]
            msgs = p.msg[win]
            lost = int((~np.isin(msgs[msgs >= 0], final_msgs)).sum())
        out.append(
            FaultFigures(
                kind=f.kind,
                target=f.target,
                start_s=_r((f.start_t - t0) / 1e9),
                end_s=None if f.end_t is None else _r((f.end_t - t0) / 1e9),
                time_to_first_error_s=None if first_err is None else _r(first_err),
                time_to_recovery_s=None if ttr is None else _r(ttr),
                label=f.label,
                affected_clients=len(affected),
                recovered_clients=len(recoveries),
                reconnects=int(began.sum()),
                reconnect_p50_ms=_q(rec_ms, 0.5),
                reconnect_p99_ms=_q(rec_ms, 0.99),
                max_reconnects_per_s=int(per_s.max()) if len(per_s) else 0,
                max_connect_attempts_per_s=int(tries_per_s.max()) if len(tries_per_s) else 0,
                sends=int(inside.sum()),
                availability=None if avail is None else round(avail, 6),
                acked_lost=lost,
            )
        )
    return out


def group_figures(
    p: Prepared,
    groups: Mapping[str, str],
    ack_ms: np.ndarray,
    acks: np.ndarray,
    del_ms: np.ndarray,
    dl: np.ndarray,
    rec_ms: np.ndarray,
    rec_to: np.ndarray,
) -> dict[str, GroupFigures]:
    """Latency, deliveries and reconnects per client group (``ctx.client_groups``: user ->
    group; users it does not name are ``clients``, every user when the run has no groups)."""
    group_of_user = np.array([groups.get(str(u), "clients") for u in p.users], dtype=object)
    names = sorted(set(group_of_user) | {"clients"})

    def of(rows: np.ndarray) -> np.ndarray:
        users = p.user[rows]
        out = np.full(len(rows), "", dtype=object)
        ok = users >= 0
        out[ok] = group_of_user[users[ok]]
        return out

    g_ack, g_del, g_rec = of(acks), of(dl), of(rec_to)
    g_deliver = of(np.flatnonzero(p.is_kind("deliver")))
    out: dict[str, GroupFigures] = {}
    for name in names:
        a, d, r = ack_ms[g_ack == name], del_ms[g_del == name], rec_ms[g_rec == name]
        out[name] = GroupFigures(
            users=int((group_of_user == name).sum()),
            acks=len(a),
            deliveries=int((g_deliver == name).sum()),
            ack_p50=_q(a, 0.5),
            ack_p99=_q(a, 0.99),
            delivery_p50=_q(d, 0.5),
            delivery_p99=_q(d, 0.99),
            reconnects=len(r),
            reconnect_p99=_q(r, 0.99),
        )
    return out


def node_memory(ctx_resources: Sequence[ResourceSample]) -> tuple[float | None, float | None]:
    """(largest RSS of any node, largest growth of one node) in MiB; None when unsampled."""
    by_node: dict[str, list[int]] = {}
    for sample in sorted(ctx_resources, key=lambda r: r.t):
        if sample.process.startswith("node-"):
            by_node.setdefault(sample.process, []).append(sample.rss_bytes)
    if not by_node:
        return None, None
    mib = 1024 * 1024
    top = max(max(v) for v in by_node.values()) / mib
    growth = max(max(v) - v[0] for v in by_node.values()) / mib
    return _r(top), _r(growth)


__all__ = ["HEAL_SLACK_S", "fault_figures", "group_figures", "node_memory"]
