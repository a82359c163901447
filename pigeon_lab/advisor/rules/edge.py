"""Rules about the edge: the load balancer, transports, tenancy, auth, limits, CORS."""

from __future__ import annotations

from pigeon_lab.advisor.design import Design
from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.rules.base import (
    Judgement,
    failed,
    not_said,
    passed,
    probe,
    rule,
    scenario,
    selftest,
)

TOPIC_LB = "load balancer and transports"
TOPIC_SEC = "tenancy and security"
MAX_BODY = 1 << 20
MAX_PAYLOAD = 10_000_000


@rule(
    "sticky-polling",
    title="Polling sessions stick to their node, for every client",
    claim="Long-polling behind a load balancer without stickiness sends a session's "
    "requests to nodes that do not know it (HTTP 400 'Session ID unknown'); stickiness by "
    "cookie alone fails the clients that keep none (socket.io-client in Node, "
    "cross-origin browsers without withCredentials).",
    severity=Severity.HIGH,
    fields=("load_balancer.stickiness", "load_balancer.transports", "components.nodes"),
    probe=("stickiness.polling", "stickiness.cookieless", "transports.polling"),
    proofs=(
        probe(
            "stickiness.polling",
            "HAProxy without stickiness (cluster up --no-sticky): "
            "polling requests answered 400 'Session ID unknown'",
        ),
        probe("stickiness.cookieless", "polling sessions whose clients keep no cookies"),
    ),
    fix="Route by the Engine.IO sid (node-tagged sids, HAProxy use-server on "
    "url_param(sid)) as well as a cookie; or run websocket only.",
    topic=TOPIC_LB,
)
def _sticky(d: Design) -> Judgement:
    lb = d.load_balancer
    if d.has_load_balancer() is False or d.nodes() == 1:
        return passed("no load balancer over several nodes: nothing to stick to")
    if lb.transports is not None and "polling" not in lb.transports:
        return passed("websocket only: no polling session to keep on its node")
    if lb.stickiness is None or lb.transports is None:
        return not_said("load_balancer.stickiness", "load_balancer.transports")
    if not lb.stickiness:
        return failed("polling without stickiness: requests reach nodes that do not "
                      "know their session (HTTP 400)")  # fmt: skip
    if set(lb.stickiness) == {"cookie"}:
        return failed("stickiness by cookie only: clients that keep no cookies get "
                      "HTTP 400 on polling")  # fmt: skip
    return passed(f"sticky by {' and '.join(lb.stickiness)}")


@rule(
    "websocket-transport",
    title="Websockets get through, polling remains a fallback",
    claim="A path that blocks websockets leaves every client on long-polling (three or "
    "four times the requests, more latency); one without polling strands clients behind "
    "proxies that block websockets unless they are all set to websocket only.",
    severity=Severity.LOW,
    fields=("load_balancer.transports",),
    probe=(
        "transports.websocket",
        "transports.polling",
        "transports.upgrade",
        "handshake.versions",
    ),
    proofs=(
        scenario(
            "smoke", "the catalogue's default transport (websocket) through HAProxy", "delivery"
        ),
    ),
    fix="Let the websocket upgrade through every hop (HTTP/1.1, Upgrade headers, a "
    "tunnel timeout above pingInterval) and keep polling enabled.",
    topic=TOPIC_LB,
)
def _transports(d: Design) -> Judgement:
    t = d.load_balancer.transports
    if t is None:
        return not_said("load_balancer.transports")
    if "websocket" not in t:
        return failed("polling only: every client pays for long-polling")
    return passed(f"transports: {', '.join(t)}")


@rule(
    "readiness-routing",
    title="The load balancer routes on readiness",
    claim="A load balancer that checks liveness (or a TCP port) keeps sending clients to "
    "a node that lost Redis or is draining: they connect and every send fails.",
    severity=Severity.MEDIUM,
    fields=("load_balancer.health_check",),
    proofs=(
        scenario(
            "partition-node-redis",
            "a node cut off from Redis must leave rotation "
            "(its /readyz fails) while the others serve",
        ),
    ),
    fix="Health-check GET /readyz (Redis reachable, adapter subscription live, not "
    "draining) every second or so.",
    topic=TOPIC_LB,
)
def _readiness(d: Design) -> Judgement:
    if d.has_load_balancer() is False:
        return passed("no load balancer")
    check = d.load_balancer.health_check
    if check is None:
        return not_said("load_balancer.health_check")
    if check != "readiness":
        return failed(f"health check {check!r}: nodes that cannot serve stay in rotation")
    return passed("routes on readiness")


