"""Adversarial users: attacks that the backend must refuse or neutralise (Locust process only).

Each attempt is one ``adversarial`` history row: ``detail`` names the attack,
``error`` says what happened:

    a refusal code   refused (unauthorized, expired, too_large, bad_request, ...)
    "ignored"        the forged field had no effect (sender spoof: sender = token subject)
    "scoped"         a foreign channel name resolved to the attacker's own workspace
    "accepted"       the attack worked: an isolation violation
    "unknown"        no answer (timeout, connection lost): neither pass nor fail

The adversary also records its own ``join_ok``/``recv``/``sync_ok``/``deliver``/``leave``
and ``send_invoke``/``send_ok`` rows like any client, so that the isolation checker
can see every message it received and every message it sent.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import gevent
import socketio
from locust import User, task

from pigeon_lab.history.recorder import body_hash
from pigeon_lab.history.schema import Kind
from pigeon_lab.load.context import LoadContext
from pigeon_lab.load.sio_client import refusal_code
from pigeon_lab.load.user import _ctx

_ATTACK_EVERY_S = 10.0
_MAX_BODY = 4096


class AdversaryUser(User):
    """Tries forged, expired and missing tokens, cross-tenant names, sender spoofs, big bodies."""

    abstract = True
    _count = 0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.ctx: LoadContext = _ctx()
        cfg = self.ctx.config
        i = AdversaryUser._count * self.ctx.workers + self.ctx.worker_index
        AdversaryUser._count += 1
        self.user = f"adv{i}"
        self.workspace = cfg.workspace_names()[i % cfg.workspaces]
        self.url = cfg.urls[i % len(cfg.urls)]
        self.rng = random.Random(cfg.seed * 31 + 1_000_003 + i)
        self.finished = True  # never holds the drain up
        self.node: str | None = None

    def _row(self, kind: Kind, **kw: Any) -> None:
        self.ctx.recorder.record(kind, self.user, self.user, self.workspace, self.node, **kw)

    def _attempt(self, attack: str, outcome: str, **kw: Any) -> None:
        self._row(Kind.ADVERSARIAL, detail=attack, error=outcome, **kw)

    @task
    def attack(self) -> None:
        while not self.ctx.stopping:
            self._token_attacks()
            self._in_session_attacks()
            deadline = time.monotonic() + _ATTACK_EVERY_S
            while not self.ctx.stopping and time.monotonic() < deadline:
                gevent.sleep(0.2)
        while True:
            gevent.sleep(3600)

    def _client(self) -> socketio.Client:
        return socketio.Client(reconnection=False)

    def _try_connect(self, attack: str, auth: dict[str, str] | None) -> None:
        sio = self._client()
        refusal: list[str] = []

        def on_error(data: Any = None) -> None:
            refusal.append(refusal_code(data))

        sio.on("connect_error", on_error)
        try:
            sio.connect(
                self.url,
                auth=auth,
                transports=[self.ctx.config.transport],
                wait_timeout=self.ctx.config.connect_timeout_s,
            )
        except socketio.exceptions.ConnectionError:
            self._attempt(attack, refusal[0] if refusal else "unknown")
            return
        self._attempt(attack, "accepted")
        sio.disconnect()

    def _token_attacks(self) -> None:
        cfg = self.ctx.config
        from pigeon_lab.tokens import mint_token

        forged = mint_token("not-the-secret-" + uuid.uuid4().hex, self.workspace, self.user)
        self._try_connect("forged_token", {"token": forged})
        if cfg.jwt_secret:
            expired = mint_token(cfg.jwt_secret, self.workspace, self.user, ttl_s=-120)
            self._try_connect("expired_token", {"token": expired})
        self._try_connect("missing_token", None)
        self._try_connect("malformed_token", {"token": "not.a.jwt"})

    def _call(
        self, sio: socketio.Client, event: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        try:
            ack = sio.call(event, data, timeout=self.ctx.config.ack_timeout_ms / 1000)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.SocketIOError):
            return None
        return ack if isinstance(ack, dict) else None

    def _in_session_attacks(self) -> None:
        cfg = self.ctx.config
        sio = self._client()
        channel = cfg.channel_names()[0]  # a name every workspace has

        def on_message(m: Any) -> None:
            if isinstance(m, dict):
                b = m.get("body")
                self._row(
                    Kind.RECV,
                    channel=m.get("channel"),
                    seq=m.get("seq"),
                    msg_id=m.get("id"),
                    client_msg_id=m.get("client_msg_id"),
                    sender=m.get("sender"),
                    body_hash=body_hash(b) if isinstance(b, str) else None,
                    sent_wall=m.get("ts"),
                )

        sio.on("message", on_message)
        try:
            sio.connect(
                self.url,
                auth={"token": self.ctx.token(self.workspace, self.user)},
                transports=[cfg.transport],
                wait_timeout=cfg.connect_timeout_s,
            )
        except socketio.exceptions.ConnectionError as exc:
            self._row(Kind.CONNECT_ERROR, error=str(exc)[:200])
            return
        self._row(Kind.CONNECT)
        try:
            self._session(sio, channel)
        finally:
            if sio.connected:
                sio.disconnect()
            self._row(Kind.DISCONNECT, error="client")
            self.node = None

    def _session(self, sio: socketio.Client, channel: str) -> None:
        self._row(Kind.JOIN, channel=channel)
        ack = self._call(sio, "join", {"channel": channel})
        if not ack or not ack.get("ok"):
            self._row(Kind.JOIN_FAIL, channel=channel, error=_code(ack))
            self._attempt("cross_tenant_join", _code(ack), channel=channel)
            return
        head = int(ack.get("head_seq") or 0)
        self.node = ack.get("node")
        self._row(Kind.JOIN_OK, channel=channel, seq=head)
        # the name exists in every workspace; the token's workspace decides which one it is
        self._attempt("cross_tenant_join", "scoped", channel=channel)
        # sender spoof: the server must stamp the token's subject
        cmid = str(uuid.uuid4())  # unique per run, not a seeded choice
        body = f"{time.time_ns()}|spoof"
        self._row(
            Kind.SEND_INVOKE,
            channel=channel,
            client_msg_id=cmid,
            body_hash=body_hash(body),
            attempt=1,
        )
        sent = self._call(
            sio, "send", {"channel": channel, "client_msg_id": cmid, "body": body, "sender": "u0"}
        )
        if sent and sent.get("ok"):
            self._row(
                Kind.SEND_OK,
                channel=channel,
                client_msg_id=cmid,
                seq=sent.get("seq"),
                msg_id=sent.get("id"),
                body_hash=body_hash(body),
                attempt=1,
            )
        else:
            self._row(
                Kind.SEND_INFO if sent is None else Kind.SEND_FAIL,
                channel=channel,
                client_msg_id=cmid,
                error=_code(sent),
                attempt=1,
            )
        # oversized body
        big = "x" * (_MAX_BODY + 1)
        ack2 = self._call(
            sio, "send", {"channel": channel, "client_msg_id": str(uuid.uuid4()), "body": big}
        )
        self._attempt(
            "oversized_body",
            "accepted" if ack2 and ack2.get("ok") else _code(ack2),
            channel=channel,
        )
        # catch up (records what the channel holds since the join, for sender and gap checks)
        spoof_sender: str | None = None
        after = head
        while True:
            got = self._call(sio, "sync", {"channel": channel, "after_seq": after})
            if not got or not got.get("ok"):
                break
            for m in got.get("messages") or []:
                b = m.get("body")
                kw = dict(
                    channel=channel,
                    seq=m.get("seq"),
                    msg_id=m.get("id"),
                    client_msg_id=m.get("client_msg_id"),
                    sender=m.get("sender"),
                    sent_wall=m.get("ts"),
                )
                self._row(
                    Kind.SYNC_OK, body_hash=body_hash(b) if isinstance(b, str) else None, **kw
                )
                self._row(Kind.DELIVER, **kw)
                after = max(after, int(m.get("seq") or 0))
                if m.get("client_msg_id") == cmid:
                    spoof_sender = m.get("sender")
            if not got.get("more"):
                break
        outcome = (
            "unknown"
            if spoof_sender is None
            else "ignored"
            if spoof_sender == self.user
            else "accepted"
        )
        self._attempt(
            "sender_spoof", outcome, channel=channel, client_msg_id=cmid, sender=spoof_sender
        )
        self._row(Kind.LEAVE, channel=channel)
        self._call(sio, "leave", {"channel": channel})


def _code(ack: dict[str, Any] | None) -> str:
    if ack is None:
        return "unknown"
    err = ack.get("error")
    return str(err.get("code")) if isinstance(err, dict) else "unknown"
