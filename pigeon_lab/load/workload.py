"""The chat workload's plan: which user is in which workspace, joins which channels,
sends how often and how much. Pure and seeded: user ``i`` uses ``Random(seed + i)``."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from pigeon_lab.load.config import LoadConfig


@dataclass(frozen=True)
class UserPlan:
    """The choices of one simulated user."""

    index: int
    user: str
    workspace: str
    url: str
    channels: tuple[str, ...]
    seed: int


def zipf_weights(n: int, exponent: float) -> list[float]:
    """Weights 1/k^s for ranks k = 1..n (s = 0: uniform)."""
    return [1.0 / (k**exponent) for k in range(1, n + 1)]


def plan_user(config: LoadConfig, index: int) -> UserPlan:
    """User ``index``: workspaces round robin, channels drawn without replacement by skew,
    its URL by its client group (``LoadConfig.url_of``)."""
    w = config.workload
    rng = random.Random(config.seed + index)
    workspaces = w.workspace_names()
    names = w.channel_names()
    weights = zipf_weights(len(names), w.channel_skew)
    chosen: list[str] = []
    pool = list(zip(names, weights, strict=True))
    for _ in range(min(w.channels_per_user, len(names))):
        pick = rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
        chosen.append(pool.pop(pick)[0])
    return UserPlan(
        index,
        f"u{index}",
        workspaces[index % len(workspaces)],
        config.url_of(index),
        tuple(chosen),
        config.seed + index,
    )


def all_channels(config: LoadConfig, users: int | None = None) -> list[tuple[str, str]]:
    """Every (workspace, channel) some user of the plan joins, sorted."""
    n = config.workload.users if users is None else users
    return sorted(
        {(p.workspace, c) for i in range(n) for p in [plan_user(config, i)] for c in p.channels}
    )


def next_send_delay(config: LoadConfig, rng: random.Random) -> float:
    """Seconds to the next send: exponential (Poisson process) or uniform around the mean."""
    rate = config.workload.send_rate_per_user
    if rate <= 0:
        return float("inf")
    if config.send_schedule == "poisson":
        return rng.expovariate(rate)
    return rng.uniform(0.5, 1.5) / rate


def make_body(
    config: LoadConfig, rng: random.Random, wall_ns: int | None = None, tag: str = ""
) -> str:
    """A body of the configured size that starts with the send wall time: ``<ns>|xxxx...``,
    or ``<ns>|<tag>|xxxx...`` (a tag, e.g. the start of the client_msg_id, makes each body
    unique, so that its hash names its send even on a target that echoes no ids)."""
    b = config.workload.body_bytes
    size = b if isinstance(b, int) else rng.randint(*b)
    head = f"{time.time_ns() if wall_ns is None else wall_ns}|" + (f"{tag}|" if tag else "")
    return head + "x" * max(0, size - len(head))


def body_sent_wall_ns(body: str) -> int | None:
    """The send wall time a body made by ``make_body`` carries, else None."""
    head, sep, _ = body.partition("|")
    if not sep or not head.isdigit():
        return None
    return int(head)
