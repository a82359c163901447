"""The Engine.IO handshake: which protocol versions are served, and whether the heartbeat
and the payload limit are sane.

Dead-peer detection takes up to ``pingInterval + pingTimeout``: until then a vanished
client holds its resources and looks online. A ping interval near the common 60 s idle
timeout of load balancers lets them cut quiet connections. A ``maxPayload`` far above
the default (1 MB) lets one packet make a node buffer that much.
"""

from __future__ import annotations

import json

import websocket

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.eio import OpenPacket, Polling
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family

DEFAULT_INTERVAL_MS = 25_000
DEFAULT_TIMEOUT_MS = 20_000
DEFAULT_MAX_PAYLOAD = 1_000_000
DETECTION_MAX_MS = 60_000
LB_IDLE_MS = 55_000
TIGHT_TIMEOUT_MS = 5_000
MAX_PAYLOAD_LIMIT = 10_000_000

CHECKS = (
    CheckSpec(
        "handshake.versions",
        "Engine.IO protocol versions served",
        "websocket-transport",
        "Serve Engine.IO 4 (Socket.IO v3+ clients); accept EIO=3 only while old clients migrate.",
    ),
    CheckSpec(
        "handshake.heartbeat",
        "pingInterval / pingTimeout detect a dead peer in time",
        "heartbeat-detects-dead-peers",
        "Keep pingInterval + pingTimeout under 60 s (defaults 25 s + 20 s) and the interval "
        "below the load balancer's idle timeout.",
    ),
    CheckSpec(
        "handshake.max-payload",
        "maxPayload bounds what one packet can make a node buffer",
        "bounded-payloads",
        "Keep maxPayload (maxHttpBufferSize) near the default 1 MB, above the largest "
        "legitimate message and no higher.",
    ),
)


def _open_over_websocket(ctx: ProbeContext) -> tuple[str, OpenPacket | None]:
    """The open packet a websocket-only server sends first (when polling is off)."""
    url = Polling(ctx).url
    ws_url = "ws" + url[4:] + "?EIO=4&transport=websocket"
    ctx.pace.take()
    ctx.budget.opening()
    try:
        ws = websocket.create_connection(ws_url, timeout=ctx.limits.timeout_s)
        try:
            first = str(ws.recv())
        finally:
            ws.close()
    except (websocket.WebSocketException, OSError) as exc:
        return f"refused: {str(exc)[:120]}", None
    finally:
        ctx.budget.closed()
    return first[:200], OpenPacket.parse(first)


def run(ctx: ProbeContext) -> None:
    poll = Polling(ctx)
    answer, opened = poll.handshake()
    request = poll.describe("GET", handshake=True)
    poll.close()
    v3 = Polling(ctx, eio=3)
    answer3, opened3 = v3.handshake()
    v3.close()
    if opened is None:
        ws_answer, opened = _open_over_websocket(ctx)
    with ctx.check("handshake.versions") as c:
        c.saw(request, answer.line("set-cookie"))
        c.saw(v3.describe("GET", handshake=True), answer3.line())
        if opened is None:
            c.saw("websocket ?EIO=4&transport=websocket", ws_answer)
            c.finding(Severity.HIGH, "no Engine.IO 4 handshake over polling or websocket")
        elif opened3 is not None:
            c.finding(
                Severity.INFO,
                "serves Engine.IO 4 and 3: Socket.IO v2 clients are accepted too (allowEIO3)",
            )
        else:
            c.passed(f"serves Engine.IO 4; EIO=3 refused ({answer3.status})")
    if opened is None:
        for spec in CHECKS[1:]:
            ctx.skip(spec.id, "no Engine.IO handshake to read")
        return
    ctx.note("handshake", opened.raw)
    shown = json.dumps(opened.raw, separators=(",", ":"))
    with ctx.check("handshake.heartbeat") as c:
        c.saw(request, shown)
        _heartbeat(c, opened)
    with ctx.check("handshake.max-payload") as c:
        c.saw(request, shown)
        size = opened.max_payload
        if size is None:
            c.finding(Severity.INFO, "the handshake announces no maxPayload")
        elif size > MAX_PAYLOAD_LIMIT:
            c.finding(
                Severity.MEDIUM,
                f"maxPayload {size:,} bytes ({size / DEFAULT_MAX_PAYLOAD:.0f}x the default): "
                "one packet can make a node buffer that much",
            )
        else:
            c.passed(f"maxPayload {size:,} bytes (default {DEFAULT_MAX_PAYLOAD:,})")


def _heartbeat(c: CheckRecorder, opened: OpenPacket) -> None:
    interval, timeout = opened.ping_interval_ms, opened.ping_timeout_ms
    if interval is None or timeout is None:
        c.finding(Severity.LOW, "the handshake announces no pingInterval/pingTimeout")
        return
    detect = interval + timeout
    said = (
        f"pingInterval {interval} ms, pingTimeout {timeout} ms (defaults "
        f"{DEFAULT_INTERVAL_MS} / {DEFAULT_TIMEOUT_MS}): a dead peer is noticed within "
        f"{detect / 1000:g} s"
    )
    if interval >= LB_IDLE_MS:
        c.finding(
            Severity.MEDIUM,
            f"{said}; an interval this long outlasts the common 60 s idle timeout of load "
            "balancers, which cut quiet connections before the next ping",
        )
    elif detect > DETECTION_MAX_MS:
        c.finding(
            Severity.MEDIUM,
            f"{said}: a vanished client holds its resources and looks online that long",
        )
    elif timeout < TIGHT_TIMEOUT_MS:
        c.finding(
            Severity.INFO,
            f"{said}; a timeout this tight is fine on a LAN but drops clients whose mobile "
            "link stalls for a few seconds",
        )
    else:
        c.passed(said)


FAMILY = register_family(
    Family("handshake", "Engine.IO handshake", CHECKS, run, connections=1, order=10)
)

__all__ = ["FAMILY"]
