"""JWT tokens of the Pigeon protocol (HS256; claims `sub`, `ws`, `exp`)."""

from __future__ import annotations

import re
import time

import jwt

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def mint_token(
    secret: str, workspace: str, user: str, *, ttl_s: float = 3600.0, now: float | None = None
) -> str:
    """Sign a token for `user` in `workspace`, valid for `ttl_s` seconds (negative: expired)."""
    issued = time.time() if now is None else now
    claims = {"sub": user, "ws": workspace, "exp": int(issued + ttl_s), "iat": int(issued)}
    return jwt.encode(claims, secret, algorithm="HS256")