@rule(
    "tenant-scoped-rooms",
    title="Rooms and keys are scoped by the token's tenant",
    claim="Rooms not prefixed by tenant (or a tenant taken from the payload) leak: two "
    "workspaces that both have a 'general' channel receive each other's messages.",
    severity=Severity.CRITICAL,
    fields=("tenancy.rooms", "tenancy.tenant_from", "tenancy.model"),
    probe=("isolation.rooms",),
    proofs=(
        selftest(
            "unprefixed-rooms", "two workspaces using the same channel names: `isolation` fails"
        ),
    ),
    fix="Name rooms and keys ws:<tenant>:ch:<channel> with the tenant from the token.",
    topic=TOPIC_SEC,
)
def _tenant_rooms(d: Design) -> Judgement:
    t = d.tenancy
    if t.model == "single":
        return passed("a single tenant")
    if t.tenant_from == "payload":
        return failed("the tenant comes from the payload: a client picks its tenant")
    if t.model == "deployment-per-tenant":
        return passed("a deployment per tenant")
    if t.rooms is None:
        return not_said("tenancy.rooms")
    if t.rooms == "unprefixed" and t.model != "namespace-per-tenant":
        return failed("room names are not prefixed by tenant: workspaces share channels")
    if t.tenant_from is None:
        return not_said("tenancy.tenant_from")
    return passed("rooms scoped by the token's tenant")


@rule(
    "sender-from-token",
    title="The sender is stamped from the token",
    claim="A server that takes a message's sender from the payload lets any user post as "
    "any other.",
    severity=Severity.CRITICAL,
    fields=("tenancy.sender_from",),
    probe=("isolation.sender",),
    proofs=(
        selftest("sender-from-payload", "an adversary claims another sender: `isolation` fails"),
    ),
    fix="Stamp sender from the verified token on the server; ignore payload fields.",
    topic=TOPIC_SEC,
)
def _sender(d: Design) -> Judgement:
    s = d.tenancy.sender_from
    if s is None:
        return not_said("tenancy.sender_from")
    if s == "payload":
        return failed("the sender comes from the payload: anyone can post as anyone")
    return passed("the sender comes from the token")


@rule(
    "auth-at-connect",
    title="Tokens are verified at connect, with pinned algorithms",
    claim="A CONNECT accepted without a token, with a garbage or wrongly signed one, with "
    "alg: none, or with an expired one hands the socket to anyone; accepting several "
    "algorithm families invites key confusion.",
    severity=Severity.CRITICAL,
    fields=("auth.token", "auth.algorithms"),
    probe=("auth.missing", "auth.garbage", "auth.bad-signature", "auth.alg-none", "auth.expired"),
    proofs=(
        selftest(
            "correct",
            "adversaries with forged, expired, missing and malformed "
            "tokens: all refused, or `isolation` fails",
        ),
    ),
    fix="Verify in the connection middleware with one pinned algorithm (HS256 or RS256), "
    "a required exp and the user and tenant claims; refuse with a connect_error code.",
    topic=TOPIC_SEC,
)
def _auth(d: Design) -> Judgement:
    a = d.auth
    if a.token is None:
        return not_said("auth.token")
    if a.token == "none":
        return failed("no authentication at connect")
    if a.token == "jwt":
        if a.algorithms is None:
            return not_said("auth.algorithms")
        algs = {x.upper() for x in a.algorithms}
        if "NONE" in algs or not algs:
            return failed("alg 'none' is accepted: unsigned tokens pass")
        families = {x[:2] for x in algs}
        if len(families) > 1:
            return failed(f"several algorithm families ({', '.join(sorted(algs))}): "
                          "key confusion")  # fmt: skip
    return passed(f"{a.token} verified at connect")


