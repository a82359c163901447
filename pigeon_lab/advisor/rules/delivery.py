"""Rules about getting messages to clients: resume, fan-out, timeouts, reconnects,
backpressure, drains, heartbeats, and whether any of it was tested."""

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
)

TOPIC = "delivery and clients"
PUBSUB = ("redis-pubsub", "redis-sharded-pubsub", "nats", "postgres")
"""Adapters that forward a broadcast once and keep nothing (no replay)."""
CSR_ADAPTERS = ("redis-streams", "mongo", "postgres")
"""Adapters with which Socket.IO's connection state recovery works across nodes."""
DETECTION_MAX_S = 60.0
NODE_FAILURES = ("node-kill", "kill", "drain", "restart", "pause", "partition-lb-node")
REDIS_FAILURES = ("redis-failover", "split-brain", "partition-node-redis")


@rule(
    "resume-after-reconnect",
    title="A reconnecting client gets what it missed",
    claim="A Redis pub/sub adapter delivers at most once: a client that was disconnected "
    "(a deploy, a node kill, a train tunnel) misses whatever was published meanwhile, "
    "unless it resumes from a durable log (join with after_seq) or the adapter keeps "
    "packets for Socket.IO connection state recovery.",
    severity=Severity.HIGH,
    fields=("client.resume", "adapter.kind"),
    probe=("delivery.resume",),
    proofs=(
        scenario(
            "node-kill",
            "the killed node's clients miss every push sent while they "
            "move; the run passes only because each rejoins with after_seq "
            "(`delivery` would fail without it)",
            "delivery",
            "gaps",
        ),
    ),
    fix="Keep each channel's log (Redis streams) and rejoin with after_seq = the last "
    "seq delivered; or use an adapter that supports connection state recovery.",
    topic=TOPIC,
)
def _resume(d: Design) -> Judgement:
    resume, adapter = d.client.resume, d.adapter.kind
    if resume is None:
        return not_said("client.resume")
    if resume == "after-seq":
        return passed("clients resume from the log with after_seq")
    if resume == "connection-state-recovery":
        if adapter is None:
            return not_said("adapter.kind")
        if adapter in CSR_ADAPTERS:
            return passed(f"connection state recovery with the {adapter} adapter")
        return failed(f"connection state recovery does not work across nodes with the "
                      f"{adapter} adapter (it keeps no packets)")  # fmt: skip
    kind = f"the {adapter} adapter" if adapter else "the adapter"
    at_most_once = " is at most once" if adapter in PUBSUB else " alone"
    return failed(f"no resume: {kind}{at_most_once}; reconnecting clients lose messages")


@rule(
    "cross-node-fanout",
    title="Broadcasts reach members on every node",
    claim="Several nodes without an adapter deliver a room broadcast only to the members "
    "connected to the node that sent it.",
    severity=Severity.HIGH,
    fields=("adapter.kind", "components.nodes"),
    probe=("delivery.fanout",),
    proofs=(
        scenario(
            "smoke",
            "two nodes behind HAProxy: members on both get every message (`delivery`)",
            "delivery",
        ),
    ),
    fix="Give every node the same adapter (Redis pub/sub, streams, ...).",
    topic=TOPIC,
)
def _fanout(d: Design) -> Judgement:
    nodes, adapter = d.nodes(), d.adapter.kind
    if nodes == 1:
        return passed("one node: nothing to fan out to")
    if adapter is None:
        return not_said("adapter.kind")
    if adapter == "none":
        return failed(f"{nodes or 'several'} nodes and no adapter")
    return passed(f"the {adapter} adapter carries broadcasts between nodes")


@rule(
    "ack-timeouts",
    title="Clients time out acks and retry",
    claim="A client without an ack timeout waits forever for an ack lost with a node; a "
    "client that never retries drops the message the user thinks was sent.",
    severity=Severity.MEDIUM,
    fields=("client.ack_timeout_ms", "client.retry"),
    probe=("acks.timely",),
    proofs=(
        scenario(
            "node-kill",
            "acks in flight on the killed node are lost; clients retry "
            "after their ack timeout and nothing is lost (`durability`, "
            "`idempotence`)",
            "durability",
            "idempotence",
        ),
    ),
    fix="Time every send out (a few seconds) and retry with backoff and the same id, "
    "up to a deadline after which the outcome is shown as unknown.",
    topic=TOPIC,
)
def _ack_timeouts(d: Design) -> Judgement:
    timeout, retry = d.client.ack_timeout_ms, d.client.retry
    if timeout is None or retry is None:
        return not_said("client.ack_timeout_ms", "client.retry")
    if timeout == 0:
        return failed("no ack timeout: a lost ack leaves the send pending forever")
    if retry == "none":
        return failed("no retry: a send whose ack was lost is dropped")
    return passed(f"ack timeout {timeout} ms, retry {retry}")


@rule(
    "reconnect-jitter",
    title="Reconnects back off with jitter",
    claim="Clients that reconnect at once, or on a fixed delay without jitter, come back "
    "together after a node or network failure: a thundering herd that knocks the "
    "survivors over.",
    severity=Severity.MEDIUM,
    fields=("client.reconnect.backoff", "client.reconnect.jitter"),
    proofs=(
        scenario(
            "reset-storm",
            "every connection reset at once: the reconnects must "
            "spread out for the cluster to recover",
        ),
    ),
    fix="Exponential backoff with full jitter (socket.io-client: randomizationFactor "
    "0.5+), a cap of tens of seconds.",
    topic=TOPIC,
)
def _jitter(d: Design) -> Judgement:
    r = d.client.reconnect
    if r.backoff is None or r.jitter is None:
        return not_said("client.reconnect.backoff", "client.reconnect.jitter")
    if r.backoff != "exponential":
        return failed(f"reconnect backoff is {r.backoff!r}")
    if r.jitter == "none":
        return failed("exponential backoff without jitter: clients retry in lockstep")
    return passed(f"exponential backoff, {r.jitter} jitter")


