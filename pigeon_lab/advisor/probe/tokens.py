"""Tokens a deployment must refuse, and how a token is shown in evidence (never whole).

The forgeries carry the same claims as a valid token (the profile's user and workspace
claims, a future ``exp``), so that a server that accepts one accepts it for what it
is: a bad signature, no signature (``alg: none``), or no JWT at all.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import jwt


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT without checking its signature ({} when it is none)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def wrong_signature(valid: str) -> str:
    """The valid token's claims signed with a secret nobody has."""
    claims = claims_of(valid) or {"sub": "pigeon-probe", "exp": int(time.time()) + 600}
    return jwt.encode(claims, "pigeon-probe-" + secrets.token_hex(16), algorithm="HS256")


def alg_none(valid: str) -> str:
    """The valid token's claims with ``alg: none`` and an empty signature."""
    claims = claims_of(valid) or {"sub": "pigeon-probe", "exp": int(time.time()) + 600}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


GARBAGE = "not-a-token"


def show_token(token: str | None) -> str:
    """``<JWT alg=HS256 sub=u ws=w exp in 3600 s>``: enough to tell tokens apart."""
    if token is None:
        return "<no token>"
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return f"<not a JWT: {token[:16]!r}>"
    claims = claims_of(token)
    if not claims and header.get("alg") == "none":
        parts = token.split(".")
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, IndexError):
            claims = {}
    shown = [f"alg={header.get('alg')}"]
    for key, value in claims.items():
        if key == "exp" and isinstance(value, (int, float)):
            left = value - time.time()
            shown.append(f"exp in {left:.0f} s" if left >= 0 else f"expired {-left:.0f} s ago")
        elif key != "iat":
            shown.append(f"{key}={value}")
    return f"<JWT {' '.join(shown)}>"


__all__ = ["GARBAGE", "alg_none", "claims_of", "show_token", "wrong_signature"]
