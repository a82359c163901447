"""JWT check at connect time: the token names the user and the workspace, nothing else does.

A refusal raises python-socketio's ConnectionRefusedError with a dict, which becomes the
CONNECT_ERROR packet's data: what a JavaScript client reads as `err.data.code`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jwt
from socketio.exceptions import ConnectionRefusedError as Refused

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
MAX_TOKEN_LEN = 4096


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is: the only source of `sender` and workspace."""

    user: str
    workspace: str


def refuse(code: str, message: str) -> Refused:
    """CONNECT_ERROR data {message, data: {code, message}}: JS reads `err.data.code`."""
    return Refused(message, {"code": code, "message": message})


def verify(auth: object, secret: str) -> Identity:
    """Return the identity in `auth={"token": JWT}` or raise a refusal naming why."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise refuse("unauthorized", "missing token")
    if len(token) > MAX_TOKEN_LEN:
        raise refuse("unauthorized", "token too long")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "ws"]}
        )
    except jwt.ExpiredSignatureError:
        raise refuse("expired", "token expired") from None
    except jwt.InvalidTokenError as exc:
        raise refuse("unauthorized", f"bad token: {exc}") from None
    sub, ws = claims.get("sub"), claims.get("ws")
    if not isinstance(sub, str) or not ID_RE.match(sub):
        raise refuse("unauthorized", "bad sub claim")
    if not isinstance(ws, str) or not ID_RE.match(ws):
        raise refuse("unauthorized", "bad ws claim")
    return Identity(user=sub, workspace=ws)
