"""Mutation tests of the checkers: correct runs pass every checker; one mutation fails its owner.

Histories come from the model of a correct run (``pigeon_lab.testing.correct_history``: the
real client algorithm against a simulated correct server under a fault model). Each single
mutation of one breaks one invariant, and the checker that owns it must fail (others may
fail too). Examples are derandomized and database-less, so CI is reproducible.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pigeon_lab.checkers.base import CheckContext, Outcome
from pigeon_lab.checkers.suite import check_all
from pigeon_lab.testing import correct_history
from tests.unit.test_checker_helpers import final_log_of, verdict

Case = tuple[pd.DataFrame, CheckContext]
Mutation = Callable[[int, int], Case | None]  # (base, choice) -> mutated case
NBASE = 24
MSG_FIELDS = ["seq", "msg_id", "client_msg_id", "sender", "body_hash", "sent_wall"]
FAST = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def base(i: int) -> Case:
    """A correct run with two workspaces, some refused sends, some retries and reconnects."""
    b = correct_history(
        1000 + i,
        clients=3 + i % 3,
        channels=1 + i % 2,
        messages=25 + i % 20,
        workspaces=2,
        p_refuse=0.08,
    )
    h, ctx = b.build()
    h = h.astype({c: object for c in h.columns if pd.api.types.is_string_dtype(h[c])})
    return h, dataclasses.replace(ctx, max_counterexamples=1)  # one proof is enough here


def segments(h: pd.DataFrame) -> pd.Series:
    """Per row, its membership segment of (client, channel): a leave or a fresh join starts one."""
    start = (h["kind"] == "leave") | ((h["kind"] == "join") & h["seq"].isna())
    return start.astype(int).groupby([h["client"], h["channel"]]).cumsum()


@cache
def consecutive_deliveries(i: int) -> list[tuple[int, int]]:
    """(row, next row) of deliveries of one segment whose seqs follow each other."""
    h = base(i)[0]
    d = h[h["kind"] == "deliver"].assign(seg=segments(h))
    nxt = d.groupby(["client", "channel", "seg"])["seq"].shift(-1)
    idx = d.index.to_series().groupby([d["client"], d["channel"], d["seg"]]).shift(-1)
    ok = nxt == d["seq"] + 1
    return [(int(a), int(b)) for a, b in zip(d.index[ok], idx[ok], strict=True)]


def insert_row(h: pd.DataFrame, after: int, row: pd.DataFrame) -> pd.DataFrame:
    """``h`` with the one-row frame ``row`` right after position ``after`` (same t)."""
    return pd.concat([h.iloc[: after + 1], row, h.iloc[after + 1 :]], ignore_index=True)


def with_final(ctx: CheckContext, final: pd.DataFrame) -> CheckContext:
    return dataclasses.replace(ctx, final_log=final.reset_index(drop=True))


# ----- the mutations (each returns None when the history offers nothing to mutate) -----
def drop_delivery(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    pairs = consecutive_deliveries(i)
    if not pairs:
        return None
    a, _ = pairs[k % len(pairs)]
    return h.drop(index=a).reset_index(drop=True), ctx


@cache
def last_deliveries(i: int) -> list[int]:
    """The last delivery of each membership that ran to the client's own disconnect."""
    h = base(i)[0]
    d = h[h["kind"] == "deliver"]
    left = h[h["kind"] == "leave"].groupby(["client", "channel"])["t"].max()
    after = [
        t > left.get((c, ch), -1)
        for c, ch, t in zip(d["client"], d["channel"], d["t"], strict=True)
    ]
    d = d[after]  # no leave after it: the membership ran to the end
    ends = h[h["kind"] == "disconnect"].groupby("client")["error"].last()
    d = d[d["client"].map(ends).eq("client disconnect")]
    return [int(x) for x in d.groupby(["client", "channel"]).tail(1).index]


def drop_the_tail(i: int, k: int) -> Case | None:
    rows = last_deliveries(i)
    if not rows:
        return None
    h, ctx = base(i)
    return h.drop(index=rows[k % len(rows)]).reset_index(drop=True), ctx


