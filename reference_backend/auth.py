"""JWT checks: the token names the user, the workspace and until when, nothing else does.

At connect a refusal raises python-socketio's ConnectionRefusedError with a dict, which
becomes the CONNECT_ERROR packet's data: what a JavaScript client reads as `err.data.code`.
`check` is the same verification for a token refreshed on a live connection (a ProtoError).
The client gets the protocol's code and a fixed message; why the JWT library refused a
token goes to the node's log (throttled), never to the client.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import jwt
from socketio.exceptions import ConnectionRefusedError as Refused

from reference_backend.errors import ProtoError
from reference_backend.logs import Throttled

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
MAX_TOKEN_LEN = 4096

log = logging.getLogger("reference_backend.auth")
_detail = Throttled(log)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is (the only source of `sender` and workspace), and until when."""

    user: str
    workspace: str
    exp: float  # unix seconds: the token's `exp`


def refuse(code: str, message: str) -> Refused:
    """CONNECT_ERROR data {message, data: {code, message}}: JS reads `err.data.code`."""
    return Refused(message, {"code": code, "message": message})


def verify(auth: object, secret: str) -> Identity:
    """Return the identity in `auth={"token": JWT}` or raise a refusal naming why."""
    token = auth.get("token") if isinstance(auth, dict) else None
    try:
        return check(token, secret)
    except ProtoError as exc:
        raise refuse(exc.code, exc.message) from None


def check(token: object, secret: str) -> Identity:
    """The identity of a token, or ProtoError `unauthorized` / `expired` (fixed messages)."""
    if not isinstance(token, str) or not token:
        raise ProtoError("unauthorized", "missing token")
    if len(token) > MAX_TOKEN_LEN:
        raise ProtoError("unauthorized", "token too long")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "ws"]}
        )
    except jwt.ExpiredSignatureError:
        raise ProtoError("expired", "token expired") from None
    except jwt.InvalidTokenError as exc:
        _detail(logging.INFO, type(exc).__name__, "token refused: %s: %s",
                type(exc).__name__, exc)  # fmt: skip
        raise ProtoError("unauthorized", "bad token") from None
    sub, ws, exp = claims.get("sub"), claims.get("ws"), claims.get("exp")
    if not isinstance(sub, str) or not ID_RE.match(sub):
        raise ProtoError("unauthorized", "bad sub claim")
    if not isinstance(ws, str) or not ID_RE.match(ws):
        raise ProtoError("unauthorized", "bad ws claim")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise ProtoError("unauthorized", "bad exp claim")
    return Identity(user=sub, workspace=ws, exp=float(exp))
