"""The protocol codec decodes every ack and push shape without raising, and the client's
error table agrees with the reference backend's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon_lab.protocol import ERROR_CODES, PIGEON, SERVER_CODES, error_code
from pigeon_lab.protocol.codec import (
    JoinAck,
    SendAck,
    join_payload,
    refusal_code,
    send_payload,
    sync_payload,
)
from reference_backend.errors import DEFINITE


def test_the_client_error_table_matches_the_backends() -> None:
    assert set(SERVER_CODES) == set(DEFINITE)
    for code, definite in DEFINITE.items():
        assert ERROR_CODES[code].definite is definite, code
    client_only = {c for c, e in ERROR_CODES.items() if e.client_only}
    assert client_only == {"timeout", "disconnect", "stopped"}
    assert not error_code("never-heard-of").definite and error_code(None).retry


def test_canonical_payloads_are_protocol_md() -> None:
    assert join_payload("ch") == {"channel": "ch"}
    assert join_payload("ch", 3, 10) == {"channel": "ch", "after_seq": 3, "limit": 10}
    assert sync_payload("ch", 0) == {"channel": "ch", "after_seq": 0}
    assert send_payload("ch", "c1", "b") == {"channel": "ch", "client_msg_id": "c1", "body": "b"}
    assert PIGEON.encode("send", send_payload("ch", "c1", "b")) == send_payload("ch", "c1", "b")
    assert [PIGEON.event(op) for op in ("join", "leave", "send", "sync")] == [
        "join",
        "leave",
        "send",
        "sync",
    ]
    assert PIGEON.auth("t") == {"token": "t"}


def test_acks_decode_to_typed_values() -> None:
    ack = PIGEON.decode_send({"ok": True, "seq": 4, "id": "m", "ts": 9, "duplicate": True})
    assert ack == SendAck(True, None, 4, "m", 9, True)
    refused = PIGEON.decode_send({"ok": False, "error": {"code": "too_large", "message": "big"}})
    assert not refused.ok and refused.error is not None and refused.error.code == "too_large"
    join = PIGEON.decode_join(
        {"ok": True, "head_seq": 7, "messages": [{"seq": 1}, "junk"], "node": "node-1"}
    )
    assert join == JoinAck(True, None, 7, [{"seq": 1}], False, False, "node-1")
    assert PIGEON.decode_join({"ok": True, "head_seq": "7"}).head_seq == 0
    assert PIGEON.decode_sync({"ok": True}).head_seq is None
    assert PIGEON.decode_leave({"ok": True}).ok


@pytest.mark.parametrize("raw", [None, "x", 3, [], {"ok": "yes"}, {"error": "x"}])
def test_a_malformed_ack_is_a_refusal_never_an_exception(raw: Any) -> None:
    for decode in (PIGEON.decode_send, PIGEON.decode_join, PIGEON.decode_sync):
        ack = decode(raw)
        if isinstance(raw, dict) and raw.get("ok"):
            continue  # a truthy ok: accepted, with defaults for what is missing
        assert not ack.ok and ack.error is not None


@given(
    st.recursive(
        st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_decoding_never_raises(raw: Any) -> None:
    PIGEON.decode_send(raw)
    PIGEON.decode_join(raw)
    PIGEON.decode_sync(raw)
    PIGEON.decode_leave(raw)
    PIGEON.decode_push(raw)
    refusal_code(raw)


def test_refusal_codes_from_either_client_shape() -> None:
    assert refusal_code({"data": {"code": "expired"}}) == "expired"
    assert refusal_code({"code": "unauthorized", "message": "m"}) == "unauthorized"
    assert refusal_code("Connection refused") == "Connection refused"
