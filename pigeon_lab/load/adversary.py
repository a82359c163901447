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
can see every message it received and every message it sent. It speaks through the
load context's codec, like every user; its oversized body is one byte over the
target's ``max_body`` (``LoadConfig.max_body``).
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
from pigeon_lab.load.context import ContextSlot, LoadContext
from pigeon_lab.protocol.codec import (
    Message,
    Op,
    connect_options,
    join_payload,
    leave_payload,
    refusal_code,
    send_payload,
    sync_payload,
)
from pigeon_lab.tokens import mint_token

_ATTACK_EVERY_S = 10.0
_LINGER_S = 3.0  # connected after a leave: a push of the channel then is a receipt outside it


class AdversaryUser(User):
    """Tries forged, expired and missing tokens, cross-tenant names, sender spoofs, big bodies."""

    abstract = True
    slot: ContextSlot  # set by ``pigeon_lab.load.user.user_classes``

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.ctx: LoadContext = self.slot.get()
        self.codec = self.ctx.codec
        cfg = self.ctx.config
        i = self.ctx.next_index("adversary")
        self.user = f"adv{i}"
        self.workspace = cfg.workspace_names()[i % cfg.workload.workspaces]
        self.url = cfg.urls[i % len(cfg.urls)]
        self.rng = random.Random(cfg.seed * 31 + 1_000_003 + i)
        self.finished = True  # never holds the drain up
        self.node: str | None = None

    def _row(self, kind: Kind, **kw: Any) -> None:
        self.ctx.recorder.record(kind, self.user, self.user, self.workspace, self.node, **kw)

    def _attempt(self, attack: str, outcome: str, **kw: Any) -> None:
        self._row(Kind.ADVERSARIAL, detail=attack, error=outcome, **kw)

    def stop_now(self) -> None:
        """Nothing to wake: the attack loop polls ``ctx.stopping``."""

    def abandon(self) -> None:
        """Nothing to give up: every attempt is recorded when it ends."""

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

        sio.on("connect_error", on_error, namespace=self.codec.namespace)
        try:
            sio.connect(
                self.url,
                auth=auth,
                transports=[self.ctx.config.workload.transport],
                wait_timeout=self.ctx.config.connect_timeout_s,
                **connect_options(self.codec),
            )
        except socketio.exceptions.ConnectionError:
            self._attempt(attack, refusal[0] if refusal else "unknown")
            return
        self._attempt(attack, "accepted")
        sio.disconnect()

    def _token_attacks(self) -> None:
        wrong = "not-the-secret-" + uuid.uuid4().hex
        forged = self.ctx.mint(self.workspace, self.user, ttl_s=3600, secret=wrong) or mint_token(
            wrong, self.workspace, self.user
        )
        self._try_connect("forged_token", self.codec.auth(forged))
        expired = self.ctx.mint(self.workspace, self.user, ttl_s=-120)
        if expired:
            self._try_connect("expired_token", self.codec.auth(expired))
        self._try_connect("missing_token", None)
        self._try_connect("malformed_token", self.codec.auth("not.a.jwt"))

    def _call(self, sio: socketio.Client, op: Op, data: Message) -> Any:
        """Emit ``op`` through the codec and wait for its ack (raw); None on no answer."""
        timeout = self.ctx.config.workload.ack_timeout_ms / 1000
        try:
            return sio.call(
                self.codec.event(op),
                self.codec.encode(op, data),
                namespace=self.codec.namespace,
                timeout=timeout,
            )
        except (socketio.exceptions.TimeoutError, socketio.exceptions.SocketIOError):
            return None

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
                    msg_workspace=m.get("workspace"),
                    body_hash=body_hash(b) if isinstance(b, str) else None,
                    sent_wall=m.get("ts"),
                )

        def on_push(raw: Any) -> None:
            m = self.codec.decode_push(raw)
            if m is not None:
                on_message(m)

        sio.on(self.codec.message_event, on_push, namespace=self.codec.namespace)
        try:
            sio.connect(
                self.url,
                auth=self.codec.auth(self.ctx.token(self.workspace, self.user)),
                transports=[cfg.workload.transport],
                wait_timeout=cfg.connect_timeout_s,
                **connect_options(self.codec),
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
        codec = self.codec
        self._row(Kind.JOIN, channel=channel)
        raw = self._call(sio, "join", join_payload(channel))
        joined = codec.decode_join(raw)
        if raw is None or not joined.ok:
            code = _code(raw, joined.error)
            self._row(Kind.JOIN_FAIL, channel=channel, error=code)
            self._attempt("cross_tenant_join", code, channel=channel)
            return
        head = joined.head_seq
        self.node = joined.node
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
        raw = self._call(sio, "send", {**send_payload(channel, cmid, body), "sender": "u0"})
        sent = codec.decode_send(raw)
        if raw is not None and sent.ok:
            self._row(
                Kind.SEND_OK,
                channel=channel,
                client_msg_id=cmid,
                seq=sent.seq,
                msg_id=sent.msg_id,
                body_hash=body_hash(body),
                attempt=1,
            )
        else:
            self._row(
                Kind.SEND_INFO if raw is None else Kind.SEND_FAIL,
                channel=channel,
                client_msg_id=cmid,
                error=_code(raw, sent.error),
                attempt=1,
            )
        # oversized body: one byte over the target's limit
        big = "x" * (self.ctx.config.max_body + 1)
        raw2 = self._call(sio, "send", send_payload(channel, str(uuid.uuid4()), big))
        big_ack = codec.decode_send(raw2)
        self._attempt(
            "oversized_body",
            "accepted" if raw2 is not None and big_ack.ok else _code(raw2, big_ack.error),
            channel=channel,
        )
        # catch up (records what the channel holds since the join, for sender and gap checks)
        spoof_sender: str | None = None
        after = head
        for _ in range(1000):  # pages; a target that never advances cannot hold us forever
            got = codec.decode_sync(self._call(sio, "sync", sync_payload(channel, after)))
            if not got.ok:
                break
            before = after
            for m in got.messages:
                b = m.get("body")
                kw = dict(
                    channel=channel,
                    seq=m.get("seq"),
                    msg_id=m.get("id"),
                    client_msg_id=m.get("client_msg_id"),
                    sender=m.get("sender"),
                    msg_workspace=m.get("workspace"),
                    sent_wall=m.get("ts"),
                )
                self._row(
                    Kind.SYNC_OK, body_hash=body_hash(b) if isinstance(b, str) else None, **kw
                )
                self._row(Kind.DELIVER, **kw)
                seq = m.get("seq")
                after = max(after, seq if isinstance(seq, int) else 0)
                if m.get("client_msg_id") == cmid:
                    spoof_sender = m.get("sender")
            if not got.more or after <= before:
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
        # the leave row is recorded once the leave is acknowledged (interfaces.md)
        left = codec.decode_leave(self._call(sio, "leave", leave_payload(channel)))
        self._row(Kind.LEAVE, channel=channel, error=None if left.ok else _code(None, left.error))
        until = time.monotonic() + _LINGER_S  # stay: pushes must have stopped with the leave
        while left.ok and not self.ctx.stopping and time.monotonic() < until:
            gevent.sleep(0.1)


def _code(raw: Any, error: Any) -> str:
    """The refusal code of an ack (``unknown`` when there was no answer)."""
    if raw is None:
        return "unknown"
    code = getattr(error, "code", None)
    return str(code) if code else "unknown"
