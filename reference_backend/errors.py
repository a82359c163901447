"""Protocol errors: the codes of protocol.md and whether each is definite.

A definite error means the operation certainly did not happen (the client must not retry
the same request unchanged); an indefinite one (`not_durable`, `unavailable`, `internal`)
means it may have happened, so the client retries with the same `client_msg_id`.
"""

from __future__ import annotations

from typing import Final

DEFINITE: Final[dict[str, bool]] = {
    "unauthorized": True,
    "expired": True,
    "forbidden": True,
    "bad_request": True,
    "not_member": True,
    "too_large": True,
    "rate_limited": True,
    "not_durable": False,
    "unavailable": False,
    "internal": False,
}


class ProtoError(Exception):
    """An error a handler answers with as `{ok: false, error: {code, message}}`."""

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def definite(self) -> bool:
        return DEFINITE.get(self.code, False)

    def ack(self) -> dict[str, object]:
        return {"ok": False, "error": {"code": self.code, "message": self.message}}


def bad_request(message: str) -> ProtoError:
    return ProtoError("bad_request", message)
