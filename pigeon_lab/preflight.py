"""Check the target before any load starts: reachable, speaks Socket.IO at its path and
namespace, accepts our token, and acknowledges the profile's operations.

A dead or misconfigured target should stop a run at once with one clear line (exit
code 2), not after a full load that recorded nothing. Each problem has its own message:
not reachable; no Engine.IO endpoint at the path (a wrong ``path``); not Socket.IO; the
namespace refused; the token refused; an operation never acknowledged, refused, or
acknowledged without a field the profile says it has.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlparse

import socketio
from socketio.exceptions import ConnectionError as SocketIOConnectionError
from socketio.exceptions import SocketIOError
from socketio.exceptions import TimeoutError as SocketIOTimeout

from pigeon_lab.errors import ConfigError, EnvironmentProblem
from pigeon_lab.protocol.codec import (
    PIGEON,
    Codec,
    Op,
    connect_options,
    join_payload,
    leave_payload,
    send_payload,
    sync_payload,
)
from pigeon_lab.protocol.profile import Capabilities, Profile
from pigeon_lab.protocol.templates import compile_getter
from pigeon_lab.tokens import mint_token

PROBE_WORKSPACE = "pigeon-preflight"
PROBE_USER = "pigeon-preflight"
PROBE_CHANNEL = "pigeon-preflight"
_AUTH_WORDS = ("unauthori", "expired", "forbidden", "token", "jwt", "auth", "credential")


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


def _check_engineio(url: str, path: str, timeout_s: float) -> None:
    """An Engine.IO v4 handshake at ``/<path>/`` (polling): tells a wrong path from a
    server that is not Socket.IO at all."""
    parsed = urlparse(url)
    scheme = {"ws": "http", "wss": "https"}.get(parsed.scheme, parsed.scheme)
    probe = f"{scheme}://{parsed.netloc}/{path.strip('/')}/?EIO=4&transport=polling"
    try:
        with urllib.request.urlopen(probe, timeout=timeout_s) as resp:
            body = resp.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise EnvironmentProblem(
                f"no Socket.IO endpoint at /{path.strip('/')}/ on {url} (HTTP 404): is the "
                "profile's path right?"
            ) from exc
        body = ""  # e.g. 400 "Transport unknown" from a websocket-only server: judged below
    except (urllib.error.URLError, OSError, ValueError):
        return  # the Socket.IO connect below gives the clearer message
    if body and not body.lstrip().startswith("0{") and "sid" not in body:
        raise EnvironmentProblem(
            f"cannot open a Socket.IO connection to the target at {url}: /{path.strip('/')}/ "
            f"answers, but not with an Engine.IO handshake ({body[:60]!r})"
        )


def _refusal(refusals: list[object], exc: Exception) -> dict[str, object]:
    detail: object = refusals[0] if refusals else (exc.args[0] if exc.args else exc)
    for key in ("data", "message"):  # servers wrap their data in either
        if isinstance(detail, dict) and isinstance(detail.get(key), dict):
            detail = detail[key]
    return detail if isinstance(detail, dict) else {"message": str(detail)}


def connect_probe(url: str, codec: Codec, token: str, timeout_s: float) -> socketio.Client:
    """A connected client (the caller disconnects it); raises the preflight's errors."""
    client = socketio.Client(reconnection=False)
    refusals: list[object] = []
    client.on("connect_error", refusals.append, namespace=codec.namespace)
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
        refusal = _refusal(refusals, exc)
        code = refusal.get("code")
        message = str(refusal.get("message", ""))
        if code is None and any(w in message.lower() for w in _AUTH_WORDS):
            code = message  # a refusal of the token, said in words rather than a code
        if code in ("unauthorized", "expired", "forbidden") or (
            code is not None and any(w in str(code).lower() for w in _AUTH_WORDS)
        ):
            raise ConfigError(
                f"the target at {url} refused a token from its issuer "
                f"({code}: {refusal.get('message', '')})",
                field="target.token",
            ) from exc
        if codec.namespace != "/" and ("namespace" in message.lower() or not code):
            raise ConfigError(
                f"the target at {url} refused a connection to the namespace "
                f"{codec.namespace!r} ({message or 'no reason given'}): a namespace it does "
                "not serve, or a refusal without a code",
                field="target.profile.namespace",
            ) from exc
        raise EnvironmentProblem(
            f"cannot open a Socket.IO connection to the target at {url}: {refusal}"
        ) from exc
    return client


