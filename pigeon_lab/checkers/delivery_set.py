"""Invariant 4 for targets without sequence numbers: delivery by set semantics.

Without seqs there is no order to check per channel, but there still is a promise
(Jepsen's set checker, Maelstrom's broadcast): every acknowledged send is delivered,
exactly once, to every member that was joined and connected from before the send until
``settle_ms`` after its ack; nothing is delivered that nobody sent; and per sender the
messages arrive in the order that sender sent them. A message is named by its
``client_msg_id`` (or, for a target that echoes none, its body hash: the load's bodies
are unique). The sender itself is not required to receive its own message (backends
differ on echoing to the sender), but if it does, only once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pigeon_lab.checkers._prep import records
from pigeon_lab.checkers.base import CheckContext, Counterexample, Outcome, Verdict

NAME = "delivery"
_END = np.iinfo(np.int64).max


def _kind(h: pd.DataFrame, *names: str) -> pd.DataFrame:
    return h[h["kind"].astype(str).isin(names)]


def _key(df: pd.DataFrame) -> pd.Series:
    cmid = df["client_msg_id"].astype(object)
    body = df["body_hash"].astype(object) if "body_hash" in df else pd.Series(None, index=df.index)
    return cmid.where(cmid.notna(), "h:" + body.astype(str)).where(cmid.notna() | body.notna())


def _presence(h: pd.DataFrame) -> pd.DataFrame:
    """Intervals [start, end) in which a client was joined to a channel and connected."""
    ev = _kind(h, "connect", "disconnect", "join_ok", "leave").sort_values("t", kind="stable")
    rows: list[tuple[str, str, str, int, int]] = []
    open_: dict[tuple[str, str, str], int] = {}
    for client, ws, kind, channel, t, error in zip(
        ev["client"], ev["workspace"], ev["kind"].astype(str), ev["channel"], ev["t"],
        ev["error"] if "error" in ev else [None] * len(ev), strict=True,
    ):  # fmt: skip
        if kind == "join_ok":
            open_.setdefault((str(client), str(ws), str(channel)), int(t))
        elif kind == "leave" and (error is None or error != error):
            start = open_.pop((str(client), str(ws), str(channel)), None)
            if start is not None:
                rows.append((str(client), str(ws), str(channel), start, int(t)))
        elif kind == "disconnect":
            for key in [k for k in open_ if k[0] == str(client)]:
                rows.append((*key, open_.pop(key), int(t)))
    rows += [(*key, start, _END) for key, start in open_.items()]
    return pd.DataFrame(rows, columns=["client", "workspace", "channel", "start", "end"])


def check_set(history: pd.DataFrame, ctx: CheckContext) -> Verdict:
    """Every acked send delivered exactly once to every member present throughout; no
    phantom; per sender, in the sender's order."""
    h = history
    k = ctx.max_counterexamples
    settle = int(ctx.settle_ms * 1e6)
    inv = _kind(h, "send_invoke").assign(key=lambda d: _key(d)).dropna(subset=["key"])
    first = inv.sort_values("t").drop_duplicates(["workspace", "channel", "key"])
    acks = _kind(h, "send_ok").assign(key=lambda d: _key(d)).dropna(subset=["key"])
    acks = acks.sort_values("t").drop_duplicates(["workspace", "channel", "key"])
    sends = first[["workspace", "channel", "key", "client", "t"]].merge(
        acks[["workspace", "channel", "key", "t"]].rename(columns={"t": "t_ack"}),
        on=["workspace", "channel", "key"],
    )
    sends["order"] = sends.groupby(["client", "workspace", "channel"])["t"].rank(method="first")
    dl = _kind(h, "deliver").assign(key=lambda d: _key(d)).dropna(subset=["key"])
    present = _presence(h)

    # 1. missing: every member present from before the send until settle after its ack
    need = sends.merge(present, on=["workspace", "channel"], suffixes=("_sender", ""))
    need = need[(need["client"] != need["client_sender"]) & (need["start"] <= need["t"])]
    need = need[need["end"] >= need["t_ack"] + settle]
    got = dl[["client", "workspace", "channel", "key"]].drop_duplicates().assign(hit=True)
    need = need.merge(got, on=["client", "workspace", "channel", "key"], how="left")
    missing = need[need["hit"].isna()]
    # 2. exactly once
    counts = dl.groupby(["client", "workspace", "channel", "key"]).size()
    dups = counts[counts > 1]
    # 3. phantoms: delivered keys no send produced
    sent_keys = inv[["workspace", "channel", "key"]].drop_duplicates().assign(sent=True)
    ph = dl.merge(sent_keys, on=["workspace", "channel", "key"], how="left")
    phantoms = ph[ph["sent"].isna()]
    # 4. per sender order, for each receiver
    cols = ["client", "workspace", "channel", "key", "t"]
    od = (
        dl[cols]
        .drop_duplicates(["client", "workspace", "channel", "key"])
        .merge(
            sends[["workspace", "channel", "key", "client", "order"]].rename(
                columns={"client": "sender"}
            ),
            on=["workspace", "channel", "key"],
        )
    )
    od = od.sort_values("t", kind="stable")
    prev = od.groupby(["client", "sender", "workspace", "channel"])["order"].cummax().shift()
    same = (
        od[["client", "sender", "workspace", "channel"]]
        .eq(od[["client", "sender", "workspace", "channel"]].shift())
        .all(axis=1)
    )
    reordered = od[same & (od["order"] < prev)]

    examples: list[Counterexample] = []

    def add(df: pd.DataFrame, what: str) -> None:
        for row in records(
            df.head(max(0, k - len(examples))).drop(columns=["hit"], errors="ignore")
        ):
            examples.append(Counterexample(what, [row]))

    add(missing.drop(columns=["start", "end"]), "an acknowledged send was never delivered to a "
        "member joined and connected throughout")  # fmt: skip
    add(dups.reset_index(name="times"), "a message delivered more than once to one client")
    add(phantoms.drop(columns=["sent"]), "a delivered message that no client sent")
    add(reordered, "a sender's messages delivered out of the order they were sent")
    nviol = len(missing) + len(dups) + len(phantoms) + len(reordered)
    counts_out = {
        "acked": len(sends),
        "required_deliveries": len(need),
        "delivered": len(dl),
        "missing": len(missing),
        "duplicates": len(dups),
        "phantoms": len(phantoms),
        "reordered": len(reordered),
        "violations": nviol,
    }
    metrics = {
        "wire_duplicates": 0,
        "live_gaps": 0,
        "recorded_truncations": 0,
        "refuted_truncations": 0,
    }
    if nviol:
        outcome, summary = (
            Outcome.FAIL,
            (
                f"set semantics (no seqs): {len(missing)} required deliveries missing, "
                f"{len(dups)} duplicated, {len(phantoms)} phantoms, {len(reordered)} out of "
                "sender order"
            ),
        )
    elif not ctx.complete:
        outcome, summary = Outcome.UNKNOWN, "history cut short: set semantics cannot be judged"
    elif len(need) == 0:
        outcome, summary = (
            Outcome.UNKNOWN,
            ("nothing to judge: no acknowledged send had a member present throughout"),
        )
    else:
        outcome, summary = (
            Outcome.PASS,
            (
                f"set semantics (the target has no seqs): all {len(need)} required deliveries of "
                f"{len(sends)} acked sends made exactly once, in each sender's order"
            ),
        )
    return Verdict(NAME, outcome, summary, counts=counts_out, counterexamples=examples,
                   metrics=metrics)  # fmt: skip


__all__ = ["check_set"]