@rule(
    "backpressure",
    title="A slow consumer is bounded",
    claim="Without backpressure a client that stops reading makes its node buffer its "
    "output without bound, until the node runs out of memory and drops everyone.",
    severity=Severity.MEDIUM,
    fields=("limits.slow_consumers",),
    proofs=(
        scenario(
            "slow-consumers",
            "clients that stop reading: memory must stay bounded and the others served",
        ),
    ),
    fix="Cap each connection's output buffer; disconnect (or drop for) a client past it "
    "and let it resync on reconnect.",
    topic=TOPIC,
)
def _backpressure(d: Design) -> Judgement:
    slow = d.limits.slow_consumers
    if slow is None:
        return not_said("limits.slow_consumers")
    if slow == "unbounded":
        return failed("slow consumers are buffered without bound")
    return passed(f"a slow consumer is {'disconnected' if slow == 'disconnect' else 'dropped for'}")


@rule(
    "drain-on-sigterm",
    title="Nodes drain on SIGTERM",
    claim="A node that exits on SIGTERM without a drain drops the acks of every send in "
    "flight and disconnects its clients at once: each deploy is a small outage.",
    severity=Severity.MEDIUM,
    fields=("shutdown.drain_s",),
    proofs=(
        scenario(
            "node-kill",
            "an undrained stop (SIGKILL): in-flight acks are lost and "
            "clients must retry to lose nothing (`durability`, `idempotence`)",
            "durability",
            "idempotence",
        ),
    ),
    fix="On SIGTERM fail readiness at once, refuse new sessions, keep serving for a few "
    "seconds, then disconnect clients so they reconnect elsewhere.",
    topic=TOPIC,
)
def _drain(d: Design) -> Judgement:
    drain = d.shutdown.drain_s
    if drain is None:
        return not_said("shutdown.drain_s")
    if drain <= 0:
        return failed("no drain: SIGTERM drops in-flight acks")
    return passed(f"drains for {drain:g} s")


@rule(
    "heartbeat-detects-dead-peers",
    title="The heartbeat notices a dead peer in time",
    claim="pingInterval + pingTimeout is how long a vanished peer goes unnoticed; over a "
    "minute, clients of a dead or cut-off node hang that long, and an interval above the "
    "load balancer's idle timeout gets quiet connections cut.",
    severity=Severity.MEDIUM,
    fields=(
        "heartbeat.ping_interval_s",
        "heartbeat.ping_timeout_s",
        "load_balancer.idle_timeout_s",
    ),
    probe=("handshake.heartbeat",),
    proofs=(
        scenario(
            "partition-lb-node",
            "a node cut off behind the load balancer: its "
            "clients notice only after pingInterval + pingTimeout",
        ),
    ),
    fix="Keep pingInterval + pingTimeout under a minute (25 s + 20 s) and the interval "
    "below every idle timeout on the path.",
    topic=TOPIC,
)
def _heartbeat(d: Design) -> Judgement:
    h = d.heartbeat
    if h.ping_interval_s is None or h.ping_timeout_s is None:
        return not_said("heartbeat.ping_interval_s", "heartbeat.ping_timeout_s")
    detect = h.ping_interval_s + h.ping_timeout_s
    idle = d.load_balancer.idle_timeout_s
    if detect > DETECTION_MAX_S:
        return failed(f"a dead peer goes unnoticed for {detect:g} s")
    if idle is not None and h.ping_interval_s >= idle:
        return failed(f"pingInterval {h.ping_interval_s:g} s >= the idle timeout {idle:g} s")
    return passed(f"a dead peer is noticed within {detect:g} s")


@rule(
    "failure-tested",
    title="The design was load tested under failures",
    claim="A design load tested only in the steady state has never shown what its "
    "promises are worth: node failures and Redis failovers are where messages are lost.",
    severity=Severity.MEDIUM,
    fields=("testing.scenarios",),
    proofs=(
        scenario("node-kill", "a node killed under load", "durability", "delivery"),
        scenario(
            "redis-failover",
            "Redis failed over under load",
            "durability",
            "order",
            **FAILOVER_SHORT,
        ),
    ),
    fix="Run the catalogue's failure scenarios (node-kill, redis-failover, split-brain, "
    "partition-*) in CI against a copy of the deployment.",
    topic=TOPIC,
)
def _tested(d: Design) -> Judgement:
    ran = d.testing.scenarios
    if ran is None:
        return not_said("testing.scenarios")
    missing = []
    if not any(any(k in s for k in NODE_FAILURES) for s in ran):
        missing.append("a node failure (node-kill)")
    if d.redis.topology not in (None, "single") and not any(s in REDIS_FAILURES for s in ran):
        missing.append("a Redis failover (redis-failover, split-brain)")
    if missing:
        return failed("never load tested under " + " or ".join(missing))
    return passed(f"tested under {', '.join(ran)}")


__all__: list[str] = []
