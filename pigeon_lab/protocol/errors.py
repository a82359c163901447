"""The protocol's error codes, and the client's own pseudo-codes, in one table.

Each code says whether the operation surely did not happen (``definite``) and whether
a send retries it with the same ``client_msg_id`` (``retry``). The backend's own table
(``reference_backend.errors.DEFINITE``) must agree on the codes both know; a test
ties them together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    """An error code. ``definite``: the operation surely did not happen;
    ``retry``: a send retries it with the same client_msg_id."""

    code: str
    definite: bool
    retry: bool
    client_only: bool = False  # the client's own code, never sent by a server


ERROR_CODES: dict[str, ErrorCode] = {
    c.code: c
    for c in (
        ErrorCode("unauthorized", definite=True, retry=False),
        ErrorCode("expired", definite=True, retry=False),
        ErrorCode("forbidden", definite=True, retry=False),
        ErrorCode("bad_request", definite=True, retry=False),
        ErrorCode("not_member", definite=True, retry=False),
        ErrorCode("too_large", definite=True, retry=False),
        ErrorCode("rate_limited", definite=True, retry=True),
        ErrorCode("not_durable", definite=False, retry=True),
        ErrorCode("unavailable", definite=False, retry=True),
        ErrorCode("internal", definite=False, retry=True),
        # no ack within the ack timeout
        ErrorCode("timeout", definite=False, retry=True, client_only=True),
        # connection lost before the ack
        ErrorCode("disconnect", definite=False, retry=True, client_only=True),
        # the run ended first
        ErrorCode("stopped", definite=False, retry=False, client_only=True),
    )
}
"""protocol.md's codes and the client's pseudo-codes (``client_only``)."""

SERVER_CODES: tuple[str, ...] = tuple(c.code for c in ERROR_CODES.values() if not c.client_only)
"""The codes a server may answer with (protocol.md's list)."""

UNKNOWN_ERROR = ErrorCode("unknown", definite=False, retry=True)


def error_code(code: str | None) -> ErrorCode:
    """Look a code up; unknown codes are indefinite and retried."""
    return ERROR_CODES.get(code or "", UNKNOWN_ERROR)


__all__ = ["ERROR_CODES", "SERVER_CODES", "UNKNOWN_ERROR", "ErrorCode", "error_code"]
