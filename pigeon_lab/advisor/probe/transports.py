"""Transports: a websocket connects; long-polling connects; polling upgrades to websocket.

socket.io-client starts on polling and upgrades by default; a deployment that breaks
either leg strands some clients (corporate proxies that block websockets, clients left
on polling at three or four times the requests).
"""

from __future__ import annotations

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.client import NoConnection, ProbeClient, Refused
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.eio import Polling, connect_packet, is_unknown_session, upgrade
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family

CHECKS = (
    CheckSpec(
        "transports.websocket",
        "a websocket connects and is authenticated",
        "websocket-transport",
        "Let the load balancer pass the websocket upgrade (Connection/Upgrade headers, "
        "HTTP/1.1 to the nodes, a tunnel timeout above pingInterval).",
    ),
    CheckSpec(
        "transports.polling",
        "long-polling connects (the fallback of every Socket.IO client)",
        "websocket-transport",
        "Serve polling too, or configure every client for transports: ['websocket'].",
    ),
    CheckSpec(
        "transports.upgrade",
        "a polling session upgrades to websocket",
        "websocket-transport",
        "Route the upgrade request of a session to the node holding it (the same "
        "stickiness as polling) and let it through as a websocket.",
    ),
)


def polling_connect(ctx: ProbeContext, session: Polling, c: CheckRecorder, token: str) -> str:
    """Handshake, CONNECT with the token, read the answer: ``ok``, ``refused``,
    ``no-polling``, ``unknown-session`` or ``failed``."""
    codec = ctx.target.codec
    answer, opened = session.handshake()
    c.saw(session.describe("GET", handshake=True), answer.line("set-cookie"))
    if opened is None:
        return "no-polling" if answer.status == 400 else "failed"
    answer = session.post(connect_packet(codec.namespace, codec.auth(token)))
    c.saw(session.describe("POST", " CONNECT with a valid token"), answer.line())
    if is_unknown_session(answer.status, answer.body):
        return "unknown-session"
    answer, packets = session.poll()
    c.saw(session.describe("GET"), answer.line())
    if is_unknown_session(answer.status, answer.body):
        return "unknown-session"
    connects = [p for p in packets if p.startswith("4")]
    if any(p.startswith("40") for p in connects):
        return "ok"
    return "refused" if any(p.startswith("44") for p in connects) else "failed"


def run(ctx: ProbeContext) -> None:
    token = ctx.token(0, 0)
    with ctx.check("transports.websocket") as c:
        client = ProbeClient(ctx, token=token, name="A")
        asked = f"A: connect (websocket only) with {client.auth_shown()}"
        try:
            client.connect()
            c.saw(asked, "connected")
            c.passed("a websocket connects and the CONNECT is accepted")
        except Refused as exc:
            c.saw(asked, f"connect_error {exc.code}")
            c.unknown(f"the probe's own token was refused over websocket ({exc.code})")
        except NoConnection as exc:
            c.saw(asked, f"no connection: {exc}")
            c.finding(
                Severity.MEDIUM,
                f"no websocket connection ({exc}): every client falls back to polling",
            )
        finally:
            client.close()
    session = Polling(ctx)
    try:
        with ctx.check("transports.polling") as c:
            how = polling_connect(ctx, session, c, token)
            if how == "ok":
                c.passed("a polling session connects and the CONNECT is accepted")
            elif how == "no-polling":
                c.finding(
                    Severity.LOW,
                    "polling is refused: clients behind proxies that block websockets "
                    "cannot connect, and clients must be set to transports: ['websocket']",
                )
            elif how == "unknown-session":
                c.finding(
                    Severity.HIGH,
                    "the polling session's next request reached a node that does not know "
                    "it (HTTP 400): polling clients cannot connect",
                )
            elif how == "refused":
                c.unknown("the probe's own token was refused over polling")
            else:
                c.finding(Severity.MEDIUM, "a polling session does not connect")
        with ctx.check("transports.upgrade") as c:
            if how != "ok" or session.open is None:
                c.unknown("no polling session to upgrade")
            elif "websocket" not in session.open.upgrades:
                c.finding(Severity.INFO, "the handshake offers no websocket upgrade")
            else:
                fresh = Polling(ctx)
                try:
                    answer, _ = fresh.handshake()
                    c.saw(fresh.describe("GET", handshake=True), answer.line("set-cookie"))
                    codec = ctx.target.codec
                    packet = connect_packet(codec.namespace, codec.auth(token))
                    ok, seen = upgrade(ctx, fresh, packet)
                finally:
                    fresh.close()
                for request, answer_text in seen:
                    c.saw(request, answer_text)
                if ok:
                    c.passed("polling upgraded to websocket, which then carried the CONNECT")
                else:
                    c.finding(
                        Severity.MEDIUM,
                        "the upgrade to websocket failed: clients stay on polling (more "
                        "requests, more latency) or reconnect",
                    )
    finally:
        session.close()


FAMILY = register_family(Family("transports", "Transports", CHECKS, run, connections=2, order=20))

__all__ = ["FAMILY", "polling_connect"]
