"""Rules about what an ack promises: durability, replication, dedupe, sequencing, retention."""

from __future__ import annotations

from pigeon_lab.advisor.design import Design
from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.rules.base import (
    FAILOVER_SHORT,
    Judgement,
    failed,
    not_said,
    passed,
    rule,
    scenario,
    selftest,
)

TOPIC = "acks and durability"


@rule(
    "ack-after-durable-write",
    title="Acknowledge a send only after its durable write",
    claim="An ack sent before the write is durable (on receipt, or on publish) loses "
    "acknowledged messages whenever the write then fails or the node dies: the client "
    "was told its message was stored and will not retry it.",
    severity=Severity.CRITICAL,
    fields=("acks.after",),
    probe=("delivery.acked-readable",),
    proofs=(
        selftest(
            "ack-before-persist",
            "acks before the write; about one acked write in "
            "five is never stored and `durability` fails",
        ),
    ),
    fix="Ack from the write's own reply (the Lua script's seq), after the WAIT when "
    "durability is replicated; retry on timeout with the same client id.",
    topic=TOPIC,
)
def _ack_after_write(d: Design) -> Judgement:
    after = d.acks.after
    if after is None:
        return not_said("acks.after")
    if after == "durable-write":
        return passed("acks come after the durable write")
    return failed(f"acks.after is {after!r}: an acked message can still be lost")


@rule(
    "replicated-acks",
    title="Acked writes survive a Redis failover and a split brain",
    claim="Acknowledging after the primary alone (asynchronous replication) loses the "
    "acknowledged writes the replica had not copied when Sentinel promotes it, and a "
    "primary cut off from the Sentinels keeps acknowledging writes the new primary never "
    "sees (split brain); their seqs are then reused.",
    severity=Severity.HIGH,
    fields=("redis.durability", "redis.topology", "redis.replicas"),
    proofs=(
        scenario(
            "redis-failover",
            "a Sentinel failover under load: with durability fast "
            "acked writes vanish and their seqs are reused (`durability`, `order` "
            "fail)",
            "durability",
            "order",
            **FAILOVER_SHORT,
        ),
        scenario(
            "split-brain",
            "the primary cut off from its Sentinels keeps acking; "
            "with durability fast its writes are lost when it rejoins",
            "durability",
        ),
    ),
    fix="Ack after WAIT 1 (durability replicated) and refuse with not_durable when no "
    "replica confirms in time (min-replicas-to-write on the primary); clients retry.",
    topic=TOPIC,
)
def _replicated_acks(d: Design) -> Judgement:
    r = d.redis
    if r.topology == "single" or r.replicas == 0:
        return passed("no replica to fail over to (see redis-failover-path)")
    if r.durability is None:
        return not_said("redis.durability")
    if r.durability == "fast":
        return failed("redis.durability is 'fast' with replicas: a failover or a split "
                      "brain loses acknowledged writes")  # fmt: skip
    return passed("acks wait for a replica (WAIT)")


@rule(
    "redis-failover-path",
    title="Redis has a replica and automatic failover",
    claim="A single Redis (or replicas without Sentinel) is a single point of failure: "
    "when it restarts or is cut off, every node stops acknowledging sends and fails "
    "readiness until someone brings it back.",
    severity=Severity.HIGH,
    fields=("redis.topology", "redis.replicas"),
    proofs=(
        scenario(
            "partition-node-redis",
            "nodes cut off from Redis: sends are refused with unavailable until the link heals",
        ),
        scenario(
            "redis-failover",
            "with Sentinels and a replica the cluster carries on after the primary goes",
            "durability",
            **FAILOVER_SHORT,
        ),
    ),
    fix="Run a replica and three Sentinels (or Redis Cluster with replicas) and let the "
    "nodes find the primary through Sentinel.",
    topic=TOPIC,
)
def _failover_path(d: Design) -> Judgement:
    r = d.redis
    if r.topology is None:
        return not_said("redis.topology")
    if r.topology == "single" or r.replicas == 0:
        return failed("one Redis, no replica: a single point of failure")
    if r.topology == "replicated":
        return failed("replicas without Sentinel: a failover waits for a person")
    return passed(f"{r.topology} with {r.replicas if r.replicas is not None else 'some'} "
                  "replica(s)")  # fmt: skip