def check_target(
    url: str,
    jwt_secret: str | None = None,
    *,
    timeout_s: float = 10.0,
    codec: Codec = PIGEON,
    token: str | None = None,
) -> None:
    """Reachable, Socket.IO at the codec's path and namespace, our token accepted (a
    client connects with ``token``, or one minted with ``jwt_secret``, then disconnects).

    Raises EnvironmentProblem when the target cannot be reached or does not speak
    Socket.IO, and ConfigError when it refuses the token or the namespace.
    """
    _check_reachable(url, timeout_s)
    _check_engineio(url, codec.socketio_path, timeout_s)
    if token is None:
        if jwt_secret is None:
            raise ValueError("check_target needs a token or a secret")
        token = mint_token(jwt_secret, PROBE_WORKSPACE, PROBE_USER)
    client = connect_probe(url, codec, token, timeout_s)
    if client.connected:
        client.disconnect()


def _call(client: socketio.Client, codec: Codec, op: Op, data: dict[str, Any], t: float) -> Any:
    try:
        return client.call(codec.event(op), codec.encode(op, data), namespace=codec.namespace,
                           timeout=t)  # fmt: skip
    except SocketIOTimeout as exc:
        raise ConfigError(
            f"the target never acknowledged {op!r} (its event {codec.event(op)!r}) within {t:g} s",
            field=f"target.profile.events.{op}",
        ) from exc
    except SocketIOError as exc:
        raise EnvironmentProblem(f"the connection dropped during the {op!r} probe: {exc}") from exc


EXPLICIT_FIELDS = ("seq", "id", "ts", "head_seq", "node", "channel", "messages")
"""Ack fields that, when a profile names a path for them, an ok ack must have."""


def _explicit_paths(codec: Codec, op: str, raw: Any) -> None:
    """Every ack path the profile names explicitly must find something in an ok ack."""
    profile = getattr(codec, "profile", None)
    if not isinstance(profile, Profile):
        return
    for name, spec in profile.acks.get(op, {}).items():
        if name in EXPLICIT_FIELDS and compile_getter(spec, "ack")(raw) is None:
            _need(op, name, None, raw, spec)


def _need(op: str, field: str, value: Any, raw: Any, spec: str | None = None) -> None:
    if value is None:
        shown = json.dumps(raw, default=str)[:160]
        where = f" at {spec!r}" if spec else " where the profile says"
        raise ConfigError(
            f"the {op!r} ack has no {field!r}{where} (got {shown})",
            field=f"target.profile.acks.{op}.{field}",
        )


def check_operations(
    url: str,
    codec: Codec,
    token: str,
    capabilities: Capabilities | None = None,
    *,
    timeout_s: float = 10.0,
    connect_timeout_s: float = 10.0,
) -> None:
    """Join a probe channel, send one message, read it back and leave, through the codec:
    each operation must be acknowledged, accepted, and carry what the capabilities say."""
    can = capabilities or Capabilities()
    client = connect_probe(url, codec, token, connect_timeout_s)
    try:
        raw = _call(client, codec, "join", join_payload(PROBE_CHANNEL), timeout_s)
        joined = codec.decode_join(raw)
        if not joined.ok:
            err = joined.error
            raise ConfigError(
                f"the target refused the probe join: {err.code if err else '?'}: "
                f"{err.message if err else ''}".rstrip(": "),
                field="target.profile.acks.join.ok",
            )
        _explicit_paths(codec, "join", raw)
        if not can.acks:
            return
        cmid = str(uuid.uuid4())
        raw = _call(
            client, codec, "send", send_payload(PROBE_CHANNEL, cmid, f"0|{cmid}"), timeout_s
        )
        sent = codec.decode_send(raw)
        if not sent.ok:
            err = sent.error
            raise ConfigError(
                f"the target refused the probe send: {err.code if err else '?'}",
                field="target.profile.acks.send.ok",
            )
        _explicit_paths(codec, "send", raw)
        if can.seqs:
            _need("send", "seq", sent.seq, raw)
        if can.history:
            after = 0 if sent.seq is None else sent.seq - 1
            raw = _call(client, codec, "sync", sync_payload(PROBE_CHANNEL, after), timeout_s)
            page = codec.decode_sync(raw)
            if not page.ok:
                raise ConfigError("the target refused the probe sync", field="target.profile")
            if can.seqs:
                _need("sync", "head_seq", page.head_seq, raw)
        codec.decode_leave(_call(client, codec, "leave", leave_payload(PROBE_CHANNEL), timeout_s))
    finally:
        if client.connected:
            client.disconnect()


__all__ = ["PROBE_CHANNEL", "PROBE_USER", "PROBE_WORKSPACE", "check_operations", "check_target"]
