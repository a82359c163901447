"""Check the target before any load starts: reachable, speaks Socket.IO, accepts our token.

A dead or misconfigured target should stop a run at once with one clear line
(exit code 2), not after a full load that recorded nothing.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import socketio
from socketio.exceptions import ConnectionError as SocketIOConnectionError

from pigeon_lab.errors import ConfigError, EnvironmentProblem
from pigeon_lab.protocol.codec import PIGEON, Codec, connect_options
from pigeon_lab.tokens import mint_token

PROBE_WORKSPACE = "pigeon-preflight"
PROBE_USER = "pigeon-preflight"


def _check_reachable(url: str, timeout_s: float) -> None:
    """A plain TCP connect first: python-socketio reports every failure as "Connection error"."""
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or (443 if parsed.scheme in ("https", "wss") else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EnvironmentProblem(f"the target at {url} is not reachable: {reason}") from exc


def check_target(
    url: str,
    jwt_secret: str | None,
    *,
    timeout_s: float = 10.0,
    codec: Codec = PIGEON,
    token: str | None = None,
) -> None:
    """Connect one Socket.IO client with a token (``token``, or one minted with
    ``jwt_secret``), then disconnect.

    Raises EnvironmentProblem when the target cannot be reached or does not speak
    Socket.IO, and ConfigError when it refuses the token (a wrong secret).
    """
    _check_reachable(url, timeout_s)
    client = socketio.Client(reconnection=False)
    refusals: list[object] = []
    client.on("connect_error", refusals.append, namespace=codec.namespace)
    if token is None:
        if jwt_secret is None:
            raise ValueError("check_target needs a token or a secret")
        token = mint_token(jwt_secret, PROBE_WORKSPACE, PROBE_USER)
    try:
        client.connect(
            url,
            auth=codec.auth(token),
            transports=["websocket"],
            wait_timeout=timeout_s,
            retry=False,
            **connect_options(codec),
        )
    except SocketIOConnectionError as exc:
        detail = refusals[0] if refusals else (exc.args[0] if exc.args else exc)
        if isinstance(detail, dict) and isinstance(detail.get("data"), dict):
            detail = detail["data"]  # the python-socketio client wraps the server's data
        refusal: dict[str, object] = detail if isinstance(detail, dict) else {}
        code = refusal.get("code")
        if code in ("unauthorized", "expired"):
            raise ConfigError(
                f"the target at {url} refused a token signed with the configured secret "
                f"({code}: {refusal.get('message', '')})",
                field="target.token",
            ) from exc
        raise EnvironmentProblem(
            f"cannot open a Socket.IO connection to the target at {url}: {detail}"
        ) from exc
    finally:
        if client.connected:
            client.disconnect()