@rule(
    "server-dedupe",
    title="The server deduplicates retries by client id",
    claim="Without deduplication by the client's message id (for longer than the clients "
    "retry), every retry of a send whose ack was lost is stored again as a new message.",
    severity=Severity.HIGH,
    fields=("acks.dedupe", "acks.dedupe_window_s", "client.retry_deadline_ms"),
    probe=("acks.retry-dedupe",),
    proofs=(selftest("no-dedupe", "retries stored again under a new seq: `idempotence` fails"),),
    fix="Keep (tenant, channel, client_msg_id) -> (seq, id) for longer than the clients' "
    "retry deadline, in the same atomic script as the write.",
    topic=TOPIC,
)
def _server_dedupe(d: Design) -> Judgement:
    a = d.acks
    if a.dedupe is None:
        return not_said("acks.dedupe")
    if not a.dedupe:
        return failed("acks.dedupe is false: retries are stored twice")
    deadline = d.client.retry_deadline_ms
    if (
        a.dedupe_window_s is not None
        and deadline is not None
        and (a.dedupe_window_s * 1000 < deadline)
    ):
        return failed(f"the dedupe window ({a.dedupe_window_s:g} s) is shorter than the "
                      f"clients' retry deadline ({deadline / 1000:g} s)")  # fmt: skip
    return passed("sends are deduplicated by client id")


@rule(
    "retry-same-id",
    title="Clients retry with the same message id",
    claim="A client that retries with a new id makes every retry a new message: the "
    "server cannot tell a retry from a second send, whatever it deduplicates.",
    severity=Severity.HIGH,
    fields=("client.retry",),
    proofs=(
        selftest(
            "no-dedupe",
            "what a retry under a new id amounts to: the message "
            "stored twice (`idempotence` fails)",
        ),
    ),
    fix="Generate the client_msg_id once per message (a UUID) and resend it unchanged.",
    topic=TOPIC,
)
def _retry_same_id(d: Design) -> Judgement:
    retry = d.client.retry
    if retry is None:
        return not_said("client.retry")
    if retry == "new-id":
        return failed("client.retry is 'new-id': every retry is a duplicate")
    return passed("retries reuse the message id" if retry == "same-id" else "no retries "
                  "(see ack-timeouts)")  # fmt: skip


@rule(
    "central-sequencing",
    title="One sequence per channel, from one authority",
    claim="Sequence numbers taken from node-local counters (or none at all) let two "
    "nodes hand out the same seq: readers disagree on what a seq holds, and gaps can "
    "no longer be detected or repaired.",
    severity=Severity.CRITICAL,
    fields=("acks.sequencing",),
    probe=("delivery.seq-unique",),
    proofs=(selftest("local-seq", "node-local counters with writers on two nodes: `order` fails"),),
    fix="INCR the channel's counter in Redis in the same script as the write.",
    topic=TOPIC,
)
def _central_sequencing(d: Design) -> Judgement:
    seq = d.acks.sequencing
    if seq is None:
        return not_said("acks.sequencing")
    if seq == "central":
        return passed("one counter per channel")
    return failed("node-local seqs collide across nodes" if seq == "node-local" else
                  "no seqs: order, gaps and resume cannot be checked")  # fmt: skip


@rule(
    "retention-covers-reconnects",
    title="Retention covers the longest disconnection",
    claim="A channel that keeps fewer messages than its busiest rate times the longest "
    "disconnection clients must survive truncates their resume: they silently miss "
    "what fell out.",
    severity=Severity.MEDIUM,
    fields=("retention.messages_per_channel", "retention.peak_msgs_per_s", "client.max_offline_s"),
    proofs=(
        scenario(
            "node-kill",
            "clients away for the kill resume from the log; with a "
            "retention this small their resume is truncated (`gaps`, `delivery`)",
            "gaps",
            "delivery",
        ),
    ),
    fix="Size retention (MAXLEN) to peak rate x max offline time, or tell clients to "
    "reload the channel when a resume says truncated.",
    topic=TOPIC,
)
def _retention(d: Design) -> Judgement:
    kept, rate = d.retention.messages_per_channel, d.retention.peak_msgs_per_s
    offline = d.client.max_offline_s
    if kept is None or rate is None or offline is None:
        return not_said("retention.messages_per_channel", "retention.peak_msgs_per_s",
                        "client.max_offline_s")  # fmt: skip
    need = rate * offline
    if kept < need:
        return failed(f"{kept} messages kept, but {rate:g}/s for {offline:g} s is "
                      f"{need:.0f}")  # fmt: skip
    return passed(f"{kept} messages cover {rate:g}/s for {offline:g} s ({need:.0f})")


__all__: list[str] = []