@rule(
    "expiry-on-live-sockets",
    title="A socket does not outlive its token",
    claim="Checking the token only at connect lets a socket outlive its token's expiry "
    "(and a revocation) for as long as it stays connected: days, for a tab left open.",
    severity=Severity.MEDIUM,
    fields=("auth.expiry_on_live_sockets",),
    probe=("auth.expiry-live",),
    proofs=(
        probe(
            "auth.expiry-live",
            "a socket connected with a 3-second token, asked again after its expiry",
        ),
    ),
    fix="At exp, disconnect (after a `closing` event) or refuse events with `expired`; "
    "let clients extend the session with a fresh token.",
    topic=TOPIC_SEC,
)
def _expiry(d: Design) -> Judgement:
    e = d.auth.expiry_on_live_sockets
    if e is None:
        return not_said("auth.expiry_on_live_sockets")
    if e == "none":
        return failed("tokens are checked at connect only")
    return passed(f"at expiry the socket is {'disconnected' if e == 'disconnect' else 'refused'}")


@rule(
    "bounded-payloads",
    title="Message and packet sizes are bounded",
    claim="Without a per-message body limit (or with a huge maxPayload) one client can "
    "store or make a node buffer megabytes per event.",
    severity=Severity.MEDIUM,
    fields=("limits.max_body_bytes", "limits.max_payload_bytes"),
    probe=("handshake.max-payload", "acks.oversized"),
    proofs=(selftest("correct", "an adversary's oversized body is refused with too_large"),),
    fix="Refuse bodies over a few KiB with too_large; keep maxPayload near 1 MB.",
    topic=TOPIC_SEC,
)
def _payloads(d: Design) -> Judgement:
    body, payload = d.limits.max_body_bytes, d.limits.max_payload_bytes
    if payload is not None and payload > MAX_PAYLOAD:
        return failed(f"maxPayload {payload:,} bytes")
    if body is None:
        return not_said("limits.max_body_bytes")
    if body > MAX_BODY:
        return failed(f"message bodies up to {body:,} bytes")
    return passed(f"bodies up to {body:,} bytes")


@rule(
    "rate-limits",
    title="Events are rate limited, with a code",
    claim="Without a rate limit one client (or one tenant) can take a node's event loop; "
    "a limit that disconnects instead of answering with a code turns a burst into a "
    "reconnect storm.",
    severity=Severity.MEDIUM,
    fields=("limits.rate_limit",),
    probe=("acks.rate-limit",),
    proofs=(probe("acks.rate-limit", "one connection bursting past the limit beside a bystander"),),
    fix="Token buckets per connection and per tenant; refuse with rate_limited.",
    topic=TOPIC_SEC,
)
def _rate(d: Design) -> Judgement:
    r = d.limits.rate_limit
    if r is None:
        return not_said("limits.rate_limit")
    if r == "none":
        return failed("no rate limit")
    return passed(f"rate limited {r}")


@rule(
    "cors-origins",
    title="No foreign origin rides the user's cookies",
    claim="An origin policy that accepts any origin with credentials, when a cookie "
    "authenticates, lets any web page act as its visitor.",
    severity=Severity.MEDIUM,
    fields=("cors.origins", "cors.credentials", "auth.carried_in"),
    probe=("cors.origin",),
    proofs=(
        probe(
            "cors.origin",
            "the handshake asked from a foreign origin, and a CONNECT without a token",
        ),
    ),
    fix="List the allowed origins; keep credentials off unless a cookie must flow, and "
    "then never with a wildcard or an echoed Origin.",
    topic=TOPIC_SEC,
)
def _cors(d: Design) -> Judgement:
    c = d.cors
    if c.origins is None or c.credentials is None:
        return not_said("cors.origins", "cors.credentials")
    wildcard = "*" in c.origins
    if not (wildcard and c.credentials):
        return passed("origins listed" if not wildcard else "any origin, without credentials")
    carried = d.auth.carried_in
    if carried is None:
        return not_said("auth.carried_in")
    if carried == "cookie":
        return failed("any origin, with credentials, and a cookie authenticates")
    return passed(f"any origin with credentials, but the token travels in the {carried}")


__all__: list[str] = []
