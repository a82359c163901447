"""Benchmark the checkers: a synthetic correct history of N rows through ``check_all``.

    .venv/bin/python bench/checkers.py [--rows 10000000] [--no-append]

The history is built with numpy (not timed): clients in workspaces join some
channels of their workspace; each message is a send_invoke and send_ok, then a
recv and a deliver at every member, with 1% of pushes duplicated on the wire.
String columns are categorical, as pyarrow dictionary columns read from
Parquet become. Prints rows/s and peak RSS; appends a line to
bench/results/checkers.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pigeon_lab.checkers.base import CheckContext, Outcome  # noqa: E402
from pigeon_lab.checkers.suite import check_all  # noqa: E402
from pigeon_lab.history.schema import KINDS  # noqa: E402

K = {k: i for i, k in enumerate(KINDS)}


def cat(codes: np.ndarray, names: list[str] | np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=pd.Index(names))


def synthetic(
    rows: int,
    seed: int = 1,
    workspaces: int = 20,
    clients: int = 2000,
    channels_per_ws: int = 10,
    joins_per_client: int = 5,
) -> tuple[pd.DataFrame, CheckContext]:
    """A correct history of about ``rows`` rows and its final log."""
    rng = np.random.default_rng(seed)
    nchan = workspaces * channels_per_ws
    cl_ws = np.arange(clients) % workspaces
    # membership: each client joins `joins_per_client` distinct channels of its workspace
    pick = np.argsort(rng.random((clients, channels_per_ws)), axis=1)[:, :joins_per_client]
    mem_client = np.repeat(np.arange(clients), joins_per_client)
    mem_chan = (cl_ws[:, None] * channels_per_ws + pick).ravel()
    order = np.lexsort((mem_client, mem_chan))
    mem_client, mem_chan = mem_client[order], mem_chan[order]
    start = np.searchsorted(mem_chan, np.arange(nchan))
    size = np.diff(np.r_[start, len(mem_chan)])
    per_msg = 2 + 2.02 * size.mean()
    nmsg = max(int((rows - clients * (1 + 2 * joins_per_client)) / per_msg), 1)
    ch = rng.integers(0, nchan, nmsg)
    ch = ch[size[ch] > 0]
    nmsg = len(ch)
    seq = np.zeros(nmsg, np.int64)
    o = np.argsort(ch, kind="stable")
    cs = ch[o]
    first = np.r_[True, cs[1:] != cs[:-1]]
    run = np.arange(nmsg) - np.maximum.accumulate(np.where(first, np.arange(nmsg), 0))
    seq[o] = run + 1
    sender = mem_client[start[ch] + rng.integers(0, 1 << 30, nmsg) % size[ch]]
    t_msg = 10_000_000_000 + np.arange(nmsg, dtype=np.int64) * 1_000_000  # 1 ms apart
    # fan-out rows: one recv and one deliver per member, 1% of recvs duplicated
    fan = size[ch]
    mi = np.repeat(np.arange(nmsg), fan)
    within = np.arange(len(mi)) - np.repeat(np.cumsum(fan) - fan, fan)
    rc = mem_client[start[ch][mi] + within]
    dup = rng.random(len(mi)) < 0.01
    parts = [  # (msg index, client, kind, t offset ns)
        (np.arange(nmsg), sender, K["send_invoke"], 0),
        (np.arange(nmsg), sender, K["send_ok"], 100_000),
        (mi, rc, K["recv"], 200_000 + within * 10),
        (mi, rc, K["deliver"], 200_005 + within * 10),
        (mi[dup], rc[dup], K["recv"], 300_000 + within[dup] * 10),
    ]
    m = np.concatenate([p[0] for p in parts])
    client = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[2], np.int8) for p in parts])
    t = np.concatenate([t_msg[p[0]] + p[3] for p in parts])
    # connect + join/join_ok for every membership, before any message
    jc = np.r_[np.arange(clients), np.repeat(mem_client, 2)]
    jk = np.r_[np.full(clients, K["connect"]), np.tile([K["join"], K["join_ok"]], len(mem_client))]
    jch = np.r_[np.full(clients, -1), np.repeat(mem_chan, 2)]
    jt = np.arange(len(jc), dtype=np.int64) * 1000
    jseq = np.r_[np.full(clients, -1), np.tile([-1, 0], len(mem_client))]

    t = np.r_[jt, t]
    client = np.r_[jc, client]
    kind = np.r_[jk, kind].astype(np.int8)
    chan = np.r_[jch, ch[m]]
    mm = np.r_[np.full(len(jc), -1), m]
    seqs = np.r_[jseq, seq[m]]
    is_msg = mm >= 0
    srt = np.argsort(t, kind="stable")
    t, client, kind, chan, mm, seqs, is_msg = (
        a[srt] for a in (t, client, kind, chan, mm, seqs, is_msg)
    )
    ws = cl_ws[client]
    wnames = [f"ws{i}" for i in range(workspaces)]
    cnames = [f"ch{i}" for i in range(channels_per_ws)]
    mids = np.array([f"msg-{i:08d}" for i in range(nmsg)], dtype=object)
    cmids = np.array([f"cm-{i:08d}" for i in range(nmsg)], dtype=object)
    bh = np.array([f"{i:016x}" for i in range(nmsg)], dtype=object)
    users = [f"u{i}" for i in range(clients)]
    recv_like = is_msg & np.isin(kind, [K["recv"], K["deliver"]])
    ok_rows = kind == K["send_ok"]
    mcode = np.where(is_msg, mm, -1)
    nulls = np.full(len(t), -1)
    h = pd.DataFrame(
        {
            "t": t,
            "wall": t + 1_700_000_000_000_000_000,
            "client": cat(client, [f"c{i}" for i in range(clients)]),
            "user": cat(client, users),
            "workspace": cat(ws, wnames),
            "node": cat(client % 3, ["node-1", "node-2", "node-3"]),
            "kind": cat(kind, list(KINDS)),
            "channel": cat(np.where(chan >= 0, chan % channels_per_ws, -1), cnames),
            "client_msg_id": cat(mcode, cmids),
            "seq": pd.array(
                np.where(seqs > 0, seqs, np.where(kind == K["join_ok"], 0, 0)), dtype="Int64"
            ),
            "msg_id": cat(np.where(is_msg & (kind != K["send_invoke"]), mm, -1), mids),
            "sender": cat(np.where(recv_like, sender[np.maximum(mm, 0)], -1), users),
            "msg_workspace": cat(np.where(recv_like, ws, -1), wnames),
            "body_hash": cat(np.where(is_msg, mm, -1), bh),
            "attempt": pd.array(np.where(is_msg & ~recv_like, 1, 0), dtype="Int32"),
            "latency_ms": np.where(ok_rows, 0.1 + rng.random(len(t)), np.nan),
            "error": cat(nulls, ["x"]),
            "sent_wall": pd.array(
                np.where(
                    recv_like,
                    (t_msg[np.maximum(mm, 0)] + 1_700_000_000_000_000_000) // 1_000_000,
                    0,
                ),
                dtype="Int64",
            ),
        }
    )
    for col, keep in (
        ("seq", (seqs > 0) | (kind == K["join_ok"])),
        ("attempt", is_msg & ~recv_like),
        ("sent_wall", recv_like),
    ):
        h.loc[~keep, col] = pd.NA
    final = pd.DataFrame(
        {
            "workspace": np.asarray(wnames, object)[ch // channels_per_ws],
            "channel": np.asarray(cnames, object)[ch % channels_per_ws],
            "seq": seq,
            "msg_id": mids,
            "client_msg_id": cmids,
            "sender": np.asarray(users, object)[sender],
            "body_hash": bh,
            "ts": (t_msg + 1_700_000_000_000_000_000) // 1_000_000,
        }
    )
    return h, CheckContext(final_log=final, readback=None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--no-append", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    h, ctx = synthetic(a.rows)
    build_s = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t1 = time.perf_counter()
    verdicts = check_all(h, ctx)
    secs = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    for v in verdicts:
        print(f"  {v.name:12s} {v.outcome.value:8s} {v.summary}")
        if v.error:
            print(v.error)
    bad = [v.name for v in verdicts if v.outcome is not Outcome.PASS]
    rate = len(h) / secs
    line = (
        f"{dt.datetime.now().isoformat(timespec='seconds')} {platform.node()} "
        f"{platform.processor() or platform.machine()} cpus={os.cpu_count()} "
        f"python={platform.python_version()} pandas={pd.__version__} rows={len(h)} "
        f"check_s={secs:.2f} rows_per_s={rate:,.0f} peak_rss_gib={peak:.2f} "
        f"(after build {rss_before:.2f}) build_s={build_s:.1f} not_pass={bad or 'none'}"
    )
    print(line)
    if not a.no_append:
        out = ROOT / "bench" / "results" / "checkers.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
