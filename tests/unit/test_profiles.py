"""Target profiles: every wrong profile is refused with its field and reason (one test per
message), the shipped ones load, and a profile's codec maps both ways."""

from __future__ import annotations

from typing import Any

import pytest

from pigeon_lab.errors import ConfigError
from pigeon_lab.protocol.codec import PIGEON
from pigeon_lab.protocol.profile import Profile
from pigeon_lab.protocol.profile_codec import ProfileCodec, codec_for
from pigeon_lab.protocol.profile_files import load_profile, profile_names
from pigeon_lab.scenario import scenario_from_text

LITE: dict[str, Any] = {
    "name": "chat-lite",
    "namespace": "/chat",
    "path": "rt",
    "auth": {"jwt": "{{ token }}", "client": "pigeon"},
    "capabilities": {"seqs": False, "history": False, "client_ids": True},
    "events": {"join": "enter", "send": "post", "leave": "exit", "message": "posted"},
    "payloads": {
        "join": {"room": "{{ channel }}"},
        "send": {"room": "{{ channel }}", "text": "{{ body }}", "nonce": "{{ client_msg_id }}"},
        "leave": {"room": "{{ channel }}"},
    },
    "acks": {
        "join": {"ok": "{{ ack.status == 'ok' }}", "error_code": "reason"},
        "send": {"ok": "{{ ack.status == 'ok' }}", "id": "data.id", "error_code": "reason"},
        "leave": {"ok": "{{ ack.status == 'ok' }}"},
    },
    "message": {"channel": "room", "id": "id", "client_msg_id": "nonce", "sender": "from",
                "body": "text", "ts": "at"},
}  # fmt: skip


def refused(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_profile(data)
    return err.value


def test_an_unknown_operation_is_refused() -> None:
    err = refused({"events": {"snd": "x"}})
    assert err.field == "events.snd" and "unknown operation 'snd'" in str(err)
    assert "did you mean 'send'" in str(err)
    assert refused({"payloads": {"publish": {}}}).field == "payloads.publish"
    assert refused({"acks": {"push": {}}}).field == "acks.push"


def test_an_unknown_ack_field_is_refused() -> None:
    err = refused({"acks": {"send": {"sek": "x"}}})
    assert err.field == "acks.send.sek" and "unknown send ack field 'sek'" in str(err)


def test_a_path_that_is_neither_path_nor_expression_is_refused() -> None:
    err = refused({"acks": {"send": {"seq": "data message"}}})
    assert err.field == "acks.send.seq" and "neither a dotted path" in str(err)


def test_a_template_that_does_not_compile_is_refused() -> None:
    err = refused({"payloads": {"send": {"text": "{{ body "}}})
    assert err.field == "payloads.send" and "does not compile" in str(err)
    assert refused({"message": {"body": "{{ msg.text }"}}).field == "message.body"


def test_a_bad_namespace_event_name_or_field_is_refused() -> None:
    assert refused({"namespace": "chat"}).field == "namespace"
    assert "not a usable event name" in str(refused({"events": {"send": "connect"}}))
    err = refused({"evnts": {}})
    assert err.field == "evnts" and "unknown field" in str(err)
    assert refused({"capabilities": {"sequences": False}}).field == "capabilities.sequences"


def test_a_missing_profile_file_lists_the_catalogue() -> None:
    with pytest.raises(ConfigError, match=r"no profile 'nosuch'.*node-socketio"):
        load_profile("nosuch")


def test_a_scenario_names_the_profile_field_and_the_profile_problem() -> None:
    with pytest.raises(ConfigError) as err:
        scenario_from_text(
            "target: {kind: external, url: 'http://h:1', token: {secret: s}, "
            "profile: {acks: {join: {bad: x}}}}"
        )
    assert err.value.field == "target.profile"
    assert "acks.join.bad: unknown join ack field" in str(err.value)


def test_the_shipped_profiles_load_and_are_the_identity() -> None:
    assert {"pigeon", "node-socketio"} <= set(profile_names())
    for name in ("pigeon", "node-socketio"):
        profile = load_profile(name)
        assert profile.is_identity and codec_for(profile) is PIGEON
    assert load_profile({"send": "post_message"}).event("send") == "post_message"


def test_a_profile_codec_encodes_and_decodes_the_targets_shapes() -> None:
    codec = ProfileCodec(Profile.model_validate(LITE))
    assert (codec.namespace, codec.socketio_path, codec.message_event) == ("/chat", "rt", "posted")
    assert codec.auth("T") == {"jwt": "T", "client": "pigeon"}
    assert codec.event("send") == "post" and codec.event("sync") == "sync"
    sent = codec.encode("send", {"channel": "c", "client_msg_id": "m1", "body": "hi"})
    assert sent == {"room": "c", "text": "hi", "nonce": "m1"}
    ack = codec.decode_send({"status": "ok", "data": {"id": 42}})
    assert ack.ok and ack.msg_id == "42" and ack.seq is None
    no = codec.decode_send({"status": "error", "reason": "too_large"})
    assert not no.ok and no.error is not None and no.error.code == "too_large"
    assert not codec.decode_send(None).ok
    push = codec.decode_push({"room": "c", "id": 7, "nonce": "m1", "from": "u1", "text": "hi"})
    assert push == {"channel": "c", "seq": None, "id": "7", "client_msg_id": "m1",
                    "sender": "u1", "body": "hi", "ts": None}  # fmt: skip
    assert codec.decode_push("junk") is None
