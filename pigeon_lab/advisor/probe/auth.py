"""Auth at connect: a missing, garbage, wrongly signed, ``alg: none`` or expired token must
be refused at the CONNECT; a socket must not outlive its token's expiry.

A forgery that connects is tried further (join a channel) so the finding says how far
it got. The expired and short-lived tokens need the HS256 secret; with another issuer
those two checks are ``unknown``.
"""

from __future__ import annotations

import time

from pigeon_lab.advisor.findings import Severity
from pigeon_lab.advisor.probe.client import NoAck, NoConnection, ProbeClient, Refused
from pigeon_lab.advisor.probe.context import CheckRecorder, ProbeContext
from pigeon_lab.advisor.probe.registry import CheckSpec, Family, register_family
from pigeon_lab.advisor.probe.tokens import GARBAGE, alg_none, claims_of, wrong_signature

_FIX_REFUSE = (
    "Verify the token in the connection middleware (io.use / the connect handler) with a "
    "pinned algorithm list (HS256 or RS256, never none), a required exp and the user and "
    "tenant claims, and refuse with a connect_error code."
)
CHECKS = (
    CheckSpec("auth.missing", "a CONNECT without a token is refused", "auth-at-connect",
              _FIX_REFUSE),
    CheckSpec("auth.garbage", "a token that is not a JWT is refused", "auth-at-connect",
              _FIX_REFUSE),
    CheckSpec("auth.bad-signature", "a JWT signed with another secret is refused",
              "auth-at-connect", _FIX_REFUSE),
    CheckSpec("auth.alg-none", "an unsigned JWT (alg: none) is refused", "auth-at-connect",
              _FIX_REFUSE),
    CheckSpec("auth.expired", "an expired JWT is refused", "auth-at-connect", _FIX_REFUSE),
    CheckSpec(
        "auth.expiry-live",
        "a socket does not outlive its token's expiry",
        "expiry-on-live-sockets",
        "At the token's exp, disconnect the socket (after a `closing` event) or refuse its "
        "events with `expired`; let clients extend a session with a fresh token.",
    ),
)  # fmt: skip

SEVERITY = {
    "auth.missing": Severity.HIGH,
    "auth.garbage": Severity.HIGH,
    "auth.bad-signature": Severity.CRITICAL,
    "auth.alg-none": Severity.CRITICAL,
    "auth.expired": Severity.HIGH,
}
EXPIRY_TTL_S = 2.0
EXPIRY_GRACE_S = 1.5
REFUSAL_WORDS = ("expired", "unauthorized", "unauthorised", "forbidden", "token", "auth")


def _forged(ctx: ProbeContext, c: CheckRecorder, check: str, token: str | None) -> None:
    client = ProbeClient(ctx, token=token, name="forger")
    asked = f"connect with {client.auth_shown()}"
    try:
        client.connect()
    except Refused as exc:
        c.saw(asked, f"connect_error {exc.code}")
        c.passed(f"refused at the CONNECT ({exc.code})")
        return
    except NoConnection as exc:
        c.saw(asked, f"no connection: {exc}")
        c.passed("refused: the server closed the connection without a CONNECT_ERROR")
        return
    try:
        c.saw(asked, "connected")
        channel = ctx.channel("forged")
        how_far = "connected"
        try:
            ack, raw = client.join(channel)
            c.saw(client.describe("join", {"channel": channel}), str(raw)[:200])
            if ack.ok:
                how_far = "connected and joined a channel"
        except NoAck as exc:
            c.saw(client.describe("join", {"channel": channel}), str(exc))
        c.finding(SEVERITY[check], f"accepted: {how_far} with {client.auth_shown()}")
    finally:
        client.close()


def _expiry_live(ctx: ProbeContext, c: CheckRecorder) -> None:
    token = ctx.mint(EXPIRY_TTL_S + 1.0)
    if token is None:
        c.unknown("needs the token secret to mint a short-lived token (--secret)")
        return
    exp = float(claims_of(token).get("exp", time.time()))
    client = ProbeClient(ctx, token=token, name="A")
    try:
        client.connect()
        c.saw(f"A: connect with {client.auth_shown()}", "connected")
        channel = ctx.channel("expiry")
        ack, raw = client.join(channel)
        c.saw(client.describe("join", {"channel": channel}), str(raw)[:160])
        wait = exp + EXPIRY_GRACE_S - time.time()
        if wait > 0:
            client.disconnected.wait(wait)
        late = time.time() - exp
        if not client.connected:
            c.saw(
                f"A: waits until {late:.1f} s past exp",
                f"disconnected ({client.disconnect_reason})",
            )
            c.passed(f"the server ended the socket at its token's expiry ({late:.1f} s after)")
            return
        try:
            ack, raw = client.join(channel)
        except NoAck as exc:
            c.saw(client.describe("join", {"channel": channel}), str(exc))
            c.unknown(f"no answer after the token's expiry: {exc}")
            return
        c.saw(f"A, {late:.1f} s past exp: " + client.describe("join", {"channel": channel}),
              str(raw)[:160])  # fmt: skip
        code = ack.error.code if ack.error else ""
        if not ack.ok and any(w in code.lower() for w in REFUSAL_WORDS):
            c.passed(f"events after the token's expiry are refused ({code})")
        elif not ack.ok:
            c.finding(Severity.LOW, f"after the token's expiry an event is refused with "
                      f"{code!r}, not as expired: clients cannot tell to refresh")  # fmt: skip
        else:
            c.finding(
                Severity.MEDIUM,
                f"the socket outlived its token by {late:.1f} s and is still served: a "
                "revoked or expired user keeps reading and writing until it disconnects",
            )
    finally:
        client.close()


def run(ctx: ProbeContext) -> None:
    valid = ctx.token(0, 0)
    forgeries: dict[str, str | None] = {
        "auth.missing": None,
        "auth.garbage": GARBAGE,
        "auth.bad-signature": wrong_signature(valid),
        "auth.alg-none": alg_none(valid),
    }
    for check, token in forgeries.items():
        with ctx.check(check) as c:
            _forged(ctx, c, check, token)
    with ctx.check("auth.expired") as c:
        expired = ctx.mint(-120)
        if expired is None:
            c.unknown("needs the token secret to mint an expired token (--secret)")
        else:
            _forged(ctx, c, "auth.expired", expired)
    with ctx.check("auth.expiry-live") as c:
        _expiry_live(ctx, c)


FAMILY = register_family(Family("auth", "Auth at connect", CHECKS, run, connections=1, order=40))

__all__ = ["FAMILY"]