def duplicate_delivery(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    pairs = consecutive_deliveries(i)
    if not pairs:
        return None
    a, b = pairs[k % len(pairs)]
    return insert_row(h, b, h.iloc[[a]]), ctx  # delivered again after its successor


def swap_deliveries(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    pairs = consecutive_deliveries(i)
    if not pairs:
        return None
    a, b = pairs[k % len(pairs)]
    h = h.copy()
    h.loc[[a, b], MSG_FIELDS] = h.loc[[b, a], MSG_FIELDS].to_numpy()
    return h, ctx


def alter_body(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    rows = h.index[h["kind"].isin(["recv", "sync_ok", "send_ok"]) & h["body_hash"].notna()]
    if len(rows) == 0:
        return None
    h = h.copy()
    h.loc[rows[k % len(rows)], "body_hash"] = "tampered"
    return h, ctx


def swap_sender(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    rows = h.index[h["kind"].isin(["recv", "deliver", "sync_ok"]) & h["sender"].notna()]
    users = sorted(set(h["user"].dropna()))
    if len(rows) == 0 or len(users) < 2:
        return None
    r = rows[k % len(rows)]
    others = [u for u in users if u != h.at[r, "sender"]]
    h = h.copy()
    h.loc[r, "sender"] = others[(k // len(rows)) % len(others)]
    return h, ctx


def add_phantom(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    fl = final_log_of(ctx)
    if fl.empty:
        return None
    r = fl.iloc[k % len(fl)]
    head = int(
        fl.loc[(fl["workspace"] == r["workspace"]) & (fl["channel"] == r["channel"]), "seq"].max()
    )
    ghost = {
        **r.to_dict(),
        "seq": head + 1,
        "msg_id": f"ghost-{k}",
        "client_msg_id": f"ghost-{k}",
        "body_hash": "h-ghost",
        "sender": ["intruder", r["sender"]][k % 2],
    }
    return h, with_final(ctx, pd.concat([fl, pd.DataFrame([ghost])], ignore_index=True))


def deliver_across_tenants(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    recvs = h.index[(h["kind"] == "recv") & h["client_msg_id"].notna()]
    joins = h.index[h["kind"] == "join_ok"]
    if len(recvs) == 0:
        return None
    r = recvs[k % len(recvs)]
    other = joins[h.loc[joins, "workspace"] != h.at[r, "workspace"]]
    if len(other) == 0:
        return None
    j = other[(k // len(recvs)) % len(other)]  # a client of another tenant, after its join
    row = h.iloc[[j]].copy()  # its join_ok, turned into the receipt of the other's message
    row[MSG_FIELDS] = h.loc[[r], MSG_FIELDS].to_numpy()
    row["kind"] = "recv"
    return insert_row(h, int(j), row.astype(h.dtypes.to_dict())), ctx


def drop_acked_entry(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    acks = h[(h["kind"] == "send_ok") & h["seq"].notna()]
    if acks.empty:
        return None
    a = acks.iloc[k % len(acks)]
    fl = final_log_of(ctx)
    keep = ~(
        (fl["workspace"] == a["workspace"])
        & (fl["channel"] == a["channel"])
        & (fl["seq"] == a["seq"])
    )
    return h, with_final(ctx, fl[keep])


def reuse_seq(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    obs = h[h["kind"].isin(["recv", "deliver", "sync_ok", "send_ok"]) & h["msg_id"].notna()]
    fl = final_log_of(ctx)
    if obs.empty:
        return None
    r = obs.index[k % len(obs)]
    same = fl[(fl["workspace"] == h.at[r, "workspace"]) & (fl["channel"] == h.at[r, "channel"])]
    others = same[same["seq"] != h.at[r, "seq"]]
    if others.empty:
        return None
    h = h.copy()  # this observer says the message sits at another message's seq
    h.loc[r, "seq"] = int(others["seq"].iloc[(k // len(obs)) % len(others)])
    return h, ctx


@cache
def refused_pairs(i: int) -> list[tuple[str, str]]:
    """(channel, client_msg_id) of the sends of base ``i`` whose only attempt was refused."""
    h = base(i)[0]
    sends = h[h["kind"].isin(["send_invoke", "send_ok", "send_info", "send_fail"])]
    per = sends.groupby(["channel", "client_msg_id"])
    kinds = per["kind"].agg(lambda s: frozenset(s))
    tries = per["attempt"].max()
    done = {"send_ok", "send_info"}
    return [
        key for key, ks in kinds.items() if "send_fail" in ks and not ks & done and tries[key] == 1
    ]


def store_a_refused_send(i: int, k: int) -> Case | None:
    h, ctx = base(i)
    definite = refused_pairs(i)
    if not definite:
        return None
    ch, cmid = definite[k % len(definite)]
    fail = h[(h["client_msg_id"] == cmid) & (h["kind"] == "send_fail")].iloc[0]
    fl = final_log_of(ctx)
    same = fl[(fl["workspace"] == fail["workspace"]) & (fl["channel"] == ch)]
    entry = {
        "workspace": fail["workspace"],
        "channel": ch,
        "seq": int(same["seq"].max()) + 1 if len(same) else 1,
        "msg_id": f"stored-{cmid}",
        "client_msg_id": cmid,
        "sender": fail["user"],
        "body_hash": "h-stored",
        "ts": 0,
    }
    return h, with_final(ctx, pd.concat([fl, pd.DataFrame([entry])], ignore_index=True))


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "drop a delivery": (drop_delivery, "gaps"),
    "drop the last delivery of a membership": (drop_the_tail, "gaps"),
    "duplicate a delivery": (duplicate_delivery, "delivery"),
    "swap two deliveries": (swap_deliveries, "delivery"),
    "alter a body hash": (alter_body, "order"),
    "swap a sender": (swap_sender, "isolation"),
    "add a phantom message": (add_phantom, "order"),
    "deliver across tenants": (deliver_across_tenants, "isolation"),
    "drop an acked entry from the final log": (drop_acked_entry, "durability"),
    "reuse a seq": (reuse_seq, "order"),
    "store a definitely refused send": (store_a_refused_send, "durability"),
}


@cache
def applicable(name: str) -> tuple[int, ...]:
    """The base histories this mutation can be applied to."""
    fn, _ = MUTATIONS[name]
    return tuple(i for i in range(NBASE) if fn(i, 0) is not None)


def test_every_mutation_applies_to_most_bases() -> None:
    for name in MUTATIONS:
        assert len(applicable(name)) >= NBASE // 2, name


@settings(FAST, max_examples=120)
@given(
    st.integers(0, 10**6),
    st.integers(2, 6),
    st.integers(1, 3),
    st.integers(10, 60),
    st.integers(1, 2),
    st.sampled_from([0.0, 0.1, 0.3]),
    st.sampled_from([0.0, 0.05, 0.15]),
)
def test_correct_runs_pass_every_checker(
    seed: int, clients: int, channels: int, messages: int, workspaces: int, drop: float, disc: float
) -> None:
    h, ctx = correct_history(
        seed,
        clients,
        channels,
        messages,
        workspaces,
        p_drop=drop,
        p_dup=drop,
        p_reorder=drop,
        p_disconnect=disc,
        p_ack_loss=drop / 2,
    ).build()
    for v in check_all(h, ctx):
        assert v.outcome is Outcome.PASS, (v.name, v.summary, v.counterexamples[:2], v.error)


@pytest.mark.parametrize("name", list(MUTATIONS))
@FAST
@given(data=st.data())
def test_one_mutation_fails_the_checker_that_owns_it(name: str, data: st.DataObject) -> None:
    fn, owner = MUTATIONS[name]
    which = data.draw(st.sampled_from(applicable(name)), label="base")
    k = data.draw(st.integers(0, 2**20), label="choice")
    mutated = fn(which, k)
    if mutated is None:  # this choice found nothing to mutate in this base
        return
    v = verdict(owner, *mutated)
    assert v.outcome is Outcome.FAIL, (name, v.summary)
    assert v.counterexamples and v.counterexamples[0].rows, v


def test_the_bases_pass_every_checker() -> None:
    for i in range(NBASE):
        for v in check_all(*base(i)):
            assert v.outcome is Outcome.PASS, (i, v.name, v.summary, v.counterexamples[:1])
    assert np.mean([len(base(i)[0]) for i in range(NBASE)]) > 100
