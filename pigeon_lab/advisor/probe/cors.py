"""CORS: does the deployment let any web origin make credentialed requests?

The polling handshake (and its preflight) is sent with a foreign ``Origin``; a server
that echoes it with ``Access-Control-Allow-Credentials: true`` lets any page read its
answers with the user's cookies, and a websocket from that origin is accepted too
(browsers apply no CORS to websockets). How much that matters depends on what
authenticates: a token in the CONNECT payload cannot be sent by a foreign page, so the
probe also connects from that origin without a token: if that is accepted, something ambient
(cookies) or nothing authenticates, and the open origin policy is a hijack.
"""

from __future__ import annotations

import websocket

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.client import NoConnection, ProbeClient, Refused
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.eio import Polling
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family

FOREIGN = "https://pigeon-probe.invalid"
CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials")

CHECKS = (
    CheckSpec(
        "cors.origin",
        "no foreign origin gets credentialed access",
        "cors-origins",
        "List the allowed origins (cors: {origin: [...]}) instead of '*' or echoing the "
        "Origin, and check Origin on the websocket upgrade too; keep credentials off "
        "unless cookies must flow.",
    ),
)


def _websocket_from(ctx: ProbeContext, c: CheckRecorder, url: str) -> bool:
    ctx.pace.take()
    ctx.budget.opening()
    try:
        ws = websocket.create_connection(
            "ws" + url[4:] + "?EIO=4&transport=websocket",
            timeout=ctx.limits.timeout_s,
            origin=FOREIGN,
        )
        first = str(ws.recv())[:80]
        ws.close()
    except (websocket.WebSocketException, OSError) as exc:
        c.saw(f"websocket upgrade with Origin: {FOREIGN}", f"refused: {str(exc)[:120]}")
        return False
    finally:
        ctx.budget.closed()
    c.saw(f"websocket upgrade with Origin: {FOREIGN}", f"accepted: {first}")
    return True


def _tokenless_connect(ctx: ProbeContext, c: CheckRecorder) -> bool | None:
    """Whether a CONNECT without any token is accepted (None: could not tell)."""
    client = ProbeClient(ctx, token=None, name="foreign page")
    asked = "connect with no auth (what a foreign page can do without the user's token)"
    try:
        client.connect()
    except Refused as exc:
        c.saw(asked, f"connect_error {exc.code}")
        return False
    except NoConnection as exc:
        c.saw(asked, f"no connection: {exc}")
        return None
    c.saw(asked, "connected")
    client.close()
    return True


def run(ctx: ProbeContext) -> None:
    with ctx.check("cors.origin") as c:
        s = Polling(ctx, headers={"Origin": FOREIGN})
        answer, _ = s.handshake()
        c.saw(
            s.describe("GET", f" (Origin: {FOREIGN})", handshake=True), answer.line(*CORS_HEADERS)
        )
        pre = s.request("OPTIONS", headers={"Access-Control-Request-Method": "POST"})
        c.saw(s.describe("OPTIONS", " (preflight)"), pre.line(*CORS_HEADERS))
        s.close()
        allowed = {a.header("access-control-allow-origin") for a in (answer, pre)}
        creds = any(
            (a.header("access-control-allow-credentials") or "").lower() == "true"
            for a in (answer, pre)
        )
        ws_open = _websocket_from(ctx, c, s.url)
        if FOREIGN not in allowed and not ws_open:
            wildcard = " ('*' without credentials)" if "*" in allowed else ""
            c.passed(f"a foreign origin gets no credentialed access{wildcard}")
            return
        opened = "echoes any Origin" if FOREIGN in allowed else "accepts foreign websockets"
        with_creds = " with credentials" if creds and FOREIGN in allowed else ""
        tokenless = _tokenless_connect(ctx, c)
        if tokenless:
            c.finding(Severity.HIGH, f"{opened}{with_creds}, and a CONNECT without a token is "
                      "accepted: any web page can open an authenticated session as its "
                      "visitor")  # fmt: skip
        elif tokenless is None:
            c.finding(Severity.LOW, f"{opened}{with_creds}; could not tell whether something "
                      "ambient (a cookie) authenticates")  # fmt: skip
        else:
            c.finding(Severity.INFO, f"{opened}{with_creds}; harmless while the token travels "
                      "in the CONNECT payload (a CONNECT without one is refused), a hijack "
                      "once a cookie authenticates")  # fmt: skip


FAMILY = register_family(Family("cors", "CORS", CHECKS, run, connections=1, order=80))

__all__ = ["FAMILY"]
